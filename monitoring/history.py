"""The last hour of traffic: one compact sample of the fleet's totals a minute, in shared state.

Prometheus keeps history for those who run one; the dashboard's overview must show the last hour
without it. `record_traffic_sample` (a beat job, every `MONITORING_HISTORY_INTERVAL_SECONDS`) reads
the fleet-wide counters the way `/metrics` and `/info` do (`recorded_families`: every worker's files
in multiprocess mode) and appends them to a capped list. Rates and percentiles are differences
between consecutive samples, computed when read, so a sample is only counters:

    {"t": unix seconds, "requests": n, "errors": n, "lightweight": n, "powerful": n,
     "latency": [cumulative count per bucket of gateway_request_duration_seconds, +Inf last]}

Errors are /v1 answers with a 5xx status: upstream failures relayed and the gateway's own errors
(no instance available, upstream unreachable or timed out: 502, 503, 504). A counter that went down
(a restart of the embedded server) is taken as reset to zero, as Prometheus's `rate()` does.
"""

import json
import math
import time
from collections.abc import Iterable
from itertools import pairwise
from typing import Any

from prometheus_client.metrics_core import Metric

from routerproject.state import get_state

from .exposition import bucket_quantile, recorded_families
from .metrics import REQUEST_SECONDS

HISTORY_KEY = "monitoring:traffic"
# An hour of one-minute intervals needs 61 samples.
HISTORY_SAMPLES = 61
LATENCY_BOUNDS: tuple[float, ...] = (*REQUEST_SECONDS._upper_bounds[:-1], math.inf)
QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


def traffic_totals(
    families: Iterable[Metric] | None = None, *, now: float | None = None
) -> dict[str, Any]:
    """The fleet's counters now, as one sample."""
    requests = errors = lightweight = powerful = 0.0
    latency = dict.fromkeys(LATENCY_BOUNDS, 0.0)
    for family in recorded_families() if families is None else families:
        for sample in family.samples:
            if sample.name == "gateway_requests_total":
                requests += sample.value
                if sample.labels.get("status", "").startswith("5"):
                    errors += sample.value
            elif sample.name == "gateway_request_duration_seconds_bucket":
                bound = float(sample.labels["le"])
                if bound in latency:
                    latency[bound] += sample.value
            elif sample.name == "tiny_dancer_lightweight_routes_total":
                lightweight += sample.value
            elif sample.name == "tiny_dancer_powerful_routes_total":
                powerful += sample.value
    return {
        "t": round(time.time() if now is None else now, 3),
        "requests": int(requests),
        "errors": int(errors),
        "lightweight": int(lightweight),
        "powerful": int(powerful),
        "latency": [int(latency[b]) for b in LATENCY_BOUNDS],
    }


def traffic_sample_record(*, now: float | None = None) -> dict[str, Any]:
    """Append the current totals to the history and cap it (the beat job's work)."""
    sample = traffic_totals(now=now)
    state = get_state()
    state.list_push(HISTORY_KEY, json.dumps(sample, separators=(",", ":")))
    state.list_trim(HISTORY_KEY, HISTORY_SAMPLES)
    return sample


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
