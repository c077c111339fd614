"""Anthropic's Messages API on the simulated backend: messages, tool use, the streamed event
sequence, token counts and Anthropic's errors, checked with the official Anthropic SDK."""

import json

import anthropic
import httpx
import pydantic
import pytest
from anthropic.types import Message, RawMessageStreamEvent

from routing.fakeupstream.answers import ANSWER

pytestmark = [pytest.mark.anyio, pytest.mark.processes]

HEADERS = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
ASKED = [{"role": "user", "content": "weather in Paris?"}]
WEATHER = {
    "name": "get_weather",
    "description": "The weather at a place.",
    "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string"}, "days": {"type": "integer"}},
    },
}
EVENTS = pydantic.TypeAdapter(RawMessageStreamEvent)


def sdk(upstream: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=upstream, api_key="k", max_retries=0)


def sse(text: str) -> list[tuple[str, dict]]:
    """(event name, data) of each server-sent event."""
    events = []
    for block in text.strip().split("\n\n"):
        name, data = block.split("\n")
        assert name.startswith("event: ") and data.startswith("data: ")
        events.append((name[7:], json.loads(data[6:])))
    return events


async def post(upstream: str, path: str, payload: object, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=upstream) as http:
        return await http.post(path, json=payload, headers={**HEADERS, **headers})


async def test_it_answers_a_message_with_the_text(upstream):
    answer = await post(
        upstream, "/v1/messages", {"model": "c", "max_tokens": 9, "messages": ASKED}
    )
    message = Message.model_validate(answer.json())
    assert message.id.startswith("msg_fake") and message.model == "c"
    assert [block.model_dump(exclude_none=True) for block in message.content] == [
        {"type": "text", "text": ANSWER}
    ]
    assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)
    assert answer.json()["usage"] == {"input_tokens": 7, "output_tokens": 16}


async def test_the_official_sdk_gets_a_tool_use_then_text_after_the_tool_result(upstream):
    client = sdk(upstream)
    first = await client.messages.create(model="c", max_tokens=9, messages=ASKED, tools=[WEATHER])
    assert first.stop_reason == "tool_use"
    block = first.content[0]
    assert block.type == "tool_use"
    assert (block.id, block.name) == ("toolu_fake_1", "get_weather")
    assert block.input == {"location": "Paris", "days": 1}
    result = {"type": "tool_result", "tool_use_id": block.id, "content": "18C"}
    answered = await client.messages.create(
        model="c",
        max_tokens=9,
        tools=[WEATHER],
        messages=[
            *ASKED,
            {"role": "assistant", "content": [block.model_dump(exclude_none=True)]},
            {"role": "user", "content": [result]},
        ],
    )
    assert answered.stop_reason == "end_turn"
    assert answered.content[0].type == "text" and answered.content[0].text == ANSWER
    await client.close()


async def test_a_streamed_message_is_the_exact_event_sequence(upstream):
    answer = await post(
        upstream,
        "/v1/messages",
        {"model": "c", "max_tokens": 9, "messages": ASKED, "stream": True},
        **{"x-fake-chunks": "3"},
    )
    events = sse(answer.text)
    assert answer.headers["content-type"] == "text/event-stream"
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    parsed = [EVENTS.validate_python(data) for name, data in events if name != "ping"]
    assert all(name == data["type"] for name, data in events)
    deltas = [e.delta for e in parsed if e.type == "content_block_delta"]
    assert "".join(d.text for d in deltas if d.type == "text_delta") == ANSWER
    final = parsed[-2]
    assert final.type == "message_delta" and final.delta.stop_reason == "end_turn"
    assert final.usage.output_tokens == 16


async def test_a_streamed_tool_use_sends_its_input_as_json_pieces(upstream):
    answer = await post(
        upstream,
        "/v1/messages",
        {"model": "c", "max_tokens": 9, "messages": ASKED, "tools": [WEATHER], "stream": True},
    )
    parsed = [EVENTS.validate_python(data) for name, data in sse(answer.text) if name != "ping"]
    start = parsed[1]
    assert start.type == "content_block_start" and start.content_block.type == "tool_use"
    assert start.content_block.id == "toolu_fake_1"
    pieces = [
        e.delta.partial_json
        for e in parsed
        if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
    ]
    assert len(pieces) == 2
    assert json.loads("".join(pieces)) == {"location": "Paris", "days": 1}
    assert parsed[-2].type == "message_delta" and parsed[-2].delta.stop_reason == "tool_use"


async def test_the_official_sdk_streams_text_and_a_tool_use(upstream):
    client = sdk(upstream)
    async with client.messages.stream(model="c", max_tokens=9, messages=ASKED) as stream:
        assert await stream.get_final_text() == ANSWER
    async with client.messages.stream(
        model="c", max_tokens=9, messages=ASKED, tools=[WEATHER]
    ) as stream:
        message = await stream.get_final_message()
    assert message.content[0].type == "tool_use"
    assert message.content[0].input == {"location": "Paris", "days": 1}
    await client.close()


async def test_count_tokens_counts_the_words_of_system_and_text_blocks(upstream):
    client = sdk(upstream)
    counted = await client.messages.count_tokens(
        model="c",
        system="be brief",
        messages=[
            {"role": "user", "content": "one two three"},
            {"role": "assistant", "content": [{"type": "text", "text": "four"}]},
        ],
    )
    empty = await post(upstream, "/v1/messages/count_tokens", {"model": "c", "messages": []})
    assert counted.input_tokens == 6
    assert empty.json() == {"input_tokens": 1}
    await client.close()


@pytest.mark.parametrize(
    ("dropped", "status", "kind"),
    [
        ("x-api-key", 401, "authentication_error"),
        ("anthropic-version", 400, "invalid_request_error"),
    ],
)
async def test_a_request_without_a_required_header_is_refused(upstream, dropped, status, kind):
    headers = {name: value for name, value in HEADERS.items() if name != dropped}
    async with httpx.AsyncClient(base_url=upstream) as http:
        answer = await http.post(
            "/v1/messages",
            json={"model": "c", "max_tokens": 9, "messages": ASKED},
            headers=headers,
        )
    assert answer.status_code == status
    assert answer.json()["type"] == "error" and answer.json()["error"]["type"] == kind
    assert dropped in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    "payload",
    [
        {"model": "c", "messages": ASKED},
        {"model": "c", "messages": ASKED, "max_tokens": "9"},
        {"model": "c", "messages": "hi", "max_tokens": 9},
        {"messages": ASKED, "max_tokens": 9},
        [1, 2],
    ],
    ids=["no max_tokens", "max_tokens a string", "messages a string", "no model", "a list"],
)
async def test_a_malformed_request_is_an_invalid_request_error(upstream, payload):
    answer = await post(upstream, "/v1/messages", payload)
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("status", "kind", "raised"),
    [
        (500, "api_error", anthropic.InternalServerError),
        (529, "overloaded_error", anthropic.InternalServerError),
        (429, "rate_limit_error", anthropic.RateLimitError),
        (422, "invalid_request_error", anthropic.UnprocessableEntityError),
    ],
)
async def test_a_simulated_failure_answers_in_anthropics_error_shape(
    upstream, status, kind, raised
):
    client = sdk(upstream)
    with pytest.raises(raised) as failure:
        await client.messages.create(
            model="c",
            max_tokens=9,
            messages=ASKED,
            extra_headers={"x-fake-status": str(status)},
        )
    assert failure.value.status_code == status
    assert failure.value.body == {
        "type": "error",
        "error": {"type": kind, "message": f"simulated failure {status}"},
        "request_id": "req_fake",
    }
    await client.close()


async def test_control_headers_shape_the_stream_as_for_chat(upstream):
    async with httpx.AsyncClient(base_url=upstream) as http:
        await http.post("/_fake/reset")
        answer = await http.post(
            "/v1/messages",
            json={"model": "c", "max_tokens": 9, "messages": ASKED, "stream": True},
            headers={**HEADERS, "x-fake-chunks": "5", "x-fake-latency-ms": "20"},
        )
        stats = (await http.get("/_fake/stats")).json()
    names = [name for name, _ in sse(answer.text)]
    assert names.count("content_block_delta") == 5
    assert stats["streams_completed"] == 1
