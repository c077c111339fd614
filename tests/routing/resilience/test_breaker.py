"""The breaker's state machine as pure functions, with time driven by the test."""

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.resilience import breaker
from routing.resilience.breaker import Breaker, BreakerConfig, BreakerState

CONFIG = BreakerConfig(
    failure_threshold=3, recovery_timeout=10.0, success_threshold=2, max_probes=1
)


def fail(b: Breaker, now: float, times: int = 1) -> Breaker:
    for _ in range(times):
        b = breaker.record(b, now, CONFIG, success=False)
    return b


def test_it_opens_after_the_threshold_of_consecutive_failures_only():
    b = fail(Breaker(), 0.0, 2)
    b = breaker.record(b, 0.0, CONFIG, success=True)  # a success resets the streak
    b = fail(b, 1.0, 2)
    assert b.state == BreakerState.CLOSED
    b = fail(b, 2.0)
    assert b.state == BreakerState.OPEN
    assert breaker.permit(b, 11.9, CONFIG)[0] is False


def test_it_half_opens_after_the_recovery_timeout_with_a_bounded_number_of_probes():
    b = fail(Breaker(), 0.0, 3)
    allowed, b = breaker.permit(b, 10.0, CONFIG)
    assert allowed and b.state == BreakerState.HALF_OPEN
    assert breaker.permit(b, 10.5, CONFIG)[0] is False  # one probe at a time
    b = breaker.record(b, 11.0, CONFIG, success=True)
    assert b.state == BreakerState.HALF_OPEN
    allowed, b = breaker.permit(b, 11.0, CONFIG)
    assert allowed
    b = breaker.record(b, 11.5, CONFIG, success=True)
    assert b.state == BreakerState.CLOSED and b.failures == 0


def test_a_failed_probe_opens_it_again_for_a_full_recovery_timeout():
    b = fail(Breaker(), 0.0, 3)
    _, b = breaker.permit(b, 10.0, CONFIG)
    b = fail(b, 12.0)
    assert b.state == BreakerState.OPEN
    assert breaker.permit(b, 21.0, CONFIG)[0] is False
    assert breaker.permit(b, 22.0, CONFIG)[0] is True


def test_a_probe_that_never_reports_back_frees_its_slot_after_the_recovery_timeout():
    b = fail(Breaker(), 0.0, 3)
    _, b = breaker.permit(b, 10.0, CONFIG)
    assert breaker.permit(b, 15.0, CONFIG)[0] is False
    assert breaker.permit(b, 20.0, CONFIG)[0] is True


def test_forced_open_stays_open_until_forced_closed():
    b = breaker.force(Breaker(), 0.0, True)
    assert b.state == BreakerState.OPEN
    assert breaker.permit(b, 1e6, CONFIG)[0] is False
    b = breaker.record(b, 5.0, CONFIG, success=True)
    assert b.state == BreakerState.OPEN
    b = breaker.force(b, 6.0, False)
    assert b.state == BreakerState.CLOSED and not b.forced
    assert breaker.permit(b, 6.0, CONFIG)[0] is True


events = st.lists(
    st.tuples(st.sampled_from(["permit", "ok", "fail"]), st.floats(0, 6)), max_size=80
)


@settings(max_examples=300, deadline=None)
@given(events, st.integers(1, 3))
def test_half_open_probes_in_flight_never_exceed_the_bound(schedule, max_probes):
    config = BreakerConfig(2, 5.0, 2, max_probes)
    b, now = Breaker(), 0.0
    in_flight = 0
    for event, gap in schedule:
        now += gap
        if event == "permit":
            allowed, b = breaker.permit(b, now, config)
            if allowed and b.state == BreakerState.HALF_OPEN:
                in_flight += 1
        else:
            b = breaker.record(b, now, config, success=event == "ok")
            in_flight = max(0, in_flight - 1)
        assert 0 <= b.probes <= max_probes
        assert b.requests == b.failure_count + b.success_count
        assert breaker.decode(breaker.encode(b)) == b
        if b.state == BreakerState.CLOSED:
            assert b.failures < config.failure_threshold


def test_a_refused_client_is_told_how_long_until_the_breaker_may_permit():
    b = fail(Breaker(), 100.0, 3)
    assert breaker.seconds_until_permitted(b, 104.0, CONFIG) == 6.0
    assert breaker.seconds_until_permitted(b, 120.0, CONFIG) == 0.0
    _, probing = breaker.permit(b, 120.0, CONFIG)
    assert breaker.seconds_until_permitted(probing, 120.5, CONFIG) == 0.0  # a probe reports soon
    forced = breaker.force(Breaker(), 100.0, True)
    assert breaker.seconds_until_permitted(forced, 1e6, CONFIG) == CONFIG.recovery_timeout
