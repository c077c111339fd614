"""OpenTelemetry tracing: off unless the environment asks for it (`TRACING_EXPORTERS`, read by
the settings from the standard OTEL_* variables), and then configured once per process at start-up
(`MonitoringConfig.ready`, before Django's handler loads its middleware).

`enabled` is the one check the /v1 hot path makes: while it is False the data plane creates no
span at all, not even a no-op one. Everything else the SDK reads from its own variables: the
exporter's endpoint, headers and timeout (`OTEL_EXPORTER_OTLP_*`), the sampler
(`OTEL_TRACES_SAMPLER`), the batch processor (`OTEL_BSP_*`), the resource
(`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`; the service is `routerproject` unless they name
one). The management API is traced by opentelemetry-instrumentation-django; the data plane's
spans are made by `routing.dataplane.traces`, which starts with the provider (`when_started`).
"""

from collections.abc import Callable
from importlib.metadata import entry_points

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

DEFAULT_SERVICE_NAME = "routerproject"
# Regular expressions searched in the absolute URL: /v1 has spans of its own (and no middleware),
# probes and scrapes are noise. /api/monitoring/health is a management request like any other.
UNTRACED_URLS = r"^[a-z]+://[^/]+/(v1/|metrics|health)"
# `otlp` is OTLP over HTTP/protobuf: the exporter this project ships (no gRPC one is installed).
_ALIASES = {"otlp": "otlp_proto_http"}

enabled = False
_provider: TracerProvider | None = None
_on_start: list[Callable[[TracerProvider], None]] = []


def when_started(callback: Callable[[TracerProvider], None]) -> None:
    """Call `callback(provider)` once tracing starts (now, if it has): how the apps above this
    one make their tracers without this module knowing them."""
    _on_start.append(callback)
    if _provider is not None and enabled:
        callback(_provider)


def resource() -> Resource:
    detected = Resource.create()
    if str(detected.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        return detected.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    return detected


def exporter(name: str) -> SpanExporter:
    """The exporter `OTEL_TRACES_EXPORTER` names, found as the SDK finds it (entry points)."""
    found = entry_points(group="opentelemetry_traces_exporter", name=_ALIASES.get(name, name))
    for entry in found:
        made: SpanExporter = entry.load()()
        return made
    raise ImproperlyConfigured(f"OTEL_TRACES_EXPORTER names {name!r}, which is not installed")


def start(*processors: SpanProcessor) -> TracerProvider:
    """Tracing on, into `processors`: the provider the data plane's spans are made by."""
    global _provider, enabled
    provider = TracerProvider(resource=resource())  # its sampler from OTEL_TRACES_SAMPLER
    for processor in processors:
        provider.add_span_processor(processor)
    _provider = provider
    enabled = True
    for callback in _on_start:
        callback(provider)
    return provider


def stop() -> None:
    """Tracing off again (tests): what is still buffered is exported first."""
    global _provider, enabled
    enabled = False
    if _provider is not None:
        _provider.shutdown()
    _provider = None


def instrument_django(provider: TracerProvider) -> None:
    """Django's requests (the management API, the dashboard) traced by the instrumentation's
    middleware, first in `MIDDLEWARE`: to be called before a handler loads its middleware."""
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    DjangoInstrumentor().instrument(tracer_provider=provider, excluded_urls=UNTRACED_URLS)


def configure() -> None:
    """At start-up: nothing unless the environment names exporters, else one batch processor per
    exporter, the provider made global (for any other instrumentation) and Django instrumented."""
    names = settings.TRACING_EXPORTERS
    if not names or enabled:
        return
    provider = start(*(BatchSpanProcessor(exporter(name)) for name in names))
    trace.set_tracer_provider(provider)
    instrument_django(provider)
