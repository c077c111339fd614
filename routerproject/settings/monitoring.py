"""Monitoring and the router's operations API (`/health`, `/metrics`, `/info`, `/admin/*`).

PROMETHEUS_MULTIPROC_DIR is read by prometheus_client itself, from the environment, before anything
is recorded: set it for every gunicorn worker (docker/gunicorn.conf.py empties it at start-up) and
`/metrics` adds up every worker's values.
"""

from .env import env_bool, env_float, env_int, env_list, env_str

# Bearer token for /admin/* (the seed's variable). Unset: /admin/* accepts staff operators instead
# (JWT bearer or HTTP Basic; never the session cookie, these endpoints being CSRF-exempt).
TINY_DANCER_AUTH_TOKEN = env_str("TINY_DANCER_AUTH_TOKEN")
# Origins allowed to call the operations API from a browser ("*" for any). Empty: CORS off.
TINY_DANCER_CORS_ORIGINS = env_list("TINY_DANCER_CORS_ORIGINS", [])
# Seconds between two runs of the auto degradation policy.
MONITORING_DEGRADATION_CHECK_SECONDS = 30.0

# How often each serving process hands its traffic counts to shared state for the overview's
# history (monitoring.traffic); the history job adds up what has arrived.
MONITORING_TRAFFIC_FLUSH_SECONDS = env_float("MONITORING_TRAFFIC_FLUSH_SECONDS", 5.0)
if MONITORING_TRAFFIC_FLUSH_SECONDS <= 0:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "MONITORING_TRAFFIC_FLUSH_SECONDS must be a positive number of seconds"
    )


def _trace_exporters() -> list[str]:
    """The span exporters the standard OpenTelemetry environment names, none unless it asks: an
    OTLP endpoint (the `otlp` exporter) or `OTEL_TRACES_EXPORTER` naming something but `none`;
    `OTEL_SDK_DISABLED=true` turns it all off. The SDK reads its other OTEL_* variables itself."""
    if env_bool("OTEL_SDK_DISABLED", False):
        return []
    named = env_list("OTEL_TRACES_EXPORTER", [])
    if "none" in named:
        return []
    if named:
        return named
    endpoint = env_str("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env_str(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    return ["otlp"] if endpoint else []


# OpenTelemetry tracing (monitoring.tracing): empty, the default, leaves it off.
TRACING_EXPORTERS = _trace_exporters()

# The request history (monitoring.request_history): one row per /v1 request, buffered in each
# serving process and written in batches by a thread of its own, never on the request path.
REQUEST_HISTORY_ENABLED = env_bool("REQUEST_HISTORY_ENABLED", True)
# A batch is written this often, or as soon as REQUEST_HISTORY_BATCH_SIZE rows wait, and at exit.
REQUEST_HISTORY_FLUSH_SECONDS = env_float("REQUEST_HISTORY_FLUSH_SECONDS", 2.0)
REQUEST_HISTORY_BATCH_SIZE = env_int("REQUEST_HISTORY_BATCH_SIZE", 500, minimum=1)
# Rows a process holds before it drops new ones (counted and logged): a database that stops
# taking writes costs the history, never the requests.
REQUEST_HISTORY_BUFFER_ROWS = env_int("REQUEST_HISTORY_BUFFER_ROWS", 20_000, minimum=1)
# Rows older than this are deleted by the hourly `monitoring.delete_old_request_records` (0: kept).
REQUEST_HISTORY_RETENTION_DAYS = env_int("REQUEST_HISTORY_RETENTION_DAYS", 30, minimum=0)
if REQUEST_HISTORY_FLUSH_SECONDS <= 0:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("REQUEST_HISTORY_FLUSH_SECONDS must be a positive number of seconds")
