"""Circuit breaker around model inference, as an immutable state machine.

closed --(threshold consecutive failures)--> open --(recovery time elapses)--> half-open
half-open --success--> closed;  half-open --failure--> open (timer restarts).
While open, the router skips the model and sends everything to the powerful tier.
Every transition takes the current time, so behaviour is fully determined by its inputs.
Its states are the instance breakers' (`routing.resilience.breaker.BreakerState`), one vocabulary;
the operations API spells them as the seed does (closed, open, half_open).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from routing.resilience.breaker import BreakerState

__all__ = ["BreakerState", "CircuitBreaker", "tripped"]


@dataclass(frozen=True, slots=True)
class CircuitBreaker:
    threshold: int = 5
    recovery_seconds: float = 30.0
    consecutive_failures: int = 0
    opened_at: float | None = None

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError(f"threshold must be >= 1, got {self.threshold}")
        if self.recovery_seconds < 0:
            raise ValueError(f"recovery_seconds must be >= 0, got {self.recovery_seconds}")

    def state(self, now: float) -> BreakerState:
        if self.opened_at is None:
            return BreakerState.CLOSED
        if now - self.opened_at >= self.recovery_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allows_request(self, now: float) -> bool:
        return self.state(now) is not BreakerState.OPEN

    def record_success(self, now: float) -> CircuitBreaker:
        if self.consecutive_failures == 0 and self.opened_at is None:
            return self
        return dataclasses.replace(self, consecutive_failures=0, opened_at=None)

    def record_failure(self, now: float) -> CircuitBreaker:
        failures = self.consecutive_failures + 1
        # A failed half-open trial re-opens at once; otherwise open on reaching threshold.
        opens = self.opened_at is not None or failures >= self.threshold
        return dataclasses.replace(
            self, consecutive_failures=failures, opened_at=now if opens else None
        )


def tripped(before: CircuitBreaker | None, after: CircuitBreaker | None) -> bool:
    """Whether going from `before` to `after` opened the breaker (a trip, or a failed half-open
    trial re-opening it)."""
    if after is None or after.opened_at is None:
        return False
    return before is None or before.opened_at != after.opened_at
