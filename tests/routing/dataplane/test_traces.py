"""The /v1 spans, exported into memory: one SERVER span per request, a child of the client's
`traceparent` when it sent one, ended when the last byte is gone; one CLIENT span per upstream
attempt beside each other (retries, fallbacks), whose `traceparent` the upstream receives. With
tracing off, nothing is traced and the client's `traceparent` goes upstream untouched."""

import asyncio
import dataclasses

import httpx
import pytest
from django.test import AsyncRequestFactory
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from monitoring import tracing
from routerproject import generations
from routerproject.asgi import application
from routing.dataplane import ended, views
from routing.live_config import install_live_config
from routing.snapshot import FallbackSpec
from tests.processes import free_port
from tests.routing.dataplane.specs import instance, live_config, service

pytestmark = [pytest.mark.anyio, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"
CLIENT_TRACEPARENT = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"


@pytest.fixture
def spans(monkeypatch):
    monkeypatch.setattr(ended, "_listeners", list(ended._listeners))
    exporter = InMemorySpanExporter()
    tracing.start(SimpleSpanProcessor(exporter))
    yield exporter
    tracing.stop()


@pytest.fixture
def chat(upstream):
    """`fake-chat` on a dead instance first (round robin from a fresh counter), then a live one,
    one retry; `lost-model` only on a dead one, falling back to `fake-chat`."""
    dead = f"http://127.0.0.1:{free_port()}"
    instances = [
        instance("fake-chat", dead),
        instance("fake-chat", upstream),
        instance("lost-model", dead),
    ]
    spec = dataclasses.replace(
        service("chat", instances, load_balancer="round_robin"),
        retries=1,
        fallback=FallbackSpec(models=("fake-chat",), response=None, response_status=200),
    )
    install_live_config(live_config(spec))
    yield {"dead": instances[0].instance_id, "live": instances[1].instance_id}
    generations.forget()


async def post(body: dict[str, object], **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        return await http.post("/v1/chat/completions", json=body, headers=headers)


async def last_upstream_headers(upstream: str) -> dict[str, str]:
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{upstream}/_fake/last")).json()["headers"]


def by_kind(exporter: InMemorySpanExporter, kind: SpanKind) -> list:
    return [span for span in exporter.get_finished_spans() if span.kind == kind]


async def test_a_retried_request_is_one_server_span_and_two_sibling_attempts(spans, chat):
    answer = await post({"model": "fake-chat", "messages": [{"role": "user", "content": "hi"}]})
    assert answer.status_code == 200
    (server,) = by_kind(spans, SpanKind.SERVER)
    assert server.name == "POST /v1/chat/completions"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["gateway.request_id"] == answer.headers["x-request-id"]
    assert server.attributes["gateway.service_type"] == "chat"
    assert server.attributes["gen_ai.request.model"] == "fake-chat"
    assert server.attributes["gateway.instance_id"] == chat["live"]
    assert server.attributes["gateway.retries"] == 1
    assert server.attributes["gen_ai.usage.output_tokens"] > 0
    assert server.status.status_code == StatusCode.UNSET
    attempts = sorted(by_kind(spans, SpanKind.CLIENT), key=lambda span: span.start_time)
    assert [a.attributes["gateway.outcome"] for a in attempts] == ["unreachable", "ok"]
    assert [a.attributes["gateway.attempt"] for a in attempts] == [1, 2]
    assert [a.attributes["gateway.instance_id"] for a in attempts] == [chat["dead"], chat["live"]]
    assert attempts[0].status.status_code == StatusCode.ERROR
    assert attempts[1].attributes["http.response.status_code"] == 200
    assert attempts[1].attributes["server.address"] == "127.0.0.1"
    for attempt in attempts:
        assert attempt.parent.span_id == server.context.span_id
        assert attempt.context.trace_id == server.context.trace_id


async def test_the_upstream_receives_the_attempts_traceparent(spans, chat, upstream):
    await post({"model": "fake-chat", "messages": []})
    version, trace_id, parent_id, flags = (await last_upstream_headers(upstream))[
        "traceparent"
    ].split("-")
    (server,) = by_kind(spans, SpanKind.SERVER)
    answered = [
        a for a in by_kind(spans, SpanKind.CLIENT) if a.attributes["gateway.outcome"] == "ok"
    ]
    assert trace_id == f"{server.context.trace_id:032x}"
    assert parent_id == f"{answered[0].context.span_id:016x}"
    assert version == "00" and int(flags, 16) & 1, "sampled"


async def test_a_clients_traceparent_becomes_the_parent(spans, chat, upstream):
    await post({"model": "fake-chat", "messages": []}, traceparent=CLIENT_TRACEPARENT)
    (server,) = by_kind(spans, SpanKind.SERVER)
    assert f"{server.context.trace_id:032x}" == CLIENT_TRACE
    assert f"{server.parent.span_id:016x}" == CLIENT_SPAN
    assert server.parent.is_remote
    # The upstream sees the attempt as parent, in the client's trace, not the client's own span.
    sent = (await last_upstream_headers(upstream))["traceparent"]
    assert sent.startswith(f"00-{CLIENT_TRACE}-") and CLIENT_SPAN not in sent


async def test_a_fallback_model_is_another_sibling_attempt(spans, chat):
    answer = await post({"model": "lost-model", "messages": []})
    assert answer.status_code == 200
    (server,) = by_kind(spans, SpanKind.SERVER)
    assert server.attributes["gateway.fallback_model"] == "fake-chat"
    attempts = sorted(by_kind(spans, SpanKind.CLIENT), key=lambda span: span.start_time)
    assert attempts[0].attributes["gateway.outcome"] == "unreachable"
    assert attempts[-1].attributes["gateway.outcome"] == "ok"
    assert len(attempts) == 1 + server.attributes["gateway.retries"]
    assert {a.parent.span_id for a in attempts} == {server.context.span_id}


async def test_an_upstream_5xx_marks_both_spans_as_errors(spans, chat):
    answer = await post({"model": "fake-chat", "messages": []}, **{"x-fake-status": "503"})
    assert answer.status_code == 503
    (server,) = by_kind(spans, SpanKind.SERVER)
    assert server.status.status_code == StatusCode.ERROR
    answered = by_kind(spans, SpanKind.CLIENT)[-1]
    assert answered.attributes["gateway.outcome"] == "http_5xx"
    assert answered.status.status_code == StatusCode.ERROR


async def test_a_refused_request_has_its_server_span_without_attempts(spans, chat):
    answer = await post({"model": "no-such-model", "messages": []})
    assert answer.status_code == 404
    (server,) = by_kind(spans, SpanKind.SERVER)
    assert server.attributes["gateway.error"] == "model_not_found"
    assert server.status.status_code == StatusCode.UNSET
    assert by_kind(spans, SpanKind.CLIENT) == []


def stream_request():
    return AsyncRequestFactory().post(
        "/v1/chat/completions",
        b'{"model": "fake-chat", "stream": true, "messages": []}',
        content_type="application/json",
        headers={"x-fake-chunks": "4"},
    )


async def test_a_streamed_requests_span_ends_after_its_last_chunk(spans, chat):
    response = await views.proxy_view("chat/completions")(stream_request())
    assert response.streaming
    assert by_kind(spans, SpanKind.SERVER) == [], "the answer has started, not ended"
    assert len(by_kind(spans, SpanKind.CLIENT)) == 2  # attempts end with their headers
    body = b"".join([chunk async for chunk in response])
    assert body.endswith(b"data: [DONE]\n\n")
    (server,) = by_kind(spans, SpanKind.SERVER)
    assert server.attributes["http.response.status_code"] == 200


async def test_a_stream_dropped_unread_ends_its_span_from_another_task(spans, chat):
    # The view runs in a task of its own, as Django's handler runs it; the close comes from here.
    view = views.proxy_view("chat/completions")
    response = await asyncio.create_task(view(stream_request()))
    assert by_kind(spans, SpanKind.SERVER) == []
    response.close()
    (server,) = by_kind(spans, SpanKind.SERVER)
    assert server.attributes["gateway.instance_id"] == chat["live"]


async def test_with_tracing_off_nothing_is_traced_and_the_clients_traceparent_passes(
    spans, chat, upstream, monkeypatch
):
    monkeypatch.setattr(tracing, "enabled", False)
    answer = await post({"model": "fake-chat", "messages": []}, traceparent=CLIENT_TRACEPARENT)
    assert answer.status_code == 200
    assert spans.get_finished_spans() == ()
    assert (await last_upstream_headers(upstream))["traceparent"] == CLIENT_TRACEPARENT
    # That one boolean is the whole switch: the same provider traces once it is True again.
    monkeypatch.setattr(tracing, "enabled", True)
    await post({"model": "fake-chat", "messages": []})
    assert len(by_kind(spans, SpanKind.SERVER)) == 1
