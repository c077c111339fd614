"""The last hour of traffic: one compact sample of the fleet's totals a minute, in shared state.

Prometheus keeps history for those who run one; the dashboard's overview must show the last hour
without it. Every serving process tallies what it answers and hands its counts to shared state every
few seconds (`monitoring.traffic`); `record_traffic_sample` (a beat job, every
`MONITORING_HISTORY_INTERVAL_SECONDS`, in whichever process or host runs it) drains those counts into
the previous sample's totals and appends the result to a capped list. Rates and percentiles are
differences between consecutive samples, computed when read, so a sample is only counters:

    {"t": unix seconds, "requests": n, "errors": n, "lightweight": n, "powerful": n,
     "latency": [cumulative count per bucket of the /v1 request duration, +Inf last]}

Errors are /v1 answers with a 5xx status: upstream failures relayed and the gateway's own errors
(no instance available, upstream unreachable or timed out: 502, 503, 504). Totals only grow (a
restarted worker adds its new counts); a sample whose counters went down, written by an older
version, is taken as a reset to zero, as Prometheus's `rate()` does.
"""

import json
import time
from itertools import pairwise
from typing import Any

from routerproject.state import get_state

from .exposition import bucket_quantile
from .metrics import TRAFFIC
from .traffic import COUNTERS, PENDING_KEY, add_counts

HISTORY_KEY = "monitoring:traffic"
# An hour of one-minute intervals needs 61 samples.
HISTORY_SAMPLES = 61
LATENCY_BOUNDS: tuple[float, ...] = TRAFFIC.bounds
QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
# Entries drained per run at most: 12 a minute per worker at one flush every 5 s.
_DRAIN_LIMIT = 100_000
# Held while a run reads the latest totals, drains and appends: two runs at once (a backlog of the
# beat job taken by two worker processes) would each add part of the counts to the same totals,
# and the later sample would look like a reset. The TTL frees it if the run's process dies.
_RUN_LOCK_KEY = "monitoring:traffic:run"
_RUN_LOCK_SECONDS = 60.0


def _zero_totals() -> dict[str, Any]:
    return {**dict.fromkeys(COUNTERS, 0), "latency": [0] * len(LATENCY_BOUNDS)}


def traffic_sample_record(*, now: float | None = None) -> dict[str, Any] | None:
    """Drain the counts the fleet has handed over into the latest totals, append them to the
    history and cap it (the beat job's work). One run at a time across the fleet: a run that
    finds another under way adds nothing and returns None (the running one takes its counts).
    Sample times strictly increase, so every interval between two samples has a length."""
    state = get_state()
    if state.incr(_RUN_LOCK_KEY, 1, ttl_seconds=_RUN_LOCK_SECONDS) != 1:
        return None
    try:
        TRAFFIC.flush(state)  # this process's own counts (the embedded default serves here)
        totals = _zero_totals()
        t = round(time.time() if now is None else now, 3)
        for previous in traffic_samples(1):
            for name in COUNTERS:
                totals[name] = int(previous.get(name, 0))
            if len(previous.get("latency") or []) == len(LATENCY_BOUNDS):
                totals["latency"] = [int(n) for n in previous["latency"]]
            if isinstance(previous.get("t"), int | float) and previous["t"] >= t:
                t = round(previous["t"] + 0.001, 3)
        for raw in state.list_drain(PENDING_KEY, _DRAIN_LIMIT):
            try:
                add_counts(totals, json.loads(raw))
            except (ValueError, TypeError, AttributeError):
                continue
        sample = {"t": t, **totals}
        state.list_push(HISTORY_KEY, json.dumps(sample, separators=(",", ":")))
        state.list_trim(HISTORY_KEY, HISTORY_SAMPLES)
        return sample
    finally:
        state.delete(_RUN_LOCK_KEY)


def traffic_samples(count: int = HISTORY_SAMPLES) -> list[dict[str, Any]]:
    """The stored samples, oldest first (unreadable entries skipped)."""
    samples = []
    for raw in get_state().list_range(HISTORY_KEY, count):
        try:
            samples.append(json.loads(raw))
        except ValueError:
            continue
    return samples


def _delta(after: float, before: float) -> float:
    return after - before if after >= before else after


def traffic_point(before: dict, after: dict) -> dict[str, Any]:
    """The interval between two samples: per-minute rates, error ratio, latency percentiles
    (seconds, None without observations) and the router's decisions."""
    minutes = max(after["t"] - before["t"], 1e-9) / 60
    requests = _delta(after["requests"], before["requests"])
    errors = _delta(after["errors"], before["errors"])
    point: dict[str, Any] = {
        "t": after["t"],
        "seconds": round(after["t"] - before["t"], 3),
        "requests": int(requests),
        "errors": int(errors),
        "requestRate": round(requests / minutes, 3),
        "errorRate": round(errors / minutes, 3),
        "errorRatio": round(errors / requests, 4) if requests else 0.0,
        "lightweight": int(_delta(after["lightweight"], before["lightweight"])),
        "powerful": int(_delta(after["powerful"], before["powerful"])),
    }
    old, new = before.get("latency") or [], after.get("latency") or []
    buckets: list[tuple[float, float]] = []
    if len(old) == len(new) == len(LATENCY_BOUNDS):
        reset = any(n < o for n, o in zip(new, old, strict=True))
        buckets = [
            (bound, float(n if reset else n - o))
            for bound, n, o in zip(LATENCY_BOUNDS, new, old, strict=True)
        ]
    for name, q in QUANTILES.items():
        value = bucket_quantile(q, buckets)
        point[name] = round(value, 6) if value is not None else None
    return point


def traffic_series(samples: list[dict]) -> list[dict[str, Any]]:
    """One point per pair of consecutive samples, oldest first."""
    return [traffic_point(a, b) for a, b in pairwise(samples)]
