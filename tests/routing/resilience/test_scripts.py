"""The atomic scripts decide exactly as the pure functions, on both shared-state backends."""

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routerproject.state import RedisState
from routing.resilience import breaker, limiters, scripts
from routing.resilience.limiters import LimiterConfig


def run_limiter(state, key: str, config: LimiterConfig, now: float) -> limiters.Decision:
    result = state.run_script(
        scripts.LIMITER_SCRIPTS[config.algorithm],
        scripts.limiter_keys(config, key),
        scripts.limiter_args(config),
        now,
    )
    return scripts.decision_of(result, config.capacity)


configs = st.builds(
    LimiterConfig,
    algorithm=st.sampled_from([str(a) for a in limiters.ALGORITHMS]),
    capacity=st.integers(1, 8),
    refill_rate=st.floats(0.1, 20),
    window_seconds=st.floats(0.05, 5),
    warmup_seconds=st.floats(0.05, 5),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(configs, st.lists(st.floats(0, 1), min_size=1, max_size=40))
def test_limiter_scripts_decide_as_the_pure_functions(state, config, gaps):
    key = f"rl:{uuid.uuid4().hex}"
    pure_state, now = None, 1_700_000_000.0
    for gap in gaps:
        now += gap
        expected, pure_state = limiters.check(pure_state, now, config)
        got = run_limiter(state, key, config, now)
        assert got.allowed == expected.allowed
        assert got.remaining == expected.remaining
        assert got.retry_after == pytest.approx(expected.retry_after, abs=1e-6)
        assert got.reset_after == pytest.approx(expected.reset_after, abs=1e-6)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.sampled_from(["permit", "ok", "fail", "open", "close"]), st.floats(0, 4)),
        max_size=40,
    )
)
def test_breaker_scripts_transition_as_the_pure_functions(state, schedule):
    config = breaker.BreakerConfig(2, 3.0, 2, 1)
    key = f"breaker:{uuid.uuid4().hex}"
    pure, now = breaker.Breaker(), 1_700_000_000.0
    for event, gap in schedule:
        now += gap
        if event == "permit":
            allowed, pure = breaker.permit(pure, now, config)
            result = state.run_script(
                scripts.BREAKER_PERMIT, [key], scripts.breaker_args(config), now
            )
            assert (result[0] == "1") == allowed
            encoded = result[1]
        elif event in ("ok", "fail"):
            pure = breaker.record(pure, now, config, event == "ok")
            args = scripts.breaker_args(config, "1" if event == "ok" else "0")
            encoded = state.run_script(scripts.BREAKER_RECORD, [key], args, now)[0]
        else:
            pure = breaker.force(pure, now, event == "open")
            args = scripts.breaker_args(config, "1" if event == "open" else "0")
            encoded = state.run_script(scripts.BREAKER_FORCE, [key], args, now)[0]
        assert breaker.decode(encoded) == pure
        assert breaker.decode(state.get(key)) == pure or (
            state.get(key) is None and pure == breaker.Breaker()
        )


def test_redis_scripts_use_the_server_clock_when_no_time_is_given(redis_server_url):
    state = RedisState(redis_server_url, prefix=f"test-scripts:{uuid.uuid4().hex}:")
    config = LimiterConfig("token_bucket", capacity=2, refill_rate=0.001)
    try:
        decisions = [run_limiter(state, "rl:clock", config, None).allowed for _ in range(3)]
        assert decisions == [True, True, False]
    finally:
        state.clear()
