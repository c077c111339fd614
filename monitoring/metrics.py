"""The gateway's own Prometheus metrics, and the calls that record them.

Series are declared here under the internal prefix `gateway_`; `/metrics` renames them to the
configured prefix (default `jairouter`), adds the custom tags as constant labels and leaves out the
disabled categories at render time (`monitoring.exposition`), so a settings change applies at once
without re-registering anything. With PROMETHEUS_MULTIPROC_DIR set (gunicorn), prometheus_client keeps
the values in per-process files and `/metrics` adds them up across workers.

Labels are bounded by the configuration: service types, configured model names (a model the gateway
does not serve is recorded as ""), instance ids, HTTP status codes. Never a user, key or prompt.

Callers:
- the data plane: `exchange_started` and `observe_exchange`, once per request from `pipeline.handle`
  (for a stream, when the stream ends);
- the neural router: `observe_router_decision` from `RouterRuntime.adecide` and the route API.
"""

import logging
import math
import random
from typing import Any, Protocol

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

from .live_settings import current_view
from .traffic import TrafficTally

logger = logging.getLogger(__name__)

# `_created` series double the exposition for nothing a dashboard uses.
disable_created_metrics()

INTERNAL_PREFIX = "gateway_"
ROUTER_PREFIX = "tiny_dancer_"

# family name (without _total) -> category, for the render-time filter
CATEGORY_OF: dict[str, str] = {}


def _category(category: str, metric: Any) -> Any:
    CATEGORY_OF[metric._name] = category
    return metric


_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_OVERHEAD = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
# Neural inference takes tens to thousands of microseconds.
_INFERENCE = (
    10e-6,
    25e-6,
    50e-6,
    100e-6,
    200e-6,
    300e-6,
    400e-6,
    500e-6,
    750e-6,
    1e-3,
    1.5e-3,
    2e-3,
    3e-3,
    5e-3,
    10e-3,
    25e-3,
    50e-3,
    0.1,
)

REQUESTS = _category(
    "request",
    Counter(
        "gateway_requests",
        "Requests answered by the /v1 data plane.",
        ["service", "model", "instance", "status"],
    ),
)
REQUEST_SECONDS = _category(
    "request",
    Histogram(
        "gateway_request_duration_seconds",
        "Time from receiving a /v1 request to its last byte (sampled by the degradation level).",
        ["service", "model"],
        buckets=_LATENCY,
    ),
)
# This process's share of the fleet's traffic for the overview's history (monitoring.traffic).
TRAFFIC = TrafficTally((*_LATENCY, math.inf))
UPSTREAM_SECONDS = _category(
    "request",
    Histogram(
        "gateway_upstream_duration_seconds",
        "Time spent waiting on the upstream instance (sampled).",
        ["service", "instance"],
        buckets=_LATENCY,
    ),
)
OVERHEAD_SECONDS = _category(
    "request",
    Histogram(
        "gateway_overhead_seconds",
        "Time the gateway itself added to a request: total minus upstream wait (sampled).",
        ["service"],
        buckets=_OVERHEAD,
    ),
)
FIRST_TOKEN_SECONDS = _category(
    "request",
    Histogram(
        "gateway_time_to_first_token_seconds",
        "Time from receiving a streamed request to its first chunk (sampled).",
        ["service", "model"],
        buckets=_LATENCY,
    ),
)
TOKENS = _category(
    "request",
    Counter(
        "gateway_tokens",
        "Tokens reported by upstreams' `usage` (in: prompt, out: completion).",
        ["service", "model", "direction"],
    ),
)
RETRIES = _category(
    "request",
    Counter(
        "gateway_retries",
        "Attempts made on another instance after a failure.",
        ["service"],
    ),
)
FALLBACKS = _category(
    "request",
    Counter(
        "gateway_fallbacks",
        "Requests answered by a fallback model.",
        ["service", "model"],
    ),
)
RATE_LIMITED = _category(
    "request",
    Counter(
        "gateway_rate_limit_rejections",
        "Requests refused by a rate limit, per scope.",
        ["service", "scope"],
    ),
)
IN_FLIGHT = _category(
    "request",
    Gauge(
        "gateway_in_flight_requests",
        "/v1 requests being served now.",
        ["service"],
        multiprocess_mode="livesum",
    ),
)
ADMIN_AUTH_FAILURES = _category(
    "system",
    Counter(
        "gateway_admin_auth_failures",
        "Refused attempts on the operations API's /admin/* endpoints.",
    ),
)
PASSWORD_FAILURES = _category(
    "system",
    Counter(
        "gateway_password_failures",
        "Password sign-ins refused, on every way of presenting one: result=refused (wrong "
        "credentials) or throttled (too many failures for the user name or the address).",
        ["result"],
    ),
)
CACHE_LOOKUPS = _category(
    "custom",
    Counter(
        "gateway_cache_lookups",
        "Lookups in the gateway's caches.",
        ["cache", "result"],
    ),
)

ROUTER_REQUESTS = _category(
    "router",
    Counter(
        "tiny_dancer_requests",
        "Total number of routing requests",
    ),
)
ROUTER_LIGHTWEIGHT = _category(
    "router",
    Counter(
        "tiny_dancer_lightweight_routes",
        "Requests routed to lightweight model",
    ),
)
ROUTER_POWERFUL = _category(
    "router",
    Counter(
        "tiny_dancer_powerful_routes",
        "Requests routed to powerful model",
    ),
)
ROUTER_ERRORS = _category(
    "router",
    Counter(
        "tiny_dancer_errors",
        "Total number of errors",
    ),
)
ROUTER_TRIPS = _category(
    "router",
    Counter(
        "tiny_dancer_circuit_breaker_trips",
        "Circuit breaker trip count",
    ),
)
ROUTER_INFERENCE = _category(
    "router",
    Histogram(
        "tiny_dancer_inference_seconds",
        "Neural router inference time (features, model, ranking).",
        buckets=_INFERENCE,
    ),
)


def _failed(exc: Exception) -> None:
    from .errors import record_error

    record_error("metricsCollector", exc)


def exchange_started(service_type: str) -> None:
    if current_view().enabled:
        IN_FLIGHT.labels(service_type).inc()


class Exchange(Protocol):
    """What the metrics read of one finished /v1 request; the data plane's exchange has it (this
    app, below the data plane, names only the shape)."""

    service_type: str
    model: str
    instance_id: str
    started: float
    upstream_wait: float
    first_byte: float | None
    prompt_tokens: int
    completion_tokens: int
    retries: int
    fallback_model: str
    rejected_by: str


def observe_exchange(exchange: Exchange, status: int, *, ended: float) -> None:
    """Record one finished /v1 request (`ended`: perf_counter at its last byte)."""
    view = current_view()
    if not view.enabled:
        return
    try:
        service = exchange.service_type
        IN_FLIGHT.labels(service).dec()
        REQUESTS.labels(service, exchange.model, exchange.instance_id, str(status)).inc()
        total = max(0.0, ended - exchange.started)
        TRAFFIC.request(status, total)
        if exchange.prompt_tokens:
            TOKENS.labels(service, exchange.model, "in").inc(exchange.prompt_tokens)
        if exchange.completion_tokens:
            TOKENS.labels(service, exchange.model, "out").inc(exchange.completion_tokens)
        if exchange.retries:
            RETRIES.labels(service).inc(exchange.retries)
        if exchange.fallback_model:
            FALLBACKS.labels(service, exchange.fallback_model).inc()
        if exchange.rejected_by:
            RATE_LIMITED.labels(service, exchange.rejected_by).inc()
        rate = view.sample_rate
        if rate <= 0 or (rate < 1 and random.random() >= rate):
            return
        REQUEST_SECONDS.labels(service, exchange.model).observe(total)
        OVERHEAD_SECONDS.labels(service).observe(max(0.0, total - exchange.upstream_wait))
        if exchange.instance_id:
            UPSTREAM_SECONDS.labels(service, exchange.instance_id).observe(exchange.upstream_wait)
        if exchange.first_byte is not None:
            FIRST_TOKEN_SECONDS.labels(service, exchange.model).observe(
                max(0.0, exchange.first_byte - exchange.started)
            )
    except Exception as exc:  # metrics must never break an answer
        _failed(exc)


def observe_router_decision(
    *,
    lightweight: bool | None,
    inference_seconds: float | None,
    error: bool = False,
    tripped: bool = False,
) -> None:
    """One routing request of the neural router: its tier (None when no candidate was ranked),
    the inference time when the model ran, whether inference failed or tripped the breaker."""
    if not current_view().enabled:
        return
    try:
        ROUTER_REQUESTS.inc()
        if lightweight is True:
            ROUTER_LIGHTWEIGHT.inc()
        elif lightweight is False:
            ROUTER_POWERFUL.inc()
        if lightweight is not None:
            TRAFFIC.route(lightweight=lightweight)
        if error:
            ROUTER_ERRORS.inc()
        if tripped:
            ROUTER_TRIPS.inc()
        if inference_seconds is not None:
            ROUTER_INFERENCE.observe(inference_seconds)
    except Exception as exc:
        _failed(exc)


def admin_auth_failed() -> None:
    ADMIN_AUTH_FAILURES.inc()


def password_failed(*, throttled: bool) -> None:
    PASSWORD_FAILURES.labels("throttled" if throttled else "refused").inc()


def cache_lookup(cache: str, *, hit: bool) -> None:
    CACHE_LOOKUPS.labels(cache, "hit" if hit else "miss").inc()
