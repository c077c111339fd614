"""Anthropic's Messages API and chat completions translated both ways, checked against the official
SDKs' types and, for whole answers and streams, parsed by the SDK clients themselves."""

import json

import anthropic
import httpx
import httpx2
import openai
import pydantic
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
from anthropic.types.shared import ErrorResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat.completion_create_params import CompletionCreateParamsNonStreaming

from routing.dataplane.dialects.anthropic import (
    count_tokens,
    error_body,
    error_from_openai,
    message_from_chat,
    messages_to_chat,
)
from routing.dataplane.dialects.anthropic_stream import ChatStreamAsMessages, MessagesStreamAsChat
from routing.dataplane.dialects.anthropic_upstream import (
    DEFAULT_MAX_TOKENS,
    chat_from_message,
    chat_to_messages,
    openai_error_from_anthropic,
)
from routing.dataplane.errors import GatewayError

STREAM_EVENT = pydantic.TypeAdapter(RawMessageStreamEvent)
MESSAGES_REQUEST = pydantic.TypeAdapter(MessageCreateParamsNonStreaming)
CHAT_REQUEST = pydantic.TypeAdapter(CompletionCreateParamsNonStreaming)
PNG = "iVBORw0KGgo="
HI = [{"role": "user", "content": "Hi"}]


def validated(adapter, value):
    """Validates a request against the SDK's TypedDicts; their lists are checked as iterated."""

    def materialize(item):
        if isinstance(item, dict):
            return {k: materialize(v) for k, v in item.items()}
        if isinstance(item, list | tuple) or hasattr(item, "__next__"):
            return [materialize(v) for v in item]
        return item

    return materialize(adapter.validate_python(value))


def rejected(translate, payload):
    with pytest.raises(GatewayError) as caught:
        translate(payload)
    assert caught.value.status == 400
    return caught.value.param


def anthropic_request(**members):
    return {
        "model": "claude",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hi"}],
        **members,
    }


def chat_request(**members):
    return {"model": "gpt", "messages": [{"role": "user", "content": "Hi"}], **members}


def replaying(http, body: bytes, status: int, content_type: str):
    """An HTTP client (of the SDK's own HTTP library) answering every request with these bytes."""

    def answer(request):
        return http.Response(status, content=body, headers={"content-type": content_type})

    return http.Client(transport=http.MockTransport(answer))


def anthropic_client(body: bytes, status: int = 200, content_type: str = "text/event-stream"):
    return anthropic.Anthropic(
        api_key="k",
        base_url="http://gateway",
        http_client=replaying(httpx2, body, status, content_type),
        max_retries=0,
    )


def openai_client(body: bytes, status: int = 200, content_type: str = "text/event-stream"):
    return openai.OpenAI(
        api_key="k",
        base_url="http://gateway/v1",
        http_client=replaying(httpx, body, status, content_type),
        max_retries=0,
    )


def fed(translator, stream: bytes, size: int | None = None) -> bytes:
    """The translator's output for a stream fed whole, or in pieces of `size` bytes."""
    pieces = (
        [stream] if size is None else [stream[i : i + size] for i in range(0, len(stream), size)]
    )
    return b"".join(translator.feed(piece) for piece in pieces) + translator.end()


def anthropic_events(out: bytes) -> list[dict]:
    events = []
    for frame in out.decode().split("\n\n"):
        if not frame:
            continue
        name_line, data_line = frame.split("\n")
        event = json.loads(data_line.removeprefix("data: "))
        assert name_line == f"event: {event['type']}"
        events.append(event)
    return events


def chat_chunks(out: bytes) -> list[dict | str]:
    frames = [frame for frame in out.decode().split("\n\n") if frame]
    assert all(frame.startswith("data: ") for frame in frames)
    return [json.loads(f[6:]) if f != "data: [DONE]" else "[DONE]" for f in (x for x in frames)]


# Direction 1: Messages clients, chat upstreams.


def test_it_keeps_the_model_limits_and_sampling_and_turns_the_system_into_a_first_message():
    request = messages_to_chat(
        anthropic_request(
            system=[{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}],
            stop_sequences=["END"],
            temperature=0.2,
            top_p=0.9,
            top_k=40,
            metadata={"user_id": "u-1"},
        )
    )
    assert request == {
        "model": "claude",
        "messages": [
            {"role": "system", "content": "Be brief.\n\nBe kind."},
            {"role": "user", "content": "Hi"},
        ],
        "max_tokens": 100,
        "stop": ["END"],
        "temperature": 0.2,
        "top_p": 0.9,
        "user": "u-1",
    }
    validated(CHAT_REQUEST, request)


def test_it_turns_images_into_image_url_parts():
    image = {"type": "base64", "media_type": "image/png", "data": PNG}
    content = [
        {"type": "text", "text": "What are these?"},
        {"type": "image", "source": image},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
    ]
    request = messages_to_chat(anthropic_request(messages=[{"role": "user", "content": content}]))
    assert request["messages"][0]["content"] == [
        {"type": "text", "text": "What are these?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
    ]
    validated(CHAT_REQUEST, request)


def test_it_turns_tool_use_into_tool_calls_and_tool_results_into_tool_messages_ahead_of_text():
    tool_use = [
        {"type": "thinking", "thinking": "…", "signature": "s"},
        {"type": "text", "text": "Looking."},
        {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}},
        {"type": "tool_use", "id": "toolu_2", "name": "time", "input": {}},
    ]
    results = [
        {"type": "text", "text": "Thanks, and then?"},
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Rain"},
        {
            "type": "tool_result",
            "tool_use_id": "toolu_2",
            "is_error": True,
            "content": [
                {"type": "text", "text": "clock"},
                {"type": "text", "text": "broken"},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/c.png"}},
            ],
        },
    ]
    messages = [
        {"role": "user", "content": "Weather and time in Oslo?"},
        {"role": "assistant", "content": tool_use},
        {"role": "user", "content": results},
    ]
    request = messages_to_chat(anthropic_request(messages=messages))
    assert request["messages"][1:] == [
        {
            "role": "assistant",
            "content": "Looking.",
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                },
                {
                    "id": "toolu_2",
                    "type": "function",
                    "function": {"name": "time", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "Rain"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: clock\nbroken"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Thanks, and then?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/c.png"}},
            ],
        },
    ]
    validated(CHAT_REQUEST, request)


def test_an_assistant_turn_of_tool_calls_alone_has_no_content():
    turn = {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}],
    }
    request = messages_to_chat(
        anthropic_request(messages=[{"role": "user", "content": "Go"}, turn])
    )
    assert request["messages"][1]["content"] is None
    assert request["messages"][1]["tool_calls"][0]["id"] == "t"


@pytest.mark.parametrize(
    ("choice", "expected", "parallel"),
    [
        ({"type": "auto"}, "auto", None),
        ({"type": "any", "disable_parallel_tool_use": True}, "required", False),
        (
            {"type": "tool", "name": "weather"},
            {"type": "function", "function": {"name": "weather"}},
            None,
        ),
        ({"type": "none"}, "none", None),
    ],
)
def test_it_turns_tools_and_the_tool_choice_into_function_tools(choice, expected, parallel):
    tool = {
        "name": "weather",
        "description": "Weather by city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    request = messages_to_chat(anthropic_request(tools=[tool], tool_choice=choice))
    assert request["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Weather by city",
                "parameters": tool["input_schema"],
            },
        }
    ]
    assert request["tool_choice"] == expected
    assert request.get("parallel_tool_calls") == parallel
    validated(CHAT_REQUEST, request)


def test_a_streamed_request_asks_the_upstream_for_usage():
    request = messages_to_chat(anthropic_request(stream=True))
    assert request["stream"] is True
    assert request["stream_options"] == {"include_usage": True}
    assert "stream" not in messages_to_chat(anthropic_request(stream=False))


@pytest.mark.parametrize(
    ("members", "param"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": "100"}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"model": 7}, "model"),
        ({"messages": None}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": {"role": "user"}}, "messages"),
        ({"messages": ["Hi"]}, "messages[0]"),
        ({"messages": [{"role": "system", "content": "Hi"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": ["x"]}]}, "messages[0].content[0]"),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]},
            "messages[0].content[0].text",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image", "source": "x"}]}]},
            "messages[0].content[0].source",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image", "source": {"type": "file"}}]}
                ]
            },
            "messages[0].content[0].source.type",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "tool_use"}]}]},
            "messages[0].content[0].type",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "document"}]}]},
            "messages[0].content[0].type",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": 3}]}
                ]
            },
            "messages[0].content[0].tool_use_id",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "t", "name": "f", "input": []}],
                    }
                ]
            },
            "messages[0].content[0].input",
        ),
        ({"system": 3}, "system"),
        ({"system": [{"type": "image"}]}, "system[0]"),
        ({"stop_sequences": "END"}, "stop_sequences"),
        ({"stop_sequences": [1]}, "stop_sequences[0]"),
        ({"temperature": "hot"}, "temperature"),
        ({"tools": {"name": "f"}}, "tools"),
        ({"tools": [{"name": "f"}]}, "tools[0].input_schema"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0].type"),
        ({"tool_choice": "auto"}, "tool_choice"),
        ({"tool_choice": {"type": "some"}}, "tool_choice.type"),
        ({"tool_choice": {"type": "tool"}}, "tool_choice.name"),
        ({"stream": "yes"}, "stream"),
        ({"metadata": ["u"]}, "metadata"),
        ({"metadata": {"user_id": 5}}, "metadata.user_id"),
    ],
)
def test_malformed_messages_requests_are_a_400_naming_the_member(members, param):
    assert rejected(messages_to_chat, anthropic_request(**members)) == param


def test_it_turns_a_chat_completion_into_a_message_the_sdk_reads():
    answer = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Checking.",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "w", "arguments": '{"a": 1}'},
                        },
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "v", "arguments": "{oops"},
                        },
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }
    message = Message.model_validate(message_from_chat(answer, "claude"))
    assert message.id == "msg_chatcmpl-1"
    assert message.model == "claude"
    assert [block.type for block in message.content] == ["text", "tool_use", "tool_use"]
    assert message.content[0].text == "Checking."
    assert (message.content[1].id, message.content[1].name, message.content[1].input) == (
        "call_1",
        "w",
        {"a": 1},
    )
    assert message.content[2].input == {}
    assert message.stop_reason == "tool_use"
    assert message.stop_sequence is None
    assert (message.usage.input_tokens, message.usage.output_tokens) == (11, 7)


@pytest.mark.parametrize(
    ("finish_reason", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
        (None, "end_turn"),
    ],
)
def test_each_finish_reason_becomes_its_stop_reason(finish_reason, stop_reason):
    answer = {"choices": [{"message": {"content": "x"}, "finish_reason": finish_reason}]}
    assert message_from_chat(answer, "claude")["stop_reason"] == stop_reason


@pytest.mark.parametrize(
    "answer",
    [{}, {"choices": "x"}, {"choices": [None]}, {"choices": [{"message": []}], "usage": 3}],
)
def test_a_chat_completion_missing_its_members_is_still_a_valid_message(answer):
    message = Message.model_validate(message_from_chat(answer, "claude"))
    assert message.content == []
    assert message.id.startswith("msg_")


def test_the_anthropic_sdk_reads_a_translated_answer_and_a_translated_error():
    answer = {"id": "c", "choices": [{"message": {"content": "Hello"}, "finish_reason": "stop"}]}
    body = json.dumps(message_from_chat(answer, "claude")).encode()
    client = anthropic_client(body, content_type="application/json")
    message = client.messages.create(model="claude", max_tokens=10, messages=HI)
    assert message.content[0].text == "Hello"
    client = anthropic_client(error_body(429, "Slow down."), 429, "application/json")
    with pytest.raises(anthropic.RateLimitError, match="Slow down"):
        client.messages.create(model="claude", max_tokens=10, messages=HI)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (422, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "overloaded_error"),
        (504, "timeout_error"),
        (529, "overloaded_error"),
    ],
)
def test_an_error_body_names_the_anthropic_type_of_its_status(status, kind):
    body = json.loads(error_body(status, "Nope."))
    assert body == {"type": "error", "error": {"type": kind, "message": "Nope."}}
    if kind != "request_too_large":  # a type the SDK's union leaves out (a proxy sends it)
        assert ErrorResponse.model_validate(body).error.type == kind


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'{"error": {"message": "Bad model.", "type": "invalid_request_error", "param": "model", "code": null}}',
            "Bad model.",
        ),
        (b'{"error": "Plain."}', "Plain."),
        (b"<html>Bad Gateway</html>", "<html>Bad Gateway</html>"),
        (b"", "The upstream answered with status 502."),
        (b"[1, 2]", "[1, 2]"),
    ],
)
def test_an_openai_error_keeps_its_message_in_anthropic_shape(body, message):
    translated = json.loads(error_from_openai(502, body))
    assert translated == {"type": "error", "error": {"type": "api_error", "message": message}}


def test_count_tokens_estimates_four_characters_a_token_and_a_fixed_count_an_image():
    text_only = count_tokens(
        {"model": "claude", "system": "x" * 40, "messages": [{"role": "user", "content": "y" * 40}]}
    )
    assert text_only == 20
    image = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    with_image = count_tokens(
        {"model": "claude", "messages": [{"role": "user", "content": [image]}]}
    )
    assert with_image == 1600
    tool = {"name": "weather", "input_schema": {"type": "object"}}
    with_tool = count_tokens(
        {
            "model": "claude",
            "system": "x" * 40,
            "messages": [{"role": "user", "content": "y" * 40}],
            "tools": [tool],
        }
    )
    assert with_tool > text_only
    assert count_tokens({"model": "claude", "messages": [{"role": "user", "content": ""}]}) == 1


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "claude", "messages": []}, "messages"),
        ({"model": "claude", "messages": [{"role": "bot", "content": "x"}]}, "messages[0].role"),
        (
            {"model": "claude", "messages": [{"role": "user", "content": "x"}], "tools": [3]},
            "tools[0]",
        ),
    ],
)
def test_count_tokens_rejects_what_messages_rejects_without_asking_for_max_tokens(payload, param):
    assert rejected(count_tokens, payload) == param


def chat_chunk(delta=None, finish_reason=None, **members) -> bytes:
    chunk = {
        "id": "chatcmpl-9",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt",
        **members,
    }
    if "choices" not in members:
        chunk["choices"] = [{"index": 0, "delta": delta or {}, "finish_reason": finish_reason}]
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


CHAT_TOOL_STREAM = b"".join(
    [
        chat_chunk({"role": "assistant", "content": ""}),
        chat_chunk({"content": "Let me "}),
        chat_chunk({"content": "check. ü"}),
        chat_chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "weather", "arguments": ""},
                    }
                ]
            }
        ),
        chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
        chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]}),
        chat_chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "time", "arguments": "{}"},
                    }
                ]
            }
        ),
        chat_chunk({}, "tool_calls"),
        chat_chunk(
            choices=[], usage={"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42}
        ),
        b"data: [DONE]\n\n",
    ]
).replace(b"\n\n", b"\r\n\r\n", 2)  # servers may end lines either way


def test_a_chat_stream_becomes_messages_events_the_sdk_types_accept():
    translator = ChatStreamAsMessages("claude", message_id="msg_1")
    events = anthropic_events(fed(translator, CHAT_TOOL_STREAM))
    for event in events:
        STREAM_EVENT.validate_python(event)
    assert [(e["type"], e.get("index")) for e in events] == [
        ("message_start", None),
        ("content_block_start", 0),
        ("content_block_delta", 0),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("content_block_start", 2),
        ("content_block_delta", 2),
        ("content_block_stop", 2),
        ("message_delta", None),
        ("message_stop", None),
    ]
    assert events[0]["message"]["id"] == "msg_1"
    assert events[5]["content_block"] == {
        "type": "tool_use",
        "id": "call_a",
        "name": "weather",
        "input": {},
    }
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    assert events[-2]["usage"] == {"output_tokens": 30, "input_tokens": 12}
    assert translator.usage == (12, 30)


@pytest.mark.parametrize("size", [1, 2, 7, 64])
def test_a_chat_stream_split_anywhere_translates_as_when_whole(size):
    whole = fed(ChatStreamAsMessages("claude", message_id="msg_1"), CHAT_TOOL_STREAM)
    assert fed(ChatStreamAsMessages("claude", message_id="msg_1"), CHAT_TOOL_STREAM, size) == whole


def test_the_anthropic_sdk_accumulates_a_translated_chat_stream_into_the_final_message():
    body = fed(ChatStreamAsMessages("claude"), CHAT_TOOL_STREAM, 3)
    client = anthropic_client(body)
    with client.messages.stream(model="claude", max_tokens=10, messages=HI) as stream:
        message = stream.get_final_message()
    assert message.content[0].text == "Let me check. ü"
    assert [(b.name, b.input) for b in message.content[1:]] == [
        ("weather", {"city": "Oslo"}),
        ("time", {}),
    ]
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 30)


def test_the_message_delta_waits_for_the_usage_chunk_that_follows_the_finish_reason():
    translator = ChatStreamAsMessages("claude")
    early = translator.feed(chat_chunk({"content": "Hi"}) + chat_chunk({}, "length"))
    assert b"content_block_stop" in early
    assert b"message_delta" not in early
    assert translator.usage is None
    late = anthropic_events(
        translator.feed(chat_chunk(choices=[], usage={"prompt_tokens": 3, "completion_tokens": 2}))
    )
    assert [e["type"] for e in late] == ["message_delta", "message_stop"]
    assert late[0]["delta"]["stop_reason"] == "max_tokens"
    assert late[0]["usage"] == {"output_tokens": 2, "input_tokens": 3}
    assert translator.feed(b"data: [DONE]\n\n") + translator.end() == b""


def test_a_chat_stream_without_usage_ends_at_done():
    translator = ChatStreamAsMessages("claude")
    events = anthropic_events(
        fed(
            translator, chat_chunk({"content": "Hi"}) + chat_chunk({}, "stop") + b"data: [DONE]\n\n"
        )
    )
    assert [e["type"] for e in events][-2:] == ["message_delta", "message_stop"]
    assert events[-2]["delta"]["stop_reason"] == "end_turn"
    assert events[-2]["usage"] == {"output_tokens": 0}
    assert translator.usage is None


def test_a_truncated_chat_stream_still_closes_its_block_and_its_message():
    translator = ChatStreamAsMessages("claude")
    events = anthropic_events(fed(translator, chat_chunk({"content": "Hal"}) + b'data: {"choi'))
    for event in events:
        STREAM_EVENT.validate_python(event)
    assert [e["type"] for e in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_an_empty_chat_stream_is_still_a_whole_message():
    events = anthropic_events(fed(ChatStreamAsMessages("claude"), b""))
    assert [e["type"] for e in events] == ["message_start", "message_delta", "message_stop"]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ({"message": "Boom.", "type": "server_error", "code": "upstream_error"}, "api_error"),
        (
            {"message": "Slow.", "type": "requests", "code": "rate_limit_exceeded"},
            "rate_limit_error",
        ),
        ({"message": "Bad.", "type": "invalid_request_error"}, "invalid_request_error"),
    ],
)
def test_an_error_in_a_chat_stream_becomes_an_anthropic_error_event(error, kind):
    translator = ChatStreamAsMessages("claude")
    stream = (
        chat_chunk({"content": "Hi"}) + b"data: " + json.dumps({"error": error}).encode() + b"\n\n"
    )
    events = anthropic_events(fed(translator, stream + chat_chunk({"content": "more"})))
    assert events[-1] == {"type": "error", "error": {"type": kind, "message": error["message"]}}
    assert "message_stop" not in [e["type"] for e in events]


def test_the_anthropic_sdk_raises_on_a_translated_stream_error():
    error = b'data: {"error": {"message": "Upstream broke.", "type": "server_error"}}\n\n'
    client = anthropic_client(
        fed(ChatStreamAsMessages("claude"), chat_chunk({"content": "Hi"}) + error)
    )
    with (
        pytest.raises(anthropic.APIStatusError, match="Upstream broke"),
        client.messages.stream(model="claude", max_tokens=10, messages=HI) as stream,
    ):
        stream.get_final_message()


# Direction 2: chat clients, a Messages upstream.


def test_it_turns_a_chat_request_into_a_messages_request():
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Use metric."}]},
        {"role": "user", "content": "Hi"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look:"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/a.jpg", "detail": "low"},
                },
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "time", "arguments": "not json"},
                },
                {"id": "call_3", "type": "function", "function": {"name": "map", "arguments": ""}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Rain"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "12:00"}]},
        {
            "role": "tool",
            "tool_call_id": "call_3",
            "content": [
                {"type": "text", "text": "See:"},
                {"type": "image_url", "image_url": {"url": "https://example.com/map.png"}},
            ],
        },
        {"role": "user", "content": "And tomorrow?"},
    ]
    request = chat_to_messages(
        chat_request(messages=messages, stop="END", temperature=0.5, top_p=0.8, user="u-1", seed=3)
    )
    assert request["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Use metric."},
    ]
    assert request["max_tokens"] == DEFAULT_MAX_TOKENS
    assert request["stop_sequences"] == ["END"]
    assert (request["temperature"], request["top_p"]) == (0.5, 0.8)
    assert request["metadata"] == {"user_id": "u-1"}
    assert "seed" not in request
    assert request["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Hi"},
                {"type": "text", "text": "Look:"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                },
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Oslo"}},
                {"type": "tool_use", "id": "call_2", "name": "time", "input": {}},
                {"type": "tool_use", "id": "call_3", "name": "map", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "Rain"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "12:00"},
                {
                    "type": "tool_result",
                    "tool_use_id": "call_3",
                    "content": [
                        {"type": "text", "text": "See:"},
                        {
                            "type": "image",
                            "source": {"type": "url", "url": "https://example.com/map.png"},
                        },
                    ],
                },
                {"type": "text", "text": "And tomorrow?"},
            ],
        },
    ]
    validated(MESSAGES_REQUEST, request)


@pytest.mark.parametrize(
    ("members", "max_tokens"),
    [
        ({"max_tokens": 50}, 50),
        ({"max_completion_tokens": 70, "max_tokens": 50}, 70),
        ({"max_completion_tokens": None, "max_tokens": 50}, 50),
        ({}, DEFAULT_MAX_TOKENS),
    ],
)
def test_the_messages_limit_comes_from_either_chat_limit_or_the_default(members, max_tokens):
    assert chat_to_messages(chat_request(**members))["max_tokens"] == max_tokens


@pytest.mark.parametrize(
    ("tool_choice", "parallel", "expected"),
    [
        (None, None, {"type": "auto"}),
        ("auto", False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", None, {"type": "any"}),
        ("none", False, {"type": "none"}),
        (
            {"type": "function", "function": {"name": "weather"}},
            None,
            {"type": "tool", "name": "weather"},
        ),
    ],
)
def test_it_turns_function_tools_and_the_tool_choice_into_messages_tools(
    tool_choice, parallel, expected
):
    tools = [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "By city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        },
        {"type": "function", "function": {"name": "time"}},
    ]
    members = {"tools": tools, "tool_choice": tool_choice, "parallel_tool_calls": parallel}
    request = chat_to_messages(chat_request(**{k: v for k, v in members.items() if v is not None}))
    assert request["tools"] == [
        {
            "name": "weather",
            "description": "By city",
            "input_schema": tools[0]["function"]["parameters"],
        },
        {"name": "time", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert request["tool_choice"] == expected
    validated(MESSAGES_REQUEST, request)


def test_a_chat_request_keeps_stream_and_drops_the_response_format():
    request = chat_to_messages(
        chat_request(stream=True, response_format={"type": "json_object"}, stop=["a", "b"])
    )
    assert request["stream"] is True
    assert request["stop_sequences"] == ["a", "b"]
    assert "response_format" not in request
    assert "stream_options" not in request


@pytest.mark.parametrize(
    ("members", "param"),
    [
        ({"n": 2}, "n"),
        ({"model": None}, "model"),
        ({"messages": []}, "messages"),
        ({"messages": "Hi"}, "messages"),
        ({"messages": [3]}, "messages[0]"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
        (
            {"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            "messages[0].content[0].type",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "u"}]}]},
            "messages[0].content[0].image_url",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": "data:image/png,abc"}}
                        ],
                    }
                ]
            },
            "messages[0].content[0].image_url.url",
        ),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        (
            {
                "messages": [
                    {
                        "role": "system",
                        "content": [{"type": "image_url", "image_url": {"url": "u"}}],
                    }
                ]
            },
            "messages[0].content",
        ),
        (
            {"messages": [{"role": "assistant", "tool_calls": {"id": "x"}}]},
            "messages[0].tool_calls",
        ),
        (
            {"messages": [{"role": "assistant", "tool_calls": [{"id": "x", "function": None}]}]},
            "messages[0].tool_calls[0].function",
        ),
        ({"max_tokens": -1}, "max_tokens"),
        ({"max_completion_tokens": 1.5}, "max_completion_tokens"),
        ({"stop": 5}, "stop"),
        ({"stop": ["a", 5]}, "stop[1]"),
        ({"tools": [{"type": "custom", "custom": {}}]}, "tools[0].type"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]},
            "tools[0].function.parameters",
        ),
        (
            {
                "tools": [{"type": "function", "function": {"name": "f"}}],
                "tool_choice": {"type": "function"},
            },
            "tool_choice.function",
        ),
        (
            {
                "tools": [{"type": "function", "function": {"name": "f"}}],
                "tool_choice": "sometimes",
            },
            "tool_choice",
        ),
        ({"user": 7}, "user"),
        ({"stream": 1}, "stream"),
    ],
)
def test_malformed_chat_requests_are_a_400_naming_the_member(members, param):
    assert rejected(chat_to_messages, chat_request(**members)) == param


def test_it_turns_a_message_into_a_chat_completion_the_sdk_reads():
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [
            {"type": "thinking", "thinking": "Hm.", "signature": "s"},
            {"type": "text", "text": "Checking "},
            {"type": "text", "text": "now."},
            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "cache_read_input_tokens": 90,
            "cache_creation_input_tokens": 5,
            "output_tokens": 4,
        },
    }
    completion = ChatCompletion.model_validate(chat_from_message(message, "gpt"))
    assert completion.id == "chatcmpl-msg_1"
    assert completion.model == "gpt"
    choice = completion.choices[0]
    assert choice.message.content == "Checking now."
    assert choice.message.tool_calls[0].id == "toolu_1"
    assert json.loads(choice.message.tool_calls[0].function.arguments) == {"city": "Oslo"}
    assert choice.finish_reason == "tool_calls"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (105, 4)
    assert completion.usage.total_tokens == 109
    assert completion.usage.prompt_tokens_details.cached_tokens == 90
    client = openai_client(
        json.dumps(chat_from_message(message, "gpt")).encode(), content_type="application/json"
    )
    assert (
        client.chat.completions.create(model="gpt", messages=HI).choices[0].message.content
        == "Checking now."
    )


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        (None, "stop"),
    ],
)
def test_each_stop_reason_becomes_its_finish_reason(stop_reason, finish_reason):
    completion = chat_from_message(
        {"content": [{"type": "text", "text": "x"}], "stop_reason": stop_reason}, "gpt"
    )
    assert completion["choices"][0]["finish_reason"] == finish_reason


@pytest.mark.parametrize(
    "answer", [{}, {"content": "x", "usage": []}, {"content": [None, {"type": "tool_use"}]}]
)
def test_a_message_missing_its_members_is_still_a_valid_chat_completion(answer):
    ChatCompletion.model_validate(chat_from_message(answer, "gpt"))


def test_an_anthropic_error_becomes_an_openai_error_the_sdk_raises():
    body = b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}, "request_id": "r"}'
    translated = json.loads(openai_error_from_anthropic(body))
    assert translated == {
        "error": {"message": "Overloaded", "type": "overloaded_error", "param": None, "code": None}
    }
    client = openai_client(openai_error_from_anthropic(body), 529, "application/json")
    with pytest.raises(openai.APIStatusError, match="Overloaded") as caught:
        client.chat.completions.create(model="gpt", messages=HI)
    assert caught.value.type == "overloaded_error"


@pytest.mark.parametrize("body", [b"<html>", b"", b'{"error": "x"}', b"[]", b'{"type": "error"}'])
def test_an_unreadable_anthropic_error_passes_through_unchanged(body):
    assert openai_error_from_anthropic(body) == body


def anthropic_event(data: dict) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


MESSAGES_TOOL_STREAM = b"".join(
    anthropic_event(event)
    for event in [
        {
            "type": "message_start",
            "message": {
                "id": "msg_7",
                "type": "message",
                "role": "assistant",
                "model": "claude",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 25, "cache_read_input_tokens": 5, "output_tokens": 1},
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "Okay, "},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "checking ü."},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": ""},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"city": "Os'},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": 'lo"}'},
        },
        {"type": "content_block_stop", "index": 1},
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "tool_use", "id": "toolu_2", "name": "time", "input": {}},
        },
        {"type": "content_block_stop", "index": 2},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 40, "input_tokens": None},
        },
        {"type": "message_stop"},
    ]
)


def test_a_messages_stream_becomes_chat_chunks_the_sdk_types_accept():
    translator = MessagesStreamAsChat("gpt", include_usage=True)
    chunks = chat_chunks(fed(translator, MESSAGES_TOOL_STREAM))
    assert chunks[-1] == "[DONE]"
    parsed = [ChatCompletionChunk.model_validate(c) for c in chunks[:-1]]
    assert {c.id for c in parsed} == {"chatcmpl-msg_7"}
    assert parsed[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in parsed if c.choices)
    assert text == "Okay, checking ü."
    calls = [call for c in parsed if c.choices for call in c.choices[0].delta.tool_calls or []]
    assert [(c.index, c.id, c.function.name) for c in calls if c.id] == [
        (0, "toolu_1", "weather"),
        (1, "toolu_2", "time"),
    ]
    assert "".join(c.function.arguments for c in calls if c.index == 0) == '{"city": "Oslo"}'
    assert [
        c.choices[0].finish_reason for c in parsed if c.choices and c.choices[0].finish_reason
    ] == ["tool_calls"]
    assert parsed[-1].choices == []
    assert (parsed[-1].usage.prompt_tokens, parsed[-1].usage.completion_tokens) == (30, 40)
    assert translator.usage == (30, 40)


@pytest.mark.parametrize("size", [1, 3, 50])
def test_a_messages_stream_split_anywhere_translates_as_when_whole(size):
    def translator():
        t = MessagesStreamAsChat("gpt", include_usage=True)
        t.created = 1
        return t

    assert fed(translator(), MESSAGES_TOOL_STREAM, size) == fed(translator(), MESSAGES_TOOL_STREAM)


def test_the_openai_sdk_reads_a_translated_messages_stream_without_usage_unless_asked():
    client = openai_client(
        fed(MessagesStreamAsChat("gpt", include_usage=False), MESSAGES_TOOL_STREAM, 5)
    )
    chunks = list(client.chat.completions.create(model="gpt", messages=HI, stream=True))
    assert all(chunk.choices for chunk in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Okay, checking ü."


def test_an_error_in_a_messages_stream_becomes_an_openai_error_the_sdk_raises():
    stream = MESSAGES_TOOL_STREAM.split(b"event: content_block_stop")[0] + anthropic_event(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    )
    out = fed(MessagesStreamAsChat("gpt", include_usage=True), stream)
    assert chat_chunks(out)[-1] == {
        "error": {"message": "Overloaded", "type": "overloaded_error", "param": None, "code": None}
    }
    client = openai_client(out)
    with pytest.raises(openai.APIError, match="Overloaded"):
        list(client.chat.completions.create(model="gpt", messages=HI, stream=True))


def test_a_truncated_messages_stream_still_finishes_and_ends_with_done():
    stream = MESSAGES_TOOL_STREAM.split(b"event: message_delta")[0][:-7]
    chunks = chat_chunks(fed(MessagesStreamAsChat("gpt", include_usage=True), stream))
    assert chunks[-1] == "[DONE]"
    assert chunks[-3]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-2]["usage"]["prompt_tokens"] == 30
    for chunk in chunks[:-1]:
        ChatCompletionChunk.model_validate(chunk)
