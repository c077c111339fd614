"""Bad input on the other client APIs' paths: a 4xx in the path's own error shape (Anthropic's on
`/v1/messages`, OpenAI's on `/v1/responses`), nothing sent upstream, never a 500. The translations
are also fuzzed: whatever JSON a client sends, they answer a request or a 400, and whatever bytes
an upstream streams, the stream translators answer bytes."""

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routerproject import generations
from routerproject.asgi import application
from routerproject.state import GENERATION_KEY, get_state
from routing.dataplane.dialects import anthropic, anthropic_stream, anthropic_upstream, responses
from routing.dataplane.errors import GatewayError
from routing.live_config import install_live_config
from tests.routing.dataplane.specs import instance, live_config, service

pytestmark = [pytest.mark.anyio, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def gateway(upstream):
    generation = int(get_state().get(GENERATION_KEY) or 0)
    install_live_config(
        live_config(service("chat", [instance("fake-chat", upstream)]), generation=generation)
    )
    yield upstream
    generations.forget()


async def upstream_requests(upstream: str) -> int:
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{upstream}/_fake/stats")).json()["requests"]


async def send(upstream: str, method: str, path: str, content: bytes = b"") -> httpx.Response:
    before = await upstream_requests(upstream)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application)) as http:
        response = await http.request(
            method,
            f"http://gateway{path}",
            content=content,
            headers={"content-type": "application/json", "anthropic-version": "2023-06-01"},
        )
    assert await upstream_requests(upstream) == before, "the upstream was called"
    return response


def messages(**members) -> bytes:
    return json.dumps({"model": "fake-chat", "max_tokens": 16, "messages": HI, **members}).encode()


def created(**members) -> bytes:
    return json.dumps({"model": "fake-chat", "input": "hi", **members}).encode()


@pytest.mark.parametrize(
    ("content", "status", "kind"),
    [
        (b"{not json", 400, "invalid_request_error"),
        (b"[]", 400, "invalid_request_error"),
        (json.dumps({"max_tokens": 16, "messages": HI}).encode(), 400, "invalid_request_error"),
        (messages(max_tokens=None), 400, "invalid_request_error"),
        (messages(max_tokens="16"), 400, "invalid_request_error"),
        (messages(messages="hi"), 400, "invalid_request_error"),
        (messages(messages=[]), 400, "invalid_request_error"),
        (messages(messages=[{"role": "robot", "content": "hi"}]), 400, "invalid_request_error"),
        (messages(messages=[{"role": "user", "content": 7}]), 400, "invalid_request_error"),
        (
            messages(messages=[{"role": "user", "content": [{"type": "x"}]}]),
            400,
            "invalid_request_error",
        ),
        (messages(system=[{"type": "image"}]), 400, "invalid_request_error"),
        (messages(tools=[{"name": 1}]), 400, "invalid_request_error"),
        (messages(tool_choice="any"), 400, "invalid_request_error"),
        (messages(stream="yes"), 400, "invalid_request_error"),
        (messages(model="no-such-model"), 404, "not_found_error"),
    ],
)
async def test_bad_messages_requests_get_anthropics_error_shape(gateway, content, status, kind):
    response = await send(gateway, "POST", "/v1/messages", content)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == kind
    assert body["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "content", "status"),
    [
        ("GET", "/v1/messages", b"", 405),
        ("POST", "/v1/messages/count_tokens", b"[]", 400),
        ("POST", "/v1/messages/count_tokens", json.dumps({"model": "fake-chat"}).encode(), 400),
        ("GET", "/v1/messages/count_tokens", b"", 405),
    ],
)
async def test_other_refusals_on_the_messages_paths_have_anthropics_shape(
    gateway, method, path, content, status
):
    response = await send(gateway, method, path, content)
    assert response.status_code == status, response.text
    assert response.json()["type"] == "error"


@pytest.mark.parametrize(
    ("content", "status", "param"),
    [
        (b"{not json", 400, None),
        (json.dumps({"input": "hi"}).encode(), 400, "model"),
        (created(input=7), 400, "input"),
        (created(input=[{"type": "reasoning"}]), 400, "input"),
        (
            created(input=[{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]),
            400,
            None,
        ),
        (created(instructions=["x"]), 400, "instructions"),
        (created(tools=[{"type": "web_search_preview"}]), 400, "tools"),
        (created(tools="all"), 400, "tools"),
        (created(text={"format": "json"}), 400, None),
        (created(max_output_tokens="many"), 400, "max_output_tokens"),
        (created(previous_response_id=7), 400, "previous_response_id"),
        (created(previous_response_id="x" * 5000), 400, "previous_response_id"),
        (created(model="no-such-model"), 404, "model"),
    ],
)
async def test_bad_responses_requests_get_openais_error_shape(gateway, content, status, param):
    response = await send(gateway, "POST", "/v1/responses", content)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    if param is not None:
        assert error["param"] == param


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/responses/resp_unknown"),
        ("DELETE", "/v1/responses/resp_unknown"),
        ("GET", "/v1/responses/" + "r" * 4000),
        ("PUT", "/v1/responses/resp_unknown"),
        ("GET", "/v1/responses"),
    ],
)
async def test_unknown_responses_and_methods_are_4xx(gateway, method, path):
    response = await send(gateway, method, path)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["message"]


# The translations themselves, over any JSON.

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False)
    | st.text(max_size=5)
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "role",
                    "content",
                    "text",
                    "name",
                    "input",
                    "id",
                    "source",
                    "tool_use_id",
                    "call_id",
                    "output",
                    "arguments",
                    "function",
                    "tool_calls",
                    "image_url",
                    "url",
                    "data",
                    "media_type",
                    "is_error",
                    "format",
                    "schema",
                    "parameters",
                    "input_schema",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


def _members(names: list[str]) -> st.SearchStrategy[dict]:
    return st.dictionaries(st.sampled_from(names), _json, max_size=6)


_MESSAGES_REQUEST = [
    "model",
    "max_tokens",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "stop_sequences",
    "temperature",
    "stream",
    "metadata",
]
_CHAT_REQUEST = [
    "model",
    "messages",
    "tools",
    "tool_choice",
    "stop",
    "max_tokens",
    "n",
    "stream",
    "stream_options",
    "response_format",
    "temperature",
]
_RESPONSES_REQUEST = [
    "model",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "text",
    "max_output_tokens",
    "stream",
    "temperature",
    "parallel_tool_calls",
]


def _answers_or_refuses(translate, payload) -> None:
    try:
        translated = translate(payload)
    except GatewayError as refusal:
        assert refusal.status == 400
    else:
        assert isinstance(translated, dict)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_members(_MESSAGES_REQUEST), _members(_CHAT_REQUEST), _members(_RESPONSES_REQUEST))
def test_the_translations_answer_any_json_request_or_refuse_it_with_a_400(
    messages_request, chat_request, responses_request
):
    _answers_or_refuses(anthropic.messages_to_chat, messages_request)
    _answers_or_refuses(lambda p: {"n": anthropic.count_tokens(p)}, messages_request)
    _answers_or_refuses(anthropic_upstream.chat_to_messages, chat_request)
    _answers_or_refuses(responses.responses_to_chat, responses_request)


@settings(max_examples=300, deadline=None)
@given(_json, _json)
def test_the_translations_read_any_upstream_answer(chat_answer, message_answer):
    for answer in (chat_answer, message_answer):
        document = answer if isinstance(answer, dict) else {"choices": answer}
        assert isinstance(anthropic.message_from_chat(document, "m"), dict)
        assert isinstance(anthropic_upstream.chat_from_message(document, "m"), dict)
        assert isinstance(
            responses.response_from_chat(document, {"model": "m"}, response_id="r", created_at=0),
            dict,
        )


_lines = st.lists(
    st.one_of(
        st.builds(lambda d: b"data: " + json.dumps(d).encode(), _json),
        st.sampled_from([b"data: [DONE]", b"event: message_start", b": ping", b"", b"data: {"]),
        st.binary(max_size=8),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(_lines, st.integers(1, 7))
def test_the_stream_translators_take_any_bytes(lines, cut):
    stream = b"\n".join(lines) + b"\n\n"
    for translator in (
        anthropic_stream.ChatStreamAsMessages("m"),
        anthropic_stream.MessagesStreamAsChat("m", include_usage=True),
        responses.ChatStreamAsResponses({"model": "m"}, "resp_x", 0),
    ):
        out = b"".join(translator.feed(stream[i : i + cut]) for i in range(0, len(stream), cut))
        assert isinstance(out + translator.end(), bytes)
