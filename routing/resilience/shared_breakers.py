"""The breakers of the instances on the /v1 path, kept in shared state so every worker agrees.

Per request: `eligible` reads every candidate's breaker and health bit in one round trip (the
request's check of the generations, when they rode along with it, `generations.ride_along`) and keeps
those that would be permitted (and are not known unhealthy); `apermit` takes the breaker's
HALF_OPEN probe slot atomically for the one instance chosen (only when it is not CLOSED, so a
healthy fleet pays no extra round trip); `arecord` feeds each attempt's outcome back.
If every candidate's breaker refuses (OPEN, forced open, or HALF_OPEN with its probes taken), none
is tried: the breaker exists to keep requests away from a failing instance, and a fleet of workers
sending "just one" attempt each would be a flood (the pipeline answers the service's fallback, else
503 with Retry-After). If every candidate is unhealthy, all of them stay candidates (a probe that
cannot reach an instance's model list is weaker evidence than a real request).

Key: `breaker:{instance_id}` holds `breaker.encode`'s string (see docs/architecture.md).
Time: the breaker scripts take this process's wall clock (`clock`), the same clock `eligible`
compares against, so the read-side filter and the atomic transitions agree.
"""

import time
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings

from routerproject import generations
from routerproject.state import SharedState, get_state
from routing.snapshot import BreakerSpec, InstanceSpec

from . import breaker as pure
from . import scripts
from .breaker import Breaker, BreakerConfig, BreakerState

clock = time.time

UNHEALTHY = "unhealthy"
HEALTHY = "healthy"


def breaker_key(instance_id: str) -> str:
    return f"breaker:{instance_id}"


def health_key(instance_id: str) -> str:
    """`healthy`/`unhealthy`, written by the health probes; absent means not probed yet."""
    return f"health:{instance_id}"


def state_keys(instances: Sequence[InstanceSpec]) -> tuple[str, ...]:
    """What `eligible` reads of the candidates: every breaker, then every health bit."""
    ids = [i.instance_id for i in instances]
    return tuple([breaker_key(i) for i in ids] + [health_key(i) for i in ids])


def breaker_config(spec: BreakerSpec) -> BreakerConfig:
    return BreakerConfig(
        failure_threshold=spec.failure_threshold,
        recovery_timeout=spec.recovery_timeout_ms / 1000,
        success_threshold=spec.success_threshold,
        max_probes=settings.GATEWAY_BREAKER_HALF_OPEN_PROBES,
    )


async def eligible(
    instances: Sequence[InstanceSpec], state: SharedState
) -> tuple[tuple[InstanceSpec, ...], dict[str, Breaker], float]:
    """The candidates worth an attempt, the breakers read on the way (by instance id), and, when
    every breaker refused (no candidate returned), the seconds until the first may permit again."""
    if not instances:
        return (), {}, 0.0
    ids = [i.instance_id for i in instances]
    keys = state_keys(instances)
    # Read with the request's check of the generations when the pipeline let them ride along.
    values = generations.ridden(keys)
    if values is None:
        values = await state.aget_many(keys)
    breakers = {i: pure.decode(raw) for i, raw in zip(ids, values[: len(ids)], strict=True)}
    healthy = [
        instance
        for instance, health in zip(instances, values[len(ids) :], strict=True)
        if health != UNHEALTHY
    ] or list(instances)
    now = clock()
    permitted = tuple(
        instance
        for instance in healthy
        if not instance.breaker.enabled
        or pure.would_permit(breakers[instance.instance_id], now, breaker_config(instance.breaker))
    )
    if permitted:
        return permitted, breakers, 0.0
    wait = min(
        pure.seconds_until_permitted(
            breakers[instance.instance_id], now, breaker_config(instance.breaker)
        )
        for instance in healthy
    )
    return (), breakers, wait


async def apermit(instance: InstanceSpec, known: Breaker | None, state: SharedState) -> bool:
    """Take the attempt's permission atomically (a HALF_OPEN probe slot is counted). A breaker read
    CLOSED a moment ago permits without another round trip."""
    if not instance.breaker.enabled or known is None or known.state == BreakerState.CLOSED:
        return True
    result = await state.arun_script(
        scripts.BREAKER_PERMIT,
        [breaker_key(instance.instance_id)],
        scripts.breaker_args(breaker_config(instance.breaker)),
        clock(),
    )
    return result[0] == "1"


async def arecord(instance: InstanceSpec, success: bool, state: SharedState) -> None:
    if not instance.breaker.enabled:
        return
    await state.arun_script(
        scripts.BREAKER_RECORD,
        [breaker_key(instance.instance_id)],
        scripts.breaker_args(breaker_config(instance.breaker), "1" if success else "0"),
        clock(),
    )


def _entry(instance_id: str, service_type: str, current: Breaker) -> dict[str, Any]:
    return {
        "instanceId": instance_id,
        "serviceType": service_type,
        "state": current.state.value,
        "forced": current.forced,
        "consecutiveFailures": current.failures,
        "failureCount": current.failure_count,
        "successCount": current.success_count,
        "requestCount": current.requests,
        "failureRate": round(current.failure_count / current.requests, 4)
        if current.requests
        else 0.0,
        "lastFailureAt": current.last_failure_at or None,
        "stateChangedAt": current.changed_at or None,
    }


def breaker_stats(
    instance_ids: Iterable[str], *, service_types: dict[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """Per instance id: its breaker as the monitoring API shows it (camelCase; times are Unix
    seconds or null). Instances never seen by the data plane are CLOSED with zero counts."""
    ids = list(instance_ids)
    values = get_state().get_many([breaker_key(i) for i in ids])
    types = service_types or {}
    return {
        instance_id: _entry(instance_id, types.get(instance_id, ""), pure.decode(raw))
        for instance_id, raw in zip(ids, values, strict=True)
    }


def force_breakers(instance_ids: Iterable[str], *, open_: bool) -> None:
    """Force breakers open (they stay open until forced closed) or closed (reset), for every
    worker at once."""
    state = get_state()
    # The thresholds do not matter for forcing; only the TTL and the clock are used.
    config = BreakerConfig(1, 1.0, 1, 1)
    for instance_id in instance_ids:
        state.run_script(
            scripts.BREAKER_FORCE,
            [breaker_key(instance_id)],
            scripts.breaker_args(config, "1" if open_ else "0"),
            clock(),
        )
