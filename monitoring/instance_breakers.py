"""Per-instance circuit breakers as the monitoring system reads them: the ONE place it does.

The app that owns the breakers registers how to read them (`read_breakers_with`, from its
`ready()`); the collector of `/metrics` and `/api/monitoring/overview` read them only through
`instance_breakers()`.
"""

from collections.abc import Callable
from typing import Any

STATE_VALUES = {"CLOSED": 0, "OPEN": 1, "HALF_OPEN": 2}

BreakerReader = Callable[[list[str]], dict[str, dict[str, Any]]]


def _no_breakers(instance_ids: list[str]) -> dict[str, dict[str, Any]]:
    return {}


_reader: BreakerReader = _no_breakers


def read_breakers_with(reader: BreakerReader) -> None:
    global _reader
    _reader = reader


def instance_breakers(instance_ids: list[str]) -> dict[str, dict[str, Any]]:
    """instance id -> {state: CLOSED|OPEN|HALF_OPEN, failureCount, successCount, requestCount,
    failureRate, ...}; instances never used are CLOSED with zero counts."""
    return _reader(instance_ids)


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
