"""The circuit breaker of one instance as pure functions over an immutable state.

CLOSED --failure_threshold consecutive failures--> OPEN --recovery_timeout--> HALF_OPEN
HALF_OPEN --success_threshold successes--> CLOSED;  HALF_OPEN --one failure--> OPEN.
In HALF_OPEN at most `max_probes` requests are in flight at once; a probe slot whose outcome never
came back (its worker died) is given back after `recovery_timeout`.
An operator may force a breaker open (it stays open until forced closed) or closed (reset).

`permit(state, now, config) -> (allowed, state)` before an attempt, `record(state, now, config,
success) -> state` after it. The state serialises to one string (`encode`/`decode`), the format
of the `breaker:{instance_id}` key in shared state, which `lua.py`'s scripts parse the same way.
"""

import functools
from dataclasses import dataclass, replace
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    failure_threshold: int
    recovery_timeout: float  # seconds
    success_threshold: int
    max_probes: int = 1


@dataclass(frozen=True, slots=True)
class Breaker:
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0  # consecutive failures (CLOSED)
    successes: int = 0  # successes in HALF_OPEN
    probes: int = 0  # HALF_OPEN attempts in flight
    changed_at: float = 0.0  # when it entered its state (or, in HALF_OPEN, the last probe began)
    last_failure_at: float = 0.0
    forced: bool = False  # forced open by an operator: no recovery until forced closed
    requests: int = 0  # outcomes recorded, for monitoring
    failure_count: int = 0
    success_count: int = 0


FIELDS = 10


def encode(breaker: Breaker) -> str:
    """`STATE|failures|successes|probes|changed_at|last_failure_at|forced|requests|failure_count|
    success_count`: ten fields separated by `|`, times as decimal seconds."""
    return "|".join(
        (
            breaker.state.value,
            str(breaker.failures),
            str(breaker.successes),
            str(breaker.probes),
            repr(float(breaker.changed_at)),
            repr(float(breaker.last_failure_at)),
            "1" if breaker.forced else "0",
            str(breaker.requests),
            str(breaker.failure_count),
            str(breaker.success_count),
        )
    )


@functools.lru_cache(maxsize=1024)
def decode(raw: str | None) -> Breaker:
    """The breaker a stored value encodes (cached: every request reads its candidates' breakers,
    and a breaker's value changes only when its state does; `Breaker` is immutable)."""
    if not raw:
        return Breaker()
    parts = raw.split("|")
    if len(parts) != FIELDS:
        return Breaker()
    return Breaker(
        state=BreakerState(parts[0]),
        failures=int(parts[1]),
        successes=int(parts[2]),
        probes=int(parts[3]),
        changed_at=float(parts[4]),
        last_failure_at=float(parts[5]),
        forced=parts[6] == "1",
        requests=int(parts[7]),
        failure_count=int(parts[8]),
        success_count=int(parts[9]),
    )


def _open(breaker: Breaker, now: float) -> Breaker:
    return replace(
        breaker, state=BreakerState.OPEN, failures=0, successes=0, probes=0, changed_at=now
    )


def _close(breaker: Breaker, now: float) -> Breaker:
    return replace(
        breaker,
        state=BreakerState.CLOSED,
        failures=0,
        successes=0,
        probes=0,
        changed_at=now,
        forced=False,
    )


def would_permit(breaker: Breaker, now: float, config: BreakerConfig) -> bool:
    """The read-only answer (no probe slot taken): for filtering candidates cheaply."""
    if breaker.state == BreakerState.CLOSED:
        return True
    if breaker.state == BreakerState.OPEN:
        return not breaker.forced and now - breaker.changed_at >= config.recovery_timeout
    return breaker.probes < config.max_probes or now - breaker.changed_at >= config.recovery_timeout


def seconds_until_permitted(breaker: Breaker, now: float, config: BreakerConfig) -> float:
    """How long a client refused by this breaker should wait (its Retry-After): the rest of the
    recovery timeout when OPEN, the whole timeout when forced open (only an operator can close
    it), 0 when it permits now or waits for a HALF_OPEN probe, which reports back any moment."""
    if breaker.state != BreakerState.OPEN:
        return 0.0
    if breaker.forced:
        return config.recovery_timeout
    return max(0.0, breaker.changed_at + config.recovery_timeout - now)


def permit(breaker: Breaker, now: float, config: BreakerConfig) -> tuple[bool, Breaker]:
    if breaker.state == BreakerState.CLOSED:
        return True, breaker
    if breaker.state == BreakerState.OPEN:
        if breaker.forced or now - breaker.changed_at < config.recovery_timeout:
            return False, breaker
        return True, replace(
            breaker, state=BreakerState.HALF_OPEN, successes=0, probes=1, changed_at=now
        )
    probes = breaker.probes
    if probes >= config.max_probes and now - breaker.changed_at >= config.recovery_timeout:
        probes = 0  # the probes in flight never reported back: their slots are stale
    if probes >= config.max_probes:
        return False, breaker
    return True, replace(breaker, probes=probes + 1, changed_at=now)


def record(breaker: Breaker, now: float, config: BreakerConfig, success: bool) -> Breaker:
    counted = replace(
        breaker,
        requests=breaker.requests + 1,
        success_count=breaker.success_count + (1 if success else 0),
        failure_count=breaker.failure_count + (0 if success else 1),
        last_failure_at=breaker.last_failure_at if success else now,
    )
    if counted.forced:
        return counted
    if counted.state == BreakerState.CLOSED:
        if success:
            return replace(counted, failures=0)
        if counted.failures + 1 >= config.failure_threshold:
            return _open(counted, now)
        return replace(counted, failures=counted.failures + 1)
    if not success:
        # HALF_OPEN: the probe failed. OPEN: an attempt admitted before the breaker opened
        # failed late: either way the recovery timeout starts again.
        return _open(counted, now)
    successes = counted.successes + 1
    if successes >= config.success_threshold:
        return _close(counted, now)
    return replace(
        counted,
        state=BreakerState.HALF_OPEN,
        successes=successes,
        probes=max(0, counted.probes - 1),
        changed_at=counted.changed_at if counted.state == BreakerState.HALF_OPEN else now,
    )


def force(breaker: Breaker, now: float, open_: bool) -> Breaker:
    if open_:
        return replace(_open(breaker, now), forced=True)
    return _close(breaker, now)
