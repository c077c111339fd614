"""Per-instance circuit breakers as the monitoring system reads them: the ONE place it does.

The breakers live in shared state (`breaker:{instance_id}`, see routing.resilience); the collector
of `/metrics` and `/api/monitoring/overview` read them only through `instance_breakers()`.
"""

from typing import Any

from routing.resilience.breakers import breaker_stats

STATE_VALUES = {"CLOSED": 0, "OPEN": 1, "HALF_OPEN": 2}


def instance_breakers(instance_ids: list[str]) -> dict[str, dict[str, Any]]:
    """instance id -> {state: CLOSED|OPEN|HALF_OPEN, failureCount, successCount, requestCount,
    failureRate, ...}; instances never used are CLOSED with zero counts."""
    return breaker_stats(instance_ids)


def summary(breakers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The overview's `circuitBreakerStats`: the worst state, and failures over requests."""
    states = {b["state"] for b in breakers.values()}
    state = next((s for s in ("OPEN", "HALF_OPEN") if s in states), "CLOSED")
    requests = sum(b["requestCount"] for b in breakers.values())
    failures = sum(b["failureCount"] for b in breakers.values())
    return {
        "state": state,
        "failureRate": round(failures / requests, 4) if requests else 0.0,
        "openInstances": sum(1 for b in breakers.values() if b["state"] == "OPEN"),
        "instances": len(breakers),
    }
