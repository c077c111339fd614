"""Tracing's switch and start-up: off unless the standard OTEL_* environment names an exporter,
then configured once (the SDK's provider, the /v1 listener, Django's instrumentation); the
management API's requests traced through that instrumentation, the probes and /v1 not."""

import base64
import subprocess
import sys

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from monitoring import tracing
from routerproject.settings import monitoring as monitoring_settings
from tests.processes import ROOT, project_env

OTEL = (
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
)


@pytest.fixture
def environ(monkeypatch):
    for name in OTEL:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("env", "exporters"),
    [
        ({}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
        ({"OTEL_TRACES_EXPORTER": "otlp,console"}, ["otlp", "console"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, []),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, []),
        ({"OTEL_SDK_DISABLED": "false", "OTEL_TRACES_EXPORTER": "console"}, ["console"]),
    ],
)
def test_tracing_is_on_only_when_the_environment_asks(environ, env, exporters):
    for name, value in env.items():
        environ.setenv(name, value)
    assert monitoring_settings._trace_exporters() == exporters


def test_a_malformed_sdk_disabled_stops_start_up(environ):
    environ.setenv("OTEL_SDK_DISABLED", "perhaps")
    with pytest.raises(ImproperlyConfigured, match="OTEL_SDK_DISABLED"):
        monitoring_settings._trace_exporters()


def test_exporters_are_found_by_their_sdk_names():
    assert isinstance(tracing.exporter("otlp"), OTLPSpanExporter)
    assert isinstance(tracing.exporter("otlp_proto_http"), OTLPSpanExporter)
    assert isinstance(tracing.exporter("console"), ConsoleSpanExporter)
    with pytest.raises(ImproperlyConfigured, match="'zipkin'"):
        tracing.exporter("zipkin")


def test_the_service_is_routerproject_unless_the_environment_names_one(environ):
    assert tracing.resource().attributes[SERVICE_NAME] == "routerproject"
    environ.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes")
    assert tracing.resource().attributes[SERVICE_NAME] == "from-attributes"
    environ.setenv("OTEL_SERVICE_NAME", "gateway-eu")
    assert tracing.resource().attributes[SERVICE_NAME] == "gateway-eu"


START_UP = """
import django
django.setup()
from django.conf import settings
from monitoring import tracing
from routing.dataplane import ended, traces
print(tracing.enabled, traces._exchange_ended in ended._listeners,
      settings.MIDDLEWARE[0].startswith("opentelemetry."))
"""


@pytest.mark.processes
@pytest.mark.parametrize(
    ("env", "printed"),
    [
        ({"OTEL_TRACES_EXPORTER": "console"}, "True True True"),
        ({"OTEL_TRACES_EXPORTER": None, "OTEL_EXPORTER_OTLP_ENDPOINT": None}, "False False False"),
    ],
)
def test_start_up_configures_tracing_once_when_asked(env, printed):
    env = {name: None for name in OTEL} | env
    result = subprocess.run(
        [sys.executable, "-c", START_UP],
        cwd=ROOT,
        env=project_env(DJANGO_SETTINGS_MODULE="routerproject.settings.embedded", **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == printed


@pytest.fixture
def django_spans(settings):
    """Django's own handler built with the instrumentation in, as start-up builds it."""
    settings.MIDDLEWARE = list(settings.MIDDLEWARE)  # restored after the test
    exporter = InMemorySpanExporter()
    provider = tracing.start(SimpleSpanProcessor(exporter))
    tracing.instrument_django(provider)
    yield exporter, ASGIHandler()
    DjangoInstrumentor().uninstrument()
    tracing.stop()


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_the_management_api_is_traced_and_the_probes_are_not(django_spans, staff_user):
    exporter, handler = django_spans
    basic = base64.b64encode(b"operator:operator-pass-123").decode()
    transport = httpx.ASGITransport(app=handler)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        assert (await http.get("/health")).status_code == 200
        assert (await http.get("/metrics")).status_code == 200
        assert exporter.get_finished_spans() == ()
        answer = await http.get(
            "/api/monitoring/health",
            headers={
                "authorization": f"Basic {basic}",
                "traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01",
            },
        )
    assert answer.status_code == 200
    (span,) = exporter.get_finished_spans()
    assert span.kind == SpanKind.SERVER
    assert span.name == "GET api/monitoring/health"
    assert span.attributes["http.status_code"] == 200
    assert span.attributes["http.route"] == "api/monitoring/health"
    assert f"{span.context.trace_id:032x}" == "ab" * 16
    assert basic not in str(dict(span.attributes))  # no credentials recorded
