"""`/metrics`: what the fleet has recorded, as the monitoring settings say to show it.

Families come from prometheus_client: the default registry in a single process, or every worker's
files through `MultiProcessCollector` when PROMETHEUS_MULTIPROC_DIR is set. Scrape-time families are
added (instance breakers and health, the monitoring system's own state, the router's derived gauges,
and what the apps above register with `register_collector`, such as the router's breaker state).
Then, per the live settings: disabled categories are dropped, `gateway_*` takes the configured
prefix, and the custom tags become constant labels of every sample.

The router's figures are exported twice. The seed's own series, exactly as it documents them
(its Grafana queries use them): `tiny_dancer_inference_time_microseconds` (gauge, average) and
`tiny_dancer_latency_microseconds{quantile="0.5"|"0.95"|"0.99"}` (gauge). `promtool check metrics`
reports their two unavoidable lints (microseconds are not the base unit; `quantile` is reserved for
summaries) and nothing else, because beside them stand base-unit series that lint clean:
`tiny_dancer_inference_time_seconds` (gauge, average), `tiny_dancer_latency_seconds` (summary:
p50/p95/p99, sum, count) and `tiny_dancer_uptime_seconds` (a gauge: the seed's counter type would
need `_total`).
"""

import math
import os
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.samples import Sample

from .live_settings import MonitoringView, refresh_view
from .metrics import CATEGORY_OF, INTERNAL_PREFIX, ROUTER_PREFIX

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
QUANTILES = (0.5, 0.95, 0.99)


def recorded_families() -> list[Metric]:
    """Everything prometheus_client holds for the fleet (all workers in multiprocess mode)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)
        return list(registry.collect())
    return list(REGISTRY.collect())


# -- the router's figures ------------------------------------------------------------------------


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus's histogram_quantile over cumulative (le, count) buckets sorted by le."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if math.isinf(upper):
                return lower
            if count == below:
                return upper
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    return lower


def _values(families: Iterable[Metric]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for family in families:
        if family.name.startswith(ROUTER_PREFIX):
            for sample in family.samples:
                key = sample.name
                if sample.name.endswith("_bucket"):
                    key = f"{sample.name}:{sample.labels['le']}"
                totals[key] = totals.get(key, 0.0) + sample.value
    return totals


def router_figures(families: Iterable[Metric] | None = None) -> dict[str, Any]:
    """The seed's `/info` metrics, measured fleet-wide (microseconds as the seed has them)."""
    values = _values(recorded_families() if families is None else families)
    prefix = "tiny_dancer_inference_seconds_bucket:"
    buckets = sorted(
        (float(key[len(prefix) :]), count)
        for key, count in values.items()
        if key.startswith(prefix)
    )
    count = values.get("tiny_dancer_inference_seconds_count", 0.0)
    total = values.get("tiny_dancer_inference_seconds_sum", 0.0)

    def micro(seconds: float | None) -> float:
        return round(seconds * 1e6, 1) if seconds is not None else 0.0

    return {
        "total_requests": int(values.get("tiny_dancer_requests_total", 0)),
        "lightweight_routes": int(values.get("tiny_dancer_lightweight_routes_total", 0)),
        "powerful_routes": int(values.get("tiny_dancer_powerful_routes_total", 0)),
        "avg_inference_time_us": micro(total / count) if count else 0.0,
        "p50_latency_us": micro(bucket_quantile(0.5, buckets)),
        "p95_latency_us": micro(bucket_quantile(0.95, buckets)),
        "p99_latency_us": micro(bucket_quantile(0.99, buckets)),
        "error_count": int(values.get("tiny_dancer_errors_total", 0)),
        "circuit_breaker_trips": int(values.get("tiny_dancer_circuit_breaker_trips_total", 0)),
        "inference_count": int(count),
    }


def gauge(name: str, doc: str, samples: list[tuple[dict[str, str], float]]) -> Metric:
    family = Metric(name, doc, "gauge")
    for labels, value in samples:
        family.add_sample(name, labels, value)
    return family


def _seed_microsecond_gauges(figures: dict[str, Any]) -> list[Metric]:
    """The seed's two documented gauges, names, types and help texts as it shows them."""
    return [
        gauge(
            "tiny_dancer_inference_time_microseconds",
            "Average inference time",
            [({}, figures["avg_inference_time_us"])],
        ),
        gauge(
            "tiny_dancer_latency_microseconds",
            "Latency percentiles",
            [({"quantile": str(q)}, figures[f"p{int(q * 100)}_latency_us"]) for q in QUANTILES],
        ),
    ]


def _router_families(figures: dict[str, Any]) -> list[Metric]:
    from .liveness import uptime_seconds

    latency = Metric("tiny_dancer_latency_seconds", "Latency percentiles", "summary")
    for q in QUANTILES:
        value = figures[f"p{int(q * 100)}_latency_us"] / 1e6
        latency.add_sample("tiny_dancer_latency_seconds", {"quantile": str(q)}, value)
    latency.add_sample("tiny_dancer_latency_seconds_count", {}, float(figures["inference_count"]))
    latency.add_sample(
        "tiny_dancer_latency_seconds_sum",
        {},
        figures["avg_inference_time_us"] / 1e6 * figures["inference_count"],
    )
    return [
        gauge(
            "tiny_dancer_inference_time_seconds",
            "Average inference time",
            [({}, figures["avg_inference_time_us"] / 1e6)],
        ),
        latency,
        *_seed_microsecond_gauges(figures),
        gauge("tiny_dancer_uptime_seconds", "Service uptime", [({}, float(uptime_seconds()))]),
    ]


# -- scrape-time families ------------------------------------------------------------------------

Collector = Callable[[], list[Metric]]
# Families the apps above this one add at each scrape, per category (see `register_collector`).
_collectors: dict[str, list[Collector]] = {}


def register_collector(category: str, collect: Collector) -> None:
    """Add `collect()`'s families to every scrape that shows `category` (after this app's own
    families of that category). The apps that hold the figures register in their `ready()`."""
    collectors = _collectors.setdefault(category, [])
    if collect not in collectors:
        collectors.append(collect)


def _collected(category: str) -> list[Metric]:
    return [family for collect in _collectors.get(category, ()) for family in collect()]


def _backend_families() -> list[Metric]:
    from .instance_breakers import STATE_VALUES, instance_breakers
    from .instance_health import instance_health

    instances = instance_health()
    breakers = instance_breakers([i.instance_id for i in instances])
    return [
        gauge(
            "gateway_instance_breaker_state",
            "Circuit breaker per instance: 0 closed, 1 open, 2 half-open.",
            [
                (
                    {"service": i.service_type, "instance": i.instance_id},
                    float(STATE_VALUES[breakers[i.instance_id]["state"]]),
                )
                for i in instances
            ],
        ),
        gauge(
            "gateway_instance_health",
            "Instance health: 1 healthy, 0 unhealthy, -1 not checked yet.",
            [
                (
                    {"service": i.service_type, "instance": i.instance_id},
                    {"healthy": 1.0, "unhealthy": 0.0}.get(i.status, -1.0),
                )
                for i in instances
            ],
        ),
    ]


def _monitoring_families(view: MonitoringView) -> list[Metric]:
    from .degradation import Level
    from .errors import error_stats

    stats = error_stats()["components"]
    errors = Metric("gateway_monitoring_errors", "Errors of the monitoring system", "counter")
    for component, figures in stats.items():
        errors.add_sample(
            "gateway_monitoring_errors_total",
            {"component": component},
            float(figures["totalErrors"]),
        )
    levels = list(Level)
    return [
        errors,
        gauge(
            "gateway_degradation_level",
            "Degradation level: 0 NORMAL, 1 PARTIAL, 2 MINIMAL, 3 DISABLED.",
            [({}, float(levels.index(view.level)))],
        ),
        gauge(
            "gateway_metrics_sampling_ratio",
            "Share of requests whose histograms are observed now.",
            [({}, view.sample_rate)],
        ),
    ]


SCRAPE_CATEGORIES = {
    "gateway_instance_breaker_state": "backend",
    "gateway_instance_health": "backend",
    "gateway_monitoring_errors": "custom",
    "gateway_degradation_level": "custom",
    "gateway_metrics_sampling_ratio": "custom",
}


def category_of(name: str) -> str:
    if name in CATEGORY_OF:
        return CATEGORY_OF[name]
    if name in SCRAPE_CATEGORIES:
        return SCRAPE_CATEGORIES[name]
    if name.startswith(ROUTER_PREFIX):
        return "router"
    return "system"


def _restyled(family: Metric, prefix: str, tags: dict[str, str]) -> Metric:
    def rename(name: str) -> str:
        return (
            prefix + "_" + name[len(INTERNAL_PREFIX) :]
            if name.startswith(INTERNAL_PREFIX)
            else name
        )

    out = Metric(rename(family.name), family.documentation, family.type, family.unit)
    out.samples = [
        Sample(
            rename(s.name),
            {**tags, **s.labels},
            s.value,
            s.timestamp,
            s.exemplar,
            s.native_histogram,
        )
        for s in family.samples
    ]
    return out


class _Families:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def render(view: MonitoringView | None = None) -> bytes:
    view = view or refresh_view()
    if not view.enabled:
        return b""
    recorded = recorded_families()
    wanted = view.categories
    families = [f for f in recorded if category_of(f.name) in wanted]
    if "router" in wanted:
        families += _router_families(router_figures(recorded)) + _collected("router")
    if "backend" in wanted:
        families += _backend_families()
    if "custom" in wanted:
        families += _monitoring_families(view)
    tags = view.custom_tags
    restyled = [_restyled(f, view.prefix, tags) for f in families]
    return generate_latest(_Families(restyled))
