"""Chat completions with tools: the simulated backend calls the first tool, whole or streamed, as
OpenAI does, and answers with text after the tool's result. Checked with the official SDK."""

import json

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from routing.fakeupstream.answers import ANSWER

pytestmark = [pytest.mark.anyio, pytest.mark.processes]

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
    },
}
ASKED = [{"role": "user", "content": "weather in Paris?"}]


def sse_data(text: str) -> list[str]:
    return [block[6:] for block in text.split("\n\n") if block.startswith("data: ")]


async def test_it_answers_a_request_with_tools_with_a_call_of_the_first_tool(upstream):
    async with httpx.AsyncClient(base_url=upstream) as http:
        answer = await http.post(
            "/v1/chat/completions",
            json={"model": "m", "messages": ASKED, "tools": [WEATHER, {**WEATHER, "x": 1}]},
        )
    completion = ChatCompletion.model_validate(answer.json())
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert answer.json()["choices"][0]["message"]["content"] is None
    assert [c.model_dump() for c in choice.message.tool_calls or []] == [
        {
            "id": "call_fake_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'},
        }
    ]


async def test_a_streamed_call_has_role_head_two_argument_pieces_finish_and_usage(upstream):
    async with httpx.AsyncClient(base_url=upstream) as http:
        answer = await http.post(
            "/v1/chat/completions",
            json={
                "model": "m",
                "messages": ASKED,
                "tools": [WEATHER],
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        )
    events = sse_data(answer.text)
    assert events[-1] == "[DONE]"
    chunks = [ChatCompletionChunk.model_validate(json.loads(e)) for e in events[:-1]]
    assert len(chunks) == 1 + 1 + 2 + 1 + 1  # role, call head, 2 argument pieces, finish, usage
    assert chunks[0].choices[0].delta.role == "assistant"
    head = (chunks[1].choices[0].delta.tool_calls or [])[0]
    assert (head.index, head.id, head.type) == (0, "call_fake_1", "function")
    assert head.function and head.function.name == "get_weather"
    assert head.function.arguments == ""
    pieces = [(c.choices[0].delta.tool_calls or [])[0] for c in chunks[2:4]]
    assert all(p.index == 0 and p.function and p.function.arguments for p in pieces)
    assert "".join(p.function.arguments or "" for p in pieces if p.function) == (
        '{"location": "Paris"}'
    )
    assert chunks[4].choices[0].finish_reason == "tool_calls"
    assert chunks[5].choices == [] and chunks[5].usage and chunks[5].usage.total_tokens == 23


async def test_the_official_sdk_reads_the_call_and_the_text_after_the_tool_result(upstream):
    sdk = openai.AsyncOpenAI(base_url=f"{upstream}/v1", api_key="k")
    first = await sdk.chat.completions.create(model="m", messages=ASKED, tools=[WEATHER])
    calls = first.choices[0].message.tool_calls or []
    assert calls and calls[0].type == "function"
    assert json.loads(calls[0].function.arguments) == {"location": "Paris"}
    answered = await sdk.chat.completions.create(
        model="m",
        messages=[
            *ASKED,
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": calls[0].id, "content": "18C"},
        ],
        tools=[WEATHER],
    )
    assert answered.choices[0].message.content == ANSWER
    assert answered.choices[0].finish_reason == "stop"
    await sdk.close()


async def test_the_tool_choice_names_the_tool_and_none_turns_calls_off(upstream):
    other = {"type": "function", "function": {"name": "get_time", "parameters": {}}}
    async with httpx.AsyncClient(base_url=upstream) as http:
        named = await http.post(
            "/v1/chat/completions",
            json={
                "model": "m",
                "messages": ASKED,
                "tools": [WEATHER, other],
                "tool_choice": {"type": "function", "function": {"name": "get_time"}},
            },
        )
        off = await http.post(
            "/v1/chat/completions",
            json={"model": "m", "messages": ASKED, "tools": [WEATHER], "tool_choice": "none"},
        )
    call = named.json()["choices"][0]["message"]["tool_calls"][0]
    assert call["function"] == {"name": "get_time", "arguments": "{}"}
    assert off.json()["choices"][0]["message"] == {"role": "assistant", "content": ANSWER}


async def test_a_request_without_tools_is_answered_as_before(upstream):
    async with httpx.AsyncClient(base_url=upstream) as http:
        answer = await http.post("/v1/chat/completions", json={"model": "m", "messages": ASKED})
    assert answer.json()["choices"][0] == {
        "index": 0,
        "message": {"role": "assistant", "content": ANSWER},
        "finish_reason": "stop",
        "logprobs": None,
    }
