"""The Responses API over chat completions: requests, whole answers, streams and the stored
conversation, checked against the official OpenAI SDK's own types and stream reader."""

import json

import httpx2
import openai
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from routing.dataplane.dialects.responses import (
    ChatStreamAsResponses,
    conversation_after,
    new_response_id,
    response_from_chat,
    responses_to_chat,
)
from routing.dataplane.errors import GatewayError

EVENT = TypeAdapter(ResponseStreamEvent)
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": True,
}
USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 5,
    "total_tokens": 17,
    "prompt_tokens_details": {"cached_tokens": 4},
    "completion_tokens_details": {"reasoning_tokens": 1},
}


def answer(content=None, tool_calls=None, finish_reason="stop"):
    message = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "small-2025",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": USAGE,
    }


def weather_call(index=0, call_id="call_a", city="Paris"):
    arguments = json.dumps({"city": city})
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": "get_weather", "arguments": arguments},
        "index": index,
    }


def sse(*chunks, done=True):
    body = b"".join(b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in chunks)
    return body + (b"data: [DONE]\n\n" if done else b"")


def chunk(delta=None, finish_reason=None, **extra):
    choice = {"index": 0, "delta": delta or {}, "finish_reason": finish_reason}
    return {"id": "chatcmpl-1", "model": "small-2025", "choices": [choice], **extra}


def usage_chunk():
    return {"id": "chatcmpl-1", "model": "small-2025", "choices": [], "usage": USAGE}


TEXT_STREAM = sse(
    chunk({"role": "assistant", "content": ""}),
    chunk({"content": "Bonjour"}),
    chunk({"content": " à tous"}),
    chunk(finish_reason="stop"),
    usage_chunk(),
)


def call_delta(index, arguments, call_id=None):
    """A streamed tool call piece; the first piece of each call carries its id and name."""
    call = {"index": index, "function": {"arguments": arguments}}
    if call_id:
        call |= {"id": call_id, "type": "function"}
        call["function"]["name"] = "get_weather"
    return chunk({"tool_calls": [call]})


TOOL_STREAM = sse(
    chunk({"role": "assistant", "content": "Let me look."}),
    call_delta(0, "", "call_a"),
    call_delta(0, '{"city": '),
    call_delta(0, '"Paris"}'),
    call_delta(1, '{"city": "Oslo"}', "call_b"),
    chunk(finish_reason="tool_calls"),
    usage_chunk(),
)


def events_of(raw):
    """The stream's events, each checked to be SSE with an event name matching its type."""
    events = []
    for block in raw.decode().split("\n\n"):
        if not block:
            continue
        name_line, data_line = block.split("\n")
        event = json.loads(data_line.removeprefix("data: "))
        assert name_line == f"event: {event['type']}"
        events.append(event)
    return events


def stream(request, raw, pieces=None):
    translator = ChatStreamAsResponses(request, "resp_0123abcd", 1700000000)
    pieces = pieces if pieces is not None else [raw]
    out = b"".join(translator.feed(piece) for piece in pieces) + translator.end()
    events = events_of(out)
    for event in events:
        EVENT.validate_python(event)
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    return translator, events


def bad(payload, param):
    with pytest.raises(GatewayError) as caught:
        responses_to_chat(payload)
    assert caught.value.status == 400
    assert caught.value.param == param
    return caught.value


def sdk_client(handler):
    """The official SDK, strict about what it parses, answered by `handler`."""
    return openai.OpenAI(
        api_key="sk-test",
        base_url="http://gateway.test/v1",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        max_retries=0,
        _strict_response_validation=True,
    )


# Requests


def test_it_turns_a_string_input_into_one_user_message():
    chat = responses_to_chat({"model": "small", "input": "Hello"})
    assert chat == {"model": "small", "messages": [{"role": "user", "content": "Hello"}]}


def test_it_puts_instructions_first_then_the_history_then_the_new_input():
    history = [
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Hello Ada."},
    ]
    chat = responses_to_chat(
        {"model": "small", "instructions": "Be brief.", "input": "What is my name?"}, history
    )
    assert chat["messages"] == [
        {"role": "system", "content": "Be brief."},
        *history,
        {"role": "user", "content": "What is my name?"},
    ]


def test_it_translates_message_items_and_their_content_parts():
    chat = responses_to_chat(
        {
            "model": "small",
            "input": [
                {"type": "message", "role": "developer", "content": "Answer in French."},
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "What is this?"},
                        {
                            "type": "input_image",
                            "image_url": "https://x.test/a.png",
                            "detail": "low",
                        },
                    ],
                },
                {
                    "type": "message",
                    "role": "assistant",
                    "id": "msg_1",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": "Un chat.", "annotations": []}],
                },
            ],
        }
    )
    assert chat["messages"] == [
        {"role": "system", "content": "Answer in French."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://x.test/a.png", "detail": "low"},
                },
            ],
        },
        {"role": "assistant", "content": "Un chat."},
    ]


def test_it_refuses_an_image_given_by_file_id():
    error = bad(
        {
            "model": "small",
            "input": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "Look"},
                        {"type": "input_image", "file_id": "file-1", "detail": "auto"},
                    ],
                }
            ],
        },
        "input[0].content[1].file_id",
    )
    assert "file_id" in error.message


def test_it_merges_function_calls_into_one_assistant_message_and_outputs_into_tool_messages():
    chat = responses_to_chat(
        {
            "model": "small",
            "input": [
                {"role": "user", "content": "Weather in Paris and Oslo?"},
                {
                    "type": "function_call",
                    "call_id": "call_a",
                    "name": "get_weather",
                    "arguments": '{"city": "Paris"}',
                },
                {
                    "type": "function_call",
                    "call_id": "call_b",
                    "name": "get_weather",
                    "arguments": '{"city": "Oslo"}',
                },
                {"type": "function_call_output", "call_id": "call_a", "output": "18C"},
                {
                    "type": "function_call_output",
                    "call_id": "call_b",
                    "output": [{"type": "input_text", "text": "9C"}],
                },
            ],
        }
    )
    assert chat["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_b", "content": "9C"},
    ]


@pytest.mark.parametrize("kind", ["reasoning", "web_search_call", "item_reference"])
def test_it_refuses_input_items_it_cannot_translate(kind):
    error = bad({"model": "small", "input": [{"type": kind, "id": "x"}]}, "input")
    assert kind in error.message


def test_it_translates_function_tools_and_tool_choice():
    chat = responses_to_chat(
        {
            "model": "small",
            "input": "Weather?",
            "tools": [WEATHER],
            "tool_choice": {"type": "function", "name": "get_weather"},
        }
    )
    assert chat["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city.",
                "parameters": WEATHER["parameters"],
                "strict": True,
            },
        }
    ]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    for choice in ("auto", "none", "required"):
        payload = {"model": "small", "input": "x", "tools": [WEATHER], "tool_choice": choice}
        assert responses_to_chat(payload)["tool_choice"] == choice


@pytest.mark.parametrize(
    "tool", [{"type": "web_search"}, {"type": "file_search", "vector_store_ids": ["vs_1"]}]
)
def test_it_refuses_built_in_tools(tool):
    bad({"model": "small", "input": "x", "tools": [WEATHER, tool]}, "tools")


def test_it_turns_text_format_into_response_format():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    form = {"type": "json_schema", "name": "count", "schema": schema, "strict": True}
    chat = responses_to_chat({"model": "small", "input": "x", "text": {"format": form}})
    assert chat["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "count", "schema": schema, "strict": True},
    }
    json_mode = {"model": "small", "input": "x", "text": {"format": {"type": "json_object"}}}
    assert responses_to_chat(json_mode)["response_format"] == {"type": "json_object"}
    plain = {"model": "small", "input": "x", "text": {"format": {"type": "text"}}}
    assert "response_format" not in responses_to_chat(plain)


def test_it_renames_max_output_tokens_keeps_sampling_and_drops_what_chat_lacks():
    chat = responses_to_chat(
        {
            "model": "small",
            "input": "x",
            "max_output_tokens": 50,
            "temperature": 0.2,
            "top_p": 0.9,
            "parallel_tool_calls": False,
            "user": "u-1",
            "store": True,
            "metadata": {"k": "v"},
            "reasoning": {"effort": "low"},
            "truncation": "auto",
            "include": ["message.output_text.logprobs"],
            "background": False,
            "previous_response_id": "resp_1",
        }
    )
    assert chat == {
        "model": "small",
        "messages": [{"role": "user", "content": "x"}],
        "max_completion_tokens": 50,
        "temperature": 0.2,
        "top_p": 0.9,
        "parallel_tool_calls": False,
        "user": "u-1",
    }


def test_it_asks_for_usage_when_streaming():
    chat = responses_to_chat({"model": "small", "input": "x", "stream": True})
    assert chat["stream"] is True
    assert chat["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"model": None}, "model"),
        ({"model": 3}, "model"),
        ({"input": None}, "input"),
        ({"input": []}, "input"),
        ({"input": 42}, "input"),
        ({"input": {"role": "user"}}, "input"),
        ({"input": ["hi"]}, "input[0]"),
        ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"input": [{"role": ["user"], "content": "x"}]}, "input[0].role"),
        ({"input": [{"role": "user"}]}, "input[0].content"),
        ({"input": [{"role": "user", "content": 5}]}, "input[0].content"),
        ({"input": [{"role": "user", "content": ["x"]}]}, "input[0].content[0]"),
        ({"input": [{"role": "user", "content": [{"type": "audio"}]}]}, "input[0].content[0].type"),
        ({"input": [{"role": "user", "content": [{"type": ["x"]}]}]}, "input[0].content[0].type"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_text", "text": 1}]}]},
            "input[0].content[0].text",
        ),
        (
            {
                "input": [
                    {
                        "role": "user",
                        "content": [{"type": "input_image", "image_url": {"url": "u"}}],
                    }
                ]
            },
            "input[0].content[0].image_url",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]}]},
            "input[0].content[0].file_data",
        ),
        (
            {"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
            "input[0].call_id",
        ),
        (
            {"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": {}}]},
            "input[0].arguments",
        ),
        (
            {"input": [{"type": "function_call_output", "call_id": "c", "output": 7}]},
            "input[0].output",
        ),
        (
            {
                "input": [
                    {
                        "type": "function_call_output",
                        "call_id": "c",
                        "output": [{"type": "input_image", "image_url": "u"}],
                    }
                ]
            },
            "input[0].output",
        ),
        ({"input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
        ({"tools": {"type": "function"}}, "tools"),
        ({"tools": ["get_weather"]}, "tools[0]"),
        ({"tools": [{"type": "function"}]}, "tools[0].name"),
        ({"tools": [{"type": "function", "name": "f", "parameters": []}]}, "tools[0].parameters"),
        ({"tools": [{"type": "function", "name": "f", "strict": "yes"}]}, "tools[0].strict"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"tool_choice": ["auto"]}, "tool_choice"),
        ({"tool_choice": {"type": "web_search"}}, "tool_choice"),
        ({"tool_choice": {"type": "function"}}, "tool_choice.name"),
        ({"text": ["json"]}, "text"),
        ({"text": {"format": "json"}}, "text.format"),
        ({"text": {"format": {"type": "xml"}}}, "text.format.type"),
        ({"text": {"format": {"type": "json_schema", "schema": {}}}}, "text.format.name"),
        (
            {"text": {"format": {"type": "json_schema", "name": "n", "schema": []}}},
            "text.format.schema",
        ),
        ({"text": {"verbosity": "loud"}}, "text"),
        ({"max_output_tokens": "10"}, "max_output_tokens"),
        ({"max_output_tokens": True}, "max_output_tokens"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"temperature": "hot"}, "temperature"),
        ({"temperature": True}, "temperature"),
        ({"parallel_tool_calls": "yes"}, "parallel_tool_calls"),
        ({"instructions": ["Be brief."]}, "instructions"),
        ({"metadata": {"k": 1}}, "metadata"),
        ({"metadata": "k=v"}, "metadata"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
    ],
)
def test_it_answers_malformed_requests_with_a_400_naming_the_member(change, param):
    payload = {"model": "small", "input": "x", **change}
    bad({k: v for k, v in payload.items() if v is not None}, param)


@pytest.mark.parametrize("payload", [[], "text", 3, None])
def test_it_answers_a_body_that_is_not_an_object_with_a_400(payload):
    with pytest.raises(GatewayError) as caught:
        responses_to_chat(payload)
    assert caught.value.status == 400


# Whole answers


def test_it_builds_a_response_the_sdk_reads_with_its_text():
    request = {"model": "small", "input": "Hi", "instructions": "Be brief."}
    response = response_from_chat(
        answer("Hello there."), request, response_id="resp_1", created_at=1700000000
    )
    parsed = Response.model_validate(response)
    assert parsed.output_text == "Hello there."
    assert parsed.status == "completed"
    assert parsed.model == "small-2025"
    assert parsed.instructions == "Be brief."
    assert parsed.output[0].id.startswith("msg_")
    assert parsed.usage is not None
    assert (parsed.usage.input_tokens, parsed.usage.output_tokens) == (12, 5)
    assert parsed.usage.input_tokens_details.cached_tokens == 4
    assert parsed.usage.output_tokens_details.reasoning_tokens == 1
    assert parsed.usage.total_tokens == 17


def test_it_turns_tool_calls_into_function_call_items():
    request = {"model": "small", "input": "Weather?", "tools": [WEATHER]}
    calls = [weather_call(0, "call_a", "Paris"), weather_call(1, "call_b", "Oslo")]
    response = response_from_chat(
        answer(None, calls, "tool_calls"), request, response_id="resp_1", created_at=1
    )
    parsed = Response.model_validate(response)
    assert [item.type for item in parsed.output] == ["function_call", "function_call"]
    first = response["output"][0]
    assert first["id"].startswith("fc_")
    assert first["call_id"] == "call_a"
    assert first["name"] == "get_weather"
    assert json.loads(first["arguments"]) == {"city": "Paris"}
    assert first["status"] == "completed"
    assert len({item["id"] for item in response["output"]}) == 2
    assert response["tools"] == [WEATHER]
    assert parsed.output_text == ""


def test_a_length_finish_makes_the_response_incomplete():
    response = response_from_chat(
        answer("Once upon a", finish_reason="length"),
        {"model": "small", "input": "Story", "max_output_tokens": 3},
        response_id="resp_1",
        created_at=1,
    )
    parsed = Response.model_validate(response)
    assert parsed.status == "incomplete"
    assert parsed.incomplete_details is not None
    assert parsed.incomplete_details.reason == "max_output_tokens"
    assert parsed.max_output_tokens == 3
    assert parsed.output_text == "Once upon a"


def test_it_echoes_the_request_with_the_defaults_the_sdk_expects():
    response = response_from_chat(
        answer("ok"), {"model": "small", "input": "x"}, response_id="resp_1", created_at=5
    )
    assert response["tool_choice"] == "auto"
    assert response["parallel_tool_calls"] is True
    assert response["text"] == {"format": {"type": "text"}}
    assert response["metadata"] == {}
    assert response["tools"] == []
    assert response["error"] is None
    assert response["truncation"] == "disabled"
    assert response["object"] == "response"
    assert response["created_at"] == 5
    assert "output_text" not in response
    Response.model_validate(response)


def test_a_strange_chat_answer_still_makes_a_response():
    for strange in ({}, {"choices": "none"}, {"choices": [7]}, {"choices": [{"message": []}]}):
        response = response_from_chat(
            strange, {"model": "small", "input": "x"}, response_id="resp_1", created_at=1
        )
        assert Response.model_validate(response).output == []


def test_new_response_ids_are_unique_and_look_like_openais():
    ids = {new_response_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(i.startswith("resp_") and len(i) > 20 for i in ids)


# Conversations kept for previous_response_id


def test_the_conversation_leaves_out_the_instructions_and_ends_with_the_answer():
    request = {"model": "small", "instructions": "Be brief.", "input": "Hi", "tools": [WEATHER]}
    chat = responses_to_chat(request)
    response = response_from_chat(
        answer("Let me look.", [weather_call()], "tool_calls"),
        request,
        response_id="resp_1",
        created_at=1,
    )
    assert conversation_after(chat, response) == [
        {"role": "user", "content": "Hi"},
        {
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
    ]


def test_a_tool_call_then_its_output_in_a_follow_up_reaches_the_model_in_order():
    first = {
        "model": "small",
        "instructions": "Old rules.",
        "input": "Weather?",
        "tools": [WEATHER],
    }
    first_chat = responses_to_chat(first)
    response = response_from_chat(
        answer(None, [weather_call()], "tool_calls"), first, response_id="resp_1", created_at=1
    )
    history = conversation_after(first_chat, response)
    follow_up = {
        "model": "small",
        "instructions": "New rules.",
        "previous_response_id": "resp_1",
        "input": [{"type": "function_call_output", "call_id": "call_a", "output": "18C"}],
    }
    messages = responses_to_chat(follow_up, history)["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
    assert messages[0]["content"] == "New rules."
    assert messages[2]["tool_calls"][0]["id"] == messages[3]["tool_call_id"] == "call_a"
    assert messages[2]["content"] is None


def test_a_responses_output_sent_back_as_input_becomes_one_assistant_message():
    request = {"model": "small", "input": "Weather?", "tools": [WEATHER]}
    response = response_from_chat(
        answer("Let me look.", [weather_call()], "tool_calls"),
        request,
        response_id="resp_1",
        created_at=1,
    )
    replay = [
        {"role": "user", "content": "Weather?"},
        *response["output"],
        {"type": "function_call_output", "call_id": "call_a", "output": "18C"},
    ]
    messages = responses_to_chat({**request, "input": replay})["messages"]
    assert messages[1]["content"] == "Let me look."
    assert messages[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]


# Streams


def test_a_text_stream_becomes_the_responses_events_in_order():
    request = {"model": "small", "input": "Salut", "stream": True}
    translator, events = stream(request, TEXT_STREAM)
    assert [event["type"] for event in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[0]["response"]["status"] == "in_progress"
    assert events[0]["response"]["output"] == []
    added = events[2]
    assert added["item"]["status"] == "in_progress"
    assert added["item"]["content"] == []
    deltas = [e for e in events if e["type"] == "response.output_text.delta"]
    assert [e["delta"] for e in deltas] == ["Bonjour", " à tous"]
    assert all(e["item_id"] == added["item"]["id"] and e["logprobs"] == [] for e in deltas)
    assert events[6]["text"] == "Bonjour à tous"
    completed = Response.model_validate(events[-1]["response"])
    assert completed.output_text == "Bonjour à tous"
    assert completed.status == "completed"
    assert translator.final == events[-1]["response"]
    assert translator.usage == (12, 5)


def test_a_stream_ends_in_the_response_a_whole_answer_would_make():
    request = {"model": "small", "input": "Weather?", "tools": [WEATHER], "stream": True}
    translator, _ = stream(request, TOOL_STREAM)
    whole = response_from_chat(
        answer(
            "Let me look.",
            [weather_call(0, "call_a"), weather_call(1, "call_b", "Oslo")],
            "tool_calls",
        ),
        request,
        response_id="resp_0123abcd",
        created_at=1700000000,
    )
    assert translator.final == whole


def test_a_tool_call_stream_opens_and_closes_each_function_call():
    request = {"model": "small", "input": "Weather?", "tools": [WEATHER], "stream": True}
    _, events = stream(request, TOOL_STREAM)
    kinds = [event["type"] for event in events]
    # The message closes before the first call opens, as OpenAI sends them.
    assert kinds.index("response.output_item.done") < kinds.index(
        "response.function_call_arguments.delta"
    )
    added = [e for e in events if e["type"] == "response.output_item.added"]
    assert [(e["output_index"], e["item"]["type"]) for e in added] == [
        (0, "message"),
        (1, "function_call"),
        (2, "function_call"),
    ]
    assert added[1]["item"]["arguments"] == ""
    assert added[1]["item"]["call_id"] == "call_a"
    first_id = added[1]["item"]["id"]
    deltas = [
        e["delta"]
        for e in events
        if e["type"] == "response.function_call_arguments.delta" and e["item_id"] == first_id
    ]
    assert "".join(deltas) == '{"city": "Paris"}'
    done = [e for e in events if e["type"] == "response.function_call_arguments.done"]
    assert [e["arguments"] for e in done] == ['{"city": "Paris"}', '{"city": "Oslo"}']
    items_done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert [item["status"] for item in items_done] == ["completed"] * 3
    assert events[-1]["type"] == "response.completed"


@pytest.mark.parametrize("raw", [TEXT_STREAM, TOOL_STREAM], ids=["text", "tools"])
def test_a_stream_split_anywhere_gives_the_same_events(raw):
    request = {"model": "small", "input": "x", "tools": [WEATHER], "stream": True}
    _, whole = stream(request, raw)
    _, bytewise = stream(request, raw, [raw[i : i + 1] for i in range(len(raw))])
    assert bytewise == whole
    for cut in range(1, len(raw), 7):
        _, halves = stream(request, raw, [raw[:cut], raw[cut:]])
        assert halves == whole


def test_a_stream_with_crlf_lines_and_comments_reads_the_same():
    request = {"model": "small", "input": "x", "stream": True}
    noisy = b": keep-alive\r\n\r\n" + TEXT_STREAM.replace(b"\n", b"\r\n")
    assert stream(request, noisy)[1] == stream(request, TEXT_STREAM)[1]


def test_the_final_event_waits_for_the_usage_that_follows_the_finish_reason():
    request = {"model": "small", "input": "x", "stream": True}
    translator = ChatStreamAsResponses(request, "resp_1", 1)
    early = events_of(
        translator.feed(sse(chunk({"content": "Hi"}), chunk(finish_reason="stop"), done=False))
    )
    assert early[-1]["type"] == "response.output_item.done"
    assert translator.final is None
    late = events_of(translator.feed(sse(usage_chunk())))
    assert [event["type"] for event in late] == ["response.completed"]
    assert late[0]["response"]["usage"]["input_tokens"] == 12
    assert translator.end() == b""


def test_a_length_finish_in_a_stream_ends_in_response_incomplete():
    request = {"model": "small", "input": "x", "max_output_tokens": 2, "stream": True}
    raw = sse(chunk({"content": "Once upon"}), chunk(finish_reason="length"), usage_chunk())
    translator, events = stream(request, raw)
    assert events[-1]["type"] == "response.incomplete"
    parsed = Response.model_validate(events[-1]["response"])
    assert parsed.status == "incomplete"
    assert parsed.incomplete_details is not None
    assert parsed.incomplete_details.reason == "max_output_tokens"
    done = [e for e in events if e["type"] == "response.output_item.done"]
    assert done[-1]["item"]["status"] == "incomplete"
    assert translator.final is not None and translator.final["status"] == "incomplete"


def test_an_error_in_the_stream_becomes_response_failed():
    request = {"model": "small", "input": "x", "stream": True}
    error = {
        "error": {"message": "Too many requests", "type": "requests", "code": "rate_limit_exceeded"}
    }
    translator, events = stream(request, sse(chunk({"content": "Hi"}), error))
    assert events[-1]["type"] == "response.failed"
    failed = Response.model_validate(events[-1]["response"])
    assert failed.status == "failed"
    assert failed.error is not None
    assert (failed.error.code, failed.error.message) == ("rate_limit_exceeded", "Too many requests")
    assert translator.final is not None and translator.final["status"] == "failed"
    assert [e["type"] for e in events].count("response.failed") == 1


@pytest.mark.parametrize(
    "raw",
    [
        sse(chunk({"content": "Hi"}), done=False),  # cut before any finish reason
        b"data: {not json}\n\n",
        b"",
        sse({"error": "upstream died"}),
    ],
    ids=["cut", "garbage", "empty", "string-error"],
)
def test_a_broken_stream_still_ends_in_a_terminal_event(raw):
    translator, events = stream({"model": "small", "input": "x", "stream": True}, raw)
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["error"]["code"] == "server_error"
    assert translator.final is not None and translator.usage is None


def test_a_stream_cut_after_its_finish_reason_completes_without_usage():
    raw = sse(chunk({"content": "Hi"}), chunk(finish_reason="stop"), done=False)
    translator, events = stream({"model": "small", "input": "x", "stream": True}, raw)
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["usage"] is None
    assert translator.usage is None


def test_a_refusal_streams_as_refusal_events_and_ends_as_a_whole_answer_would():
    request = {"model": "small", "input": "x", "stream": True}
    raw = sse(chunk({"refusal": "I can't "}), chunk({"refusal": "help."}, "stop"), usage_chunk())
    translator, events = stream(request, raw)
    kinds = [event["type"] for event in events]
    assert kinds.count("response.refusal.delta") == 2
    done = events[kinds.index("response.refusal.done")]
    assert done["refusal"] == "I can't help."
    message = {"role": "assistant", "content": None, "refusal": "I can't help."}
    whole = answer() | {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
    expected = response_from_chat(
        whole, request, response_id="resp_0123abcd", created_at=1700000000
    )
    assert translator.final == expected
    assert expected["output"][0]["content"] == [{"type": "refusal", "refusal": "I can't help."}]


def test_a_tool_call_without_an_id_or_with_object_arguments_still_makes_a_call_item():
    call = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome"}}}
    response = response_from_chat(
        answer(None, [call], "tool_calls"),
        {"model": "small", "input": "x"},
        response_id="resp_1",
        created_at=1,
    )
    item = Response.model_validate(response).output[0]
    assert item.type == "function_call"
    assert item.call_id.startswith("call_")
    assert json.loads(item.arguments) == {"city": "Rome"}


def test_odd_chunks_do_not_break_the_stream():
    odd = [
        {"choices": "many"},
        {"choices": [1, {"index": 0, "delta": []}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [3, {"function": "f"}]}}]},
        {"choices": [{"index": 0, "delta": {"content": 5, "refusal": None}}]},
        [1, 2],
        chunk({"content": "ok"}, finish_reason="stop"),
    ]
    _, events = stream({"model": "small", "input": "x", "stream": True}, sse(*odd))
    assert events[-1]["type"] == "response.completed"
    assert Response.model_validate(events[-1]["response"]).output_text == "ok"


# The official SDK, end to end over HTTP


def test_the_sdk_reads_a_whole_response():
    def handler(request):
        payload = json.loads(request.content)
        chat = responses_to_chat(payload)
        assert chat["messages"][0] == {"role": "system", "content": "Be brief."}
        body = response_from_chat(answer("Hi!"), payload, response_id="resp_9", created_at=1)
        return httpx2.Response(200, json=body)

    response = sdk_client(handler).responses.create(
        model="small", instructions="Be brief.", input="Hello"
    )
    assert response.id == "resp_9"
    assert response.output_text == "Hi!"


def test_the_sdk_stream_helper_accumulates_the_events_into_the_final_response():
    def handler(request):
        payload = json.loads(request.content)
        translator = ChatStreamAsResponses(payload, "resp_9", 1)
        body = b"".join(
            translator.feed(TOOL_STREAM[i : i + 5]) for i in range(0, len(TOOL_STREAM), 5)
        )
        body += translator.end()
        return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})

    client = sdk_client(handler)
    with client.responses.stream(
        model="small",
        input="Weather in Paris and Oslo?",
        tools=[WEATHER],
    ) as events:
        kinds = [event.type for event in events]
        final = events.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert final.output_text == "Let me look."
    calls = [item for item in final.output if item.type == "function_call"]
    assert [json.loads(call.arguments)["city"] for call in calls] == ["Paris", "Oslo"]
