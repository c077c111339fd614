from hypothesis import given, settings
from hypothesis import strategies as st

from routing.neural.model_breaker import BreakerState, CircuitBreaker


def test_opens_after_threshold_consecutive_failures() -> None:
    b = CircuitBreaker(threshold=3, recovery_seconds=10)
    for t in range(2):
        b = b.record_failure(float(t))
        assert b.state(float(t)) is BreakerState.CLOSED
    b = b.record_failure(2.0)
    assert b.state(2.0) is BreakerState.OPEN
    assert not b.allows_request(11.9)
    assert b.state(12.0) is BreakerState.HALF_OPEN
    assert b.allows_request(12.0)


def test_success_resets_failure_count() -> None:
    b = CircuitBreaker(threshold=2).record_failure(0).record_success(1).record_failure(2)
    assert b.state(2) is BreakerState.CLOSED


def test_half_open_success_closes_and_failure_reopens() -> None:
    b = CircuitBreaker(threshold=1, recovery_seconds=5).record_failure(0)
    assert b.state(5) is BreakerState.HALF_OPEN
    assert b.record_success(5).state(5) is BreakerState.CLOSED
    reopened = b.record_failure(5)
    assert reopened.state(9) is BreakerState.OPEN
    assert reopened.state(10) is BreakerState.HALF_OPEN


@given(st.lists(st.booleans(), max_size=60), st.integers(1, 6))
@settings(max_examples=200, deadline=None)
def test_open_iff_threshold_consecutive_failures(outcomes: list[bool], threshold: int) -> None:
    b = CircuitBreaker(threshold=threshold, recovery_seconds=1e9)
    run = 0
    for ok in outcomes:
        if not b.allows_request(0.0):
            break
        b = b.record_success(0.0) if ok else b.record_failure(0.0)
        run = 0 if ok else run + 1
        assert (b.state(0.0) is BreakerState.OPEN) == (run >= threshold)
