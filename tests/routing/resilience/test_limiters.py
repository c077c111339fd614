"""The four limiter algorithms as pure functions, driven over arbitrary arrival schedules."""

import math

from hypothesis import example, given, settings
from hypothesis import strategies as st

from routing.resilience import limiters
from routing.resilience.limiters import LimiterConfig

BUCKETS = ("token_bucket", "leaky_bucket", "warm_up")

configs = st.builds(
    LimiterConfig,
    algorithm=st.sampled_from([str(a) for a in limiters.ALGORITHMS]),
    capacity=st.integers(1, 20),
    refill_rate=st.floats(0.01, 50),
    window_seconds=st.floats(0.01, 10),
    warmup_seconds=st.floats(0.01, 10),
)
# Gaps between arrivals, in units of the limiter's own time scale (one refill, or one window):
# bursts at one instant as well as arrivals just before and just after a token comes back.
schedules = st.lists(
    st.one_of(st.just(0.0), st.floats(0, 1.5), st.sampled_from([0.5, 0.999, 1.0, 1.001])),
    min_size=1,
    max_size=150,
)


def unit(config: LimiterConfig) -> float:
    if config.algorithm == "sliding_window":
        return config.window_seconds / config.capacity
    return 1.0 / config.refill_rate


def admissions(config: LimiterConfig, gaps: list[float]) -> list[float]:
    state, now, admitted = None, 1000.0, []
    for gap in gaps:
        now += gap * unit(config)
        decision, state = limiters.check(state, now, config)
        if decision.allowed:
            admitted.append(now)
    return admitted


@settings(max_examples=500, deadline=None)
@given(configs, schedules)
def test_it_never_admits_more_than_the_configuration_allows(config, gaps):
    admitted = admissions(config, gaps)
    if config.algorithm == "sliding_window":
        # Exact: at most `capacity` in any window ending at t, an earlier s being inside while
        # s + W > t (the limiter's own expression: t - W rounds differently in floating point).
        for i, t in enumerate(admitted):
            inside = sum(1 for s in admitted[: i + 1] if s + config.window_seconds > t)
            assert inside <= config.capacity
    else:
        # At most capacity + rate x T over any interval of length T.
        for i in range(len(admitted)):
            for j in range(i, len(admitted)):
                span = admitted[j] - admitted[i]
                allowed = config.capacity + config.refill_rate * span
                assert j - i + 1 <= math.floor(allowed + 1e-9)


@example(
    config=LimiterConfig("sliding_window", 1, 1.0, 0.21053241176270462, 1.0), gaps=[0.5, 1.0]
)  # a refusal once said "retry in 0 s": expiry and retry-after rounded differently
@settings(max_examples=200, deadline=None)
@given(configs, schedules)
def test_decisions_are_consistent(config, gaps):
    state, now = None, 0.0
    for gap in gaps:
        now += gap * unit(config)
        decision, state = limiters.check(state, now, config)
        assert 0 <= decision.remaining <= config.capacity
        assert decision.limit == config.capacity
        assert decision.reset_after >= 0
        if decision.allowed:
            assert decision.retry_after == 0
        else:
            assert decision.retry_after > 0


@settings(max_examples=200, deadline=None)
@given(configs)
def test_a_refused_request_is_admitted_once_retry_after_has_passed(config):
    state, now = None, 0.0
    decision = None
    for _ in range(config.capacity + 1):
        decision, state = limiters.check(state, now, config)
    assert decision is not None
    if not decision.allowed:
        later, _ = limiters.check(state, now + decision.retry_after + 1e-6, config)
        assert later.allowed


def test_a_fresh_bucket_admits_a_burst_of_its_capacity_then_refuses():
    for algorithm in ("token_bucket", "leaky_bucket", "sliding_window"):
        config = LimiterConfig(algorithm, capacity=5, refill_rate=1.0, window_seconds=1.0)
        gaps = [0.0] * 8
        assert len(admissions(config, gaps)) == 5, algorithm


def test_warm_up_starts_with_a_burst_of_one_and_reaches_full_capacity():
    config = LimiterConfig("warm_up", capacity=10, refill_rate=10.0, warmup_seconds=5.0)
    cold = admissions(config, [0.0] * 10)
    assert len(cold) == 1
    # Steady traffic for the ramp, then an idle second: a full burst is available.
    state, now = None, 0.0
    for _ in range(60):
        now += 0.1
        _, state = limiters.check(state, now, config)
    now += 1.0
    burst = 0
    for _ in range(15):
        decision, state = limiters.check(state, now, config)
        burst += decision.allowed
    assert burst == 10


def test_warm_up_goes_cold_again_after_an_idle_period():
    config = LimiterConfig("warm_up", capacity=10, refill_rate=10.0, warmup_seconds=2.0)
    state, now = None, 0.0
    for _ in range(40):
        now += 0.1
        _, state = limiters.check(state, now, config)
    now += 3.0  # idle longer than the ramp
    burst = 0
    for _ in range(10):
        decision, state = limiters.check(state, now, config)
        burst += decision.allowed
    assert burst == 1


def test_sliding_window_retry_after_points_at_the_oldest_admission():
    config = LimiterConfig("sliding_window", capacity=2, refill_rate=1.0, window_seconds=10.0)
    state = None
    _, state = limiters.check(state, 0.0, config)
    _, state = limiters.check(state, 4.0, config)
    refused, _ = limiters.check(state, 5.0, config)
    assert not refused.allowed
    assert refused.retry_after == 5.0
    assert refused.reset_after == 9.0
