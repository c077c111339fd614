"""Tracing as deployed: the gateway under gunicorn, turned on by OTEL_EXPORTER_OTLP_ENDPOINT
alone, exports OTLP/HTTP to a collector (a small receiver here): a /v1 stream's server span with
its attempt, in the client's trace, and a management API request; no span for the probes."""

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.routing.dataplane.gateway import Gateway, gateway_stack

pytestmark = pytest.mark.processes

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


class Collector:
    """What an OTLP/HTTP collector received: every span with its resource's service name."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, Span]] = []
        self.arrived = threading.Condition()

    def receive(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        with self.arrived:
            for resource_spans in request.resource_spans:
                service = next(
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                )
                for scope_spans in resource_spans.scope_spans:
                    self.spans.extend((service, span) for span in scope_spans.spans)
            self.arrived.notify_all()

    def wait_for(self, found: Callable[[list[Span]], bool], timeout: float = 20.0) -> list[Span]:
        with self.arrived:
            self.arrived.wait_for(lambda: found([span for _, span in self.spans]), timeout)
            return [span for _, span in self.spans]


@pytest.fixture(scope="module")
def collector() -> Iterator[tuple[str, Collector]]:
    received = Collector()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            if self.path == "/v1/traces":
                received.receive(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, collector) -> Iterator[Gateway]:
    url, _ = collector
    settings = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": url,
        "OTEL_BSP_SCHEDULE_DELAY": "50",  # milliseconds: spans leave soon after they end
        "OTEL_TRACES_EXPORTER": None,
        "OTEL_SDK_DISABLED": None,
        "OTEL_SERVICE_NAME": None,
    }
    with gateway_stack(tmp_path_factory.mktemp("traced"), workers=1, settings=settings) as stack:
        yield stack


def named(spans: list[Span], name: str) -> list[Span]:
    return [span for span in spans if span.name == name]


def test_a_stream_and_its_attempt_reach_the_collector_in_the_clients_trace(gateway, collector):
    _, received = collector
    assert gateway.client.get(f"{gateway.url}/health").status_code == 200
    with gateway.client.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json={"model": "fake-chat", "stream": True, "messages": []},
        headers={"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01", "x-fake-chunks": "3"},
    ) as answer:
        assert answer.status_code == 200
        body = b"".join(answer.iter_bytes())
    assert body.endswith(b"data: [DONE]\n\n")
    spans = received.wait_for(lambda spans: bool(named(spans, "POST /v1/chat/completions")))
    (server,) = named(spans, "POST /v1/chat/completions")
    assert server.kind == Span.SPAN_KIND_SERVER
    assert server.trace_id.hex() == CLIENT_TRACE and server.parent_span_id.hex() == CLIENT_SPAN
    attributes = {a.key: a.value for a in server.attributes}
    assert attributes["http.response.status_code"].int_value == 200
    assert attributes["gateway.request_id"].string_value == answer.headers["x-request-id"]
    (attempt,) = named(spans, "upstream attempt")
    assert attempt.parent_span_id == server.span_id
    # The attempt ended with the upstream's headers, the request with the stream's last byte.
    assert attempt.end_time_unix_nano <= server.end_time_unix_nano
    assert {service for service, _ in received.spans} == {"routerproject"}
    assert not [span for span in spans if "health" in span.name]


def test_a_management_api_request_reaches_the_collector(gateway, collector):
    _, received = collector
    refused = gateway.client.get(f"{gateway.url}/api/monitoring/overview")
    assert refused.status_code == 401  # the client's key is no operator's credential
    spans = received.wait_for(lambda spans: bool(named(spans, "GET api/monitoring/overview")))
    (span,) = named(spans, "GET api/monitoring/overview")
    assert span.kind == Span.SPAN_KIND_SERVER
    status = {a.key: a.value.int_value for a in span.attributes}["http.status_code"]
    assert status == 401
