"""OpenAI's Responses API on the simulated backend: a Response and its streamed events the official
SDK's types accept, marked so a test can tell a pass-through from a translation."""

import json

import httpx
import openai
import pydantic
import pytest
from openai.types.responses import Response, ResponseStreamEvent

from routing.fakeupstream.answers import ANSWER

pytestmark = [pytest.mark.anyio, pytest.mark.processes]

EVENTS = pydantic.TypeAdapter(ResponseStreamEvent)


async def test_it_answers_a_response_the_sdk_type_accepts(upstream):
    async with httpx.AsyncClient(base_url=upstream) as http:
        answer = await http.post(
            "/v1/responses", json={"model": "gpt", "input": "hi", "instructions": "be brief"}
        )
    response = Response.model_validate(answer.json())
    assert answer.headers["x-fake-upstream-api"] == "responses"
    assert response.id.startswith("resp_fake") and response.object == "response"
    assert (response.status, response.model) == ("completed", "gpt")
    assert response.output_text == ANSWER
    assert response.instructions == "be brief"
    assert response.usage and response.usage.total_tokens == 23


async def test_a_streamed_response_is_the_event_sequence_with_sequence_numbers(upstream):
    async with httpx.AsyncClient(base_url=upstream) as http:
        answer = await http.post(
            "/v1/responses",
            json={"model": "gpt", "input": "hi", "stream": True},
            headers={"x-fake-chunks": "3"},
        )
    blocks = [block.split("\n") for block in answer.text.strip().split("\n\n")]
    events = [EVENTS.validate_python(json.loads(data[6:])) for _, data in blocks]
    assert answer.headers["x-fake-upstream-api"] == "responses"
    assert [name[7:] for name, _ in blocks] == [event.type for event in events]
    assert [event.type for event in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == ANSWER
    last = events[-1]
    assert last.type == "response.completed" and last.response.output_text == ANSWER


async def test_the_official_sdk_reads_a_response_whole_and_streamed(upstream):
    client = openai.AsyncOpenAI(base_url=f"{upstream}/v1", api_key="k", max_retries=0)
    whole = await client.responses.create(model="gpt", input="hi")
    async with client.responses.stream(model="gpt", input="hi") as stream:
        texts = [
            event.delta async for event in stream if event.type == "response.output_text.delta"
        ]
        final = await stream.get_final_response()
    assert whole.output_text == ANSWER
    assert "".join(texts) == ANSWER and final.output_text == ANSWER
    await client.close()


async def test_a_simulated_failure_on_responses_keeps_the_marker(upstream):
    async with httpx.AsyncClient(base_url=upstream) as http:
        answer = await http.post(
            "/v1/responses", json={"model": "gpt"}, headers={"x-fake-status": "503"}
        )
    assert answer.status_code == 503
    assert answer.headers["x-fake-upstream-api"] == "responses"
    assert answer.json()["error"]["code"] == "503"
