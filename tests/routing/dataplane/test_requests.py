"""Reading client requests, in process: any JSON a client sends either passes or gets a 4xx
GatewayError, never another exception (a 500); the body is read with a bound, and no further once
past it; multipart framing is found by the boundary, not by a look-alike."""

import asyncio
import json

import pytest
from django.test import RequestFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.dataplane import multipart
from routing.dataplane.adapters import ADAPTERS
from routing.dataplane.asgi import read_bounded_body
from routing.dataplane.endpoints import ENDPOINTS
from routing.dataplane.errors import GatewayError
from routing.dataplane.payload import MAX_DEPTH, parse_model
from tests.routing.dataplane.specs import instance

JSON_ROUTES = [endpoint for endpoint in ENDPOINTS.values() if not endpoint.multipart]

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
# Payloads shaped like OpenAI requests, with any value where a member is expected.
members = st.sampled_from(
    [
        "messages",
        "stream",
        "stream_options",
        "response_format",
        "max_tokens",
        "max_completion_tokens",
        "options",
        "input",
        "prompt",
        "temperature",
        "tools",
    ]
)
payloads = st.fixed_dictionaries(
    {"model": st.sampled_from(["fake-chat", "auto"]) | values},
    optional={
        "messages": st.lists(
            st.dictionaries(st.sampled_from(["role", "content", "tool_calls"]), values, max_size=3),
            max_size=3,
        )
        | values
    },
).flatmap(
    lambda base: st.dictionaries(members, values, max_size=4).map(lambda extra: {**extra, **base})
)


def _request(body: bytes, content_type: str = "application/json"):
    return RequestFactory().post("/v1/x", body, content_type=content_type)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    payload=payloads, route=st.sampled_from(JSON_ROUTES), adapter=st.sampled_from(sorted(ADAPTERS))
)
def test_any_json_payload_is_served_or_refused_with_a_4xx(payload, route, adapter):
    body = json.dumps(payload).encode()
    try:
        model, parsed = parse_model(route, _request(body), body)
        spec = instance(
            model, "http://127.0.0.1:9", adapter=adapter, service_type=route.service_type
        )
        built = ADAPTERS[adapter].build(spec, route, body=body, payload=parsed, headers={})
    except GatewayError as refusal:
        assert 400 <= refusal.status < 500
        assert set(refusal.body()["error"]) == {"message", "type", "param", "code"}
        return
    assert isinstance(model, str) and model
    assert isinstance(built.content, bytes)


@given(body=st.binary(max_size=200))
@settings(max_examples=300, deadline=None)
def test_any_bytes_are_served_or_refused_with_a_4xx(body):
    try:
        parse_model(ENDPOINTS["chat/completions"], _request(body), body)
    except GatewayError as refusal:
        assert refusal.status == 400


@given(body=st.binary(max_size=300), boundary=st.sampled_from(["b", "x-y", "----a1"]))
@settings(max_examples=300, deadline=None)
def test_any_bytes_as_multipart_are_served_or_refused_with_a_4xx(body, boundary):
    content_type = f"multipart/form-data; boundary={boundary}"
    try:
        parse_model(ENDPOINTS["audio/transcriptions"], _request(body, content_type), body)
    except GatewayError as refusal:
        assert refusal.status == 400


def test_parts_are_located_by_their_boundary():
    body = (
        b'preamble\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n'
        b"Content-Type: audio/wav\r\n\r\nRIFF\r\n-b--\r\n--b \t\r\n"
        b'Content-Disposition: form-data; name="model"\r\n\r\nwhisper\r\n--b--\r\nepilogue'
    )
    parts = multipart.parse_parts(body, b"b")
    assert [(p.name, p.filename) for p in parts] == [("file", "a"), ("model", None)]
    assert body[parts[0].start : parts[0].end] == b"RIFF\r\n-b--"
    assert multipart.text_field(body, parts, "model") == "whisper"
    assert multipart.text_field(body, parts, "prompt") is None


def test_too_many_parts_are_refused():
    part = b'--b\r\nContent-Disposition: form-data; name="p"\r\n\r\nx\r\n'
    with pytest.raises(GatewayError, match="more than 256 parts"):
        multipart.parse_parts(part * 257 + b"--b--", b"b")


def _receiver(messages):
    taken = []

    async def receive():
        message = messages[len(taken)]
        taken.append(message)
        return message

    return receive, taken


def test_the_body_is_read_whole_under_the_limit():
    chunks = [{"type": "http.request", "body": b"ab", "more_body": True}] * 3
    receive, _ = _receiver([*chunks, {"type": "http.request", "body": b"c"}])
    assert asyncio.run(read_bounded_body({"headers": []}, receive, 7)) == b"abababc"


def test_reading_stops_at_the_first_chunk_past_the_limit():
    chunks = [{"type": "http.request", "body": b"x" * 10, "more_body": True}] * 100
    receive, taken = _receiver(chunks)
    assert asyncio.run(read_bounded_body({"headers": []}, receive, 25)) is None
    assert len(taken) == 3


def test_a_declared_length_over_the_limit_reads_nothing():
    receive, taken = _receiver([{"type": "http.request", "body": b"x"}])
    scope = {"headers": [(b"content-length", b"26")]}
    assert asyncio.run(read_bounded_body(scope, receive, 25)) is None
    assert taken == []


def test_nesting_is_bounded_at_max_depth_and_brackets_alone_do_not_count():
    chat = ENDPOINTS["chat/completions"]

    def nested(levels: int) -> bytes:  # the payload object is level 1
        inner = "[" * (levels - 1) + "]" * (levels - 1)
        return f'{{"model": "m", "x": {inner}}}'.encode()

    assert parse_model(chat, _request(nested(MAX_DEPTH)), nested(MAX_DEPTH))[0] == "m"
    with pytest.raises(GatewayError, match="nested more than 128"):
        parse_model(chat, _request(nested(MAX_DEPTH + 1)), nested(MAX_DEPTH + 1))
    wide = json.dumps({"model": "m", "x": [[]] * 1000, "s": "[{" * 1000}).encode()
    assert parse_model(chat, _request(wide), wide)[0] == "m"
