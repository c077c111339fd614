"""The clients people run today, each with its official library, through the gateway to the
simulated backend as a real HTTP server: the Anthropic SDK on `/v1/messages`, the OpenAI SDK's
Responses API on `/v1/responses`, and OpenAI-format clients reaching Anthropic and Azure upstreams
through the `anthropic` and `azure` adapters. Streams included, tools included."""

import json

import anthropic
import httpx
import httpx2
import openai
import pytest
from asgiref.sync import sync_to_async

from authjwt.services import api_key_create
from routerproject import generations
from routerproject.asgi import application
from routerproject.state import GENERATION_KEY, get_state
from routing.fakeupstream.answers import ANSWER
from routing.live_config import install_live_config
from tests.routing.dataplane.specs import instance, live_config, service

pytestmark = [pytest.mark.anyio, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}


@pytest.fixture
def fleet(upstream, settings):
    settings.GATEWAY_REQUIRE_API_KEY = True
    # At the fleet's generation: the snapshot is not rebuilt from the (empty) database under way.
    generation = int(get_state().get(GENERATION_KEY) or 0)
    install_live_config(
        live_config(
            service(
                "chat",
                [
                    instance("fake-chat", upstream),
                    instance("native-chat", upstream, responses_api=True, api_key="sk-up"),
                    instance("ollama-chat", upstream, adapter="ollama"),
                    instance("claude-up", upstream, adapter="anthropic", api_key="sk-ant-up"),
                    instance(
                        "azure-chat",
                        upstream,
                        adapter="azure",
                        api_key="az-up",
                        upstream_model="my-deployment",
                    ),
                ],
            ),
            generation=generation,
        )
    )
    yield upstream
    generations.forget()


def _http() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application), timeout=30)


def _http2() -> httpx2.AsyncClient:
    # The Anthropic SDK is built on httpx2, which has its own in-process transport.
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=application), timeout=30)


@pytest.fixture
def key():
    return api_key_create(name="app")[1]


@pytest.fixture
def claude(fleet, key):
    return anthropic.AsyncAnthropic(
        base_url="http://gateway", api_key=key, max_retries=0, http_client=_http2()
    )


@pytest.fixture
def sdk(fleet, key):
    return openai.AsyncOpenAI(
        base_url="http://gateway/v1", api_key=key, max_retries=0, http_client=_http()
    )


async def last_upstream_request(upstream: str) -> dict:
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{upstream}/_fake/last")).json()


# Anthropic's Messages API, served by a chat-completions upstream.


@pytest.mark.parametrize("model", ["fake-chat", "ollama-chat"])
async def test_the_anthropic_sdk_gets_a_message_from_a_chat_upstream(claude, fleet, model):
    message = await claude.messages.create(
        model=model,
        max_tokens=64,
        system="Be brief.",
        messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text" and message.content[0].text == ANSWER
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    sent = await last_upstream_request(fleet)
    if model == "fake-chat":
        body = json.loads(sent["body"])
        assert sent["path"] == "/v1/chat/completions"
        assert body["messages"][0] == {"role": "system", "content": "Be brief."}
        assert body["max_tokens"] == 64


async def test_the_anthropic_sdk_streams_a_message_from_a_chat_upstream(claude):
    async with claude.messages.stream(
        model="fake-chat", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        texts = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert len(texts) > 1 and "".join(texts) == ANSWER
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


async def test_the_anthropic_sdk_calls_a_tool_and_reads_its_result(claude):
    tool = {
        "name": WEATHER["name"],
        "description": WEATHER["description"],
        "input_schema": WEATHER["parameters"],
    }
    asked = [{"role": "user", "content": "Weather in Paris?"}]
    first = await claude.messages.create(
        model="fake-chat", max_tokens=64, tools=[tool], messages=asked
    )
    assert first.stop_reason == "tool_use"
    call = next(block for block in first.content if block.type == "tool_use")
    assert call.name == "get_weather" and call.input == {"location": "Paris"}
    answered = await claude.messages.create(
        model="fake-chat",
        max_tokens=64,
        tools=[tool],
        messages=[
            *asked,
            {"role": "assistant", "content": first.content},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}],
            },
        ],
    )
    assert answered.stop_reason == "end_turn" and answered.content[0].text == ANSWER
    async with claude.messages.stream(
        model="fake-chat", max_tokens=64, tools=[tool], messages=asked
    ) as stream:
        streamed = await stream.get_final_message()
    assert streamed.stop_reason == "tool_use"
    assert [b.input for b in streamed.content if b.type == "tool_use"] == [{"location": "Paris"}]


async def test_anthropic_clients_get_errors_in_anthropics_shape(claude, fleet):
    with pytest.raises(anthropic.NotFoundError) as unknown:
        await claude.messages.create(
            model="no-such-model", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    assert unknown.value.body["type"] == "error"
    assert unknown.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.BadRequestError) as missing:
        await claude.messages.create(
            model="fake-chat",
            max_tokens=0,
            messages=[{"role": "user", "content": "hi"}],
        )
    assert missing.value.body["error"]["type"] == "invalid_request_error"
    stranger = anthropic.AsyncAnthropic(
        base_url="http://gateway", api_key="sk-wrong", max_retries=0, http_client=_http2()
    )
    with pytest.raises(anthropic.AuthenticationError) as refused:
        await stranger.messages.create(
            model="fake-chat", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    assert refused.value.body["error"]["type"] == "authentication_error"


async def test_an_upstream_failure_reaches_anthropic_clients_in_their_shape(claude):
    with pytest.raises(anthropic.InternalServerError) as failed:
        await claude.messages.create(
            model="fake-chat",
            max_tokens=8,
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-fake-status": "500"},
        )
    assert failed.value.body["type"] == "error"
    assert failed.value.body["error"]["type"] == "api_error"


async def test_count_tokens_estimates_the_input(claude):
    short = await claude.messages.count_tokens(
        model="fake-chat", messages=[{"role": "user", "content": "hi"}]
    )
    long = await claude.messages.count_tokens(
        model="fake-chat", messages=[{"role": "user", "content": "hi " * 400}]
    )
    assert 1 <= short.input_tokens < long.input_tokens
    with pytest.raises(anthropic.NotFoundError):
        await claude.messages.count_tokens(
            model="no-such-model", messages=[{"role": "user", "content": "hi"}]
        )


# Anthropic upstreams: Messages passed through, chat completions translated.


async def test_a_messages_request_to_an_anthropic_upstream_passes_through(claude, fleet):
    message = await claude.messages.create(
        model="claude-up", max_tokens=32, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.id.startswith("msg_fake") and message.content[0].text == ANSWER
    sent = await last_upstream_request(fleet)
    assert sent["path"] == "/v1/messages"
    assert sent["headers"]["x-api-key"] == "sk-ant-up"
    assert sent["headers"]["anthropic-version"]
    assert "authorization" not in sent["headers"]


async def test_the_openai_sdk_reaches_an_anthropic_upstream(sdk, fleet):
    answer = await sdk.chat.completions.create(
        model="claude-up",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
    )
    assert answer.choices[0].message.content == ANSWER
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage.prompt_tokens > 0
    sent = await last_upstream_request(fleet)
    body = json.loads(sent["body"])
    assert sent["path"] == "/v1/messages"
    assert body["system"] in ("Be brief.", [{"type": "text", "text": "Be brief."}])
    assert [message["role"] for message in body["messages"]] == ["user"]
    stream = await sdk.chat.completions.create(
        model="claude-up",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == ANSWER
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    called = await sdk.chat.completions.create(
        model="claude-up",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[{"type": "function", "function": WEATHER}],
    )
    assert called.choices[0].finish_reason == "tool_calls"
    tool_call = called.choices[0].message.tool_calls[0]
    assert tool_call.function.name == "get_weather"
    assert json.loads(tool_call.function.arguments) == {"location": "Paris"}


# Azure OpenAI deployments.


async def test_the_openai_sdk_reaches_an_azure_deployment(sdk, fleet, settings):
    settings.AZURE_OPENAI_API_VERSION = "2024-10-21"
    answer = await sdk.chat.completions.create(
        model="azure-chat", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content == ANSWER
    sent = await last_upstream_request(fleet)
    assert sent["path"] == "/openai/deployments/my-deployment/chat/completions"
    assert sent["query"] == "api-version=2024-10-21"
    assert sent["headers"]["api-key"] == "az-up" and "authorization" not in sent["headers"]
    assert json.loads(sent["body"])["model"] == "my-deployment"


# OpenAI's Responses API, served by a chat-completions upstream.


async def test_the_responses_api_answers_stores_and_deletes(sdk):
    response = await sdk.responses.create(
        model="fake-chat", input="hi", instructions="Be brief.", max_output_tokens=64
    )
    assert response.status == "completed" and response.output_text == ANSWER
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    fetched = await sdk.responses.retrieve(response.id)
    assert fetched.id == response.id and fetched.output_text == ANSWER
    await sdk.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.retrieve(response.id)
    unstored = await sdk.responses.create(model="fake-chat", input="hi", store=False)
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.retrieve(unstored.id)


async def test_a_stored_response_belongs_to_the_key_that_made_it(sdk, fleet):
    response = await sdk.responses.create(model="fake-chat", input="hi")
    other_key = (await sync_to_async(api_key_create)(name="other"))[1]
    other = openai.AsyncOpenAI(
        base_url="http://gateway/v1",
        api_key=other_key,
        max_retries=0,
        http_client=_http(),
    )
    with pytest.raises(openai.NotFoundError):
        await other.responses.retrieve(response.id)
    with pytest.raises(openai.BadRequestError) as continued:
        await other.responses.create(
            model="fake-chat", input="more", previous_response_id=response.id
        )
    assert continued.value.param == "previous_response_id"


async def test_the_responses_api_streams_typed_events(sdk):
    stream = await sdk.responses.create(model="fake-chat", input="hi", stream=True)
    events = [event async for event in stream]
    kinds = [event.type for event in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) > 1 and "".join(deltas) == ANSWER
    completed = events[-1].response
    assert completed.output_text == ANSWER and completed.usage.output_tokens > 0
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert (await sdk.responses.retrieve(completed.id)).output_text == ANSWER


async def test_a_function_call_and_its_output_continue_with_previous_response_id(sdk, fleet):
    tool = {"type": "function", **WEATHER}
    first = await sdk.responses.create(model="fake-chat", input="Weather in Paris?", tools=[tool])
    call = next(item for item in first.output if item.type == "function_call")
    assert call.name == "get_weather" and json.loads(call.arguments) == {"location": "Paris"}
    second = await sdk.responses.create(
        model="fake-chat",
        previous_response_id=first.id,
        tools=[tool],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
    )
    assert second.output_text == ANSWER and second.previous_response_id == first.id
    sent = json.loads((await last_upstream_request(fleet))["body"])
    roles = [message["role"] for message in sent["messages"]]
    assert roles == ["user", "assistant", "tool"]
    assert sent["messages"][1]["tool_calls"][0]["id"] == call.call_id
    stream = await sdk.responses.create(
        model="fake-chat", input="Weather in Paris?", tools=[tool], stream=True
    )
    events = [event async for event in stream]
    arguments = "".join(
        e.delta for e in events if e.type == "response.function_call_arguments.delta"
    )
    assert json.loads(arguments) == {"location": "Paris"}
    assert events[-1].type == "response.completed"


async def test_responses_input_errors_are_400s_naming_the_member(sdk):
    with pytest.raises(openai.BadRequestError) as builtin:
        await sdk.responses.create(
            model="fake-chat", input="hi", tools=[{"type": "web_search_preview"}]
        )
    assert builtin.value.param == "tools"
    with pytest.raises(openai.BadRequestError) as previous:
        await sdk.responses.create(model="fake-chat", input="hi", previous_response_id="resp_x")
    assert previous.value.param == "previous_response_id"
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.create(model="no-such-model", input="hi")


# An instance that serves the Responses API itself: passed through, kept by its upstream.


async def test_a_responses_request_to_an_instance_that_serves_the_api_passes_through(sdk, fleet):
    first = await sdk.responses.create(
        model="native-chat", input="hi", tools=[{"type": "web_search_preview"}]
    )
    assert first.id.startswith("resp_fake_") and first.output_text == ANSWER
    sent = await last_upstream_request(fleet)
    assert sent["path"] == "/v1/responses" and sent["headers"]["authorization"] == "Bearer sk-up"
    assert json.loads(sent["body"])["tools"] == [{"type": "web_search_preview"}]
    assert (await sdk.responses.retrieve(first.id)).id == first.id
    assert (await last_upstream_request(fleet))["method"] == "GET"
    second = await sdk.responses.create(
        model="native-chat", input="more", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id
    assert json.loads((await last_upstream_request(fleet))["body"])["previous_response_id"] == (
        first.id
    )
    await sdk.responses.delete(first.id)
    assert (await last_upstream_request(fleet))["method"] == "DELETE"
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.retrieve(first.id)


async def test_a_streamed_pass_through_is_kept_for_reading_back(sdk):
    stream = await sdk.responses.create(model="native-chat", input="hi", stream=True)
    events = [event async for event in stream]
    assert events[-1].type == "response.completed"
    kept = events[-1].response.id
    assert kept.startswith("resp_fake_")
    assert (await sdk.responses.retrieve(kept)).output_text == ANSWER


async def test_a_response_the_gateway_keeps_is_continued_by_translation(sdk, fleet):
    first = await sdk.responses.create(model="fake-chat", input="hi")
    second = await sdk.responses.create(
        model="native-chat", input="more", previous_response_id=first.id
    )
    assert not second.id.startswith("resp_fake") and second.output_text == ANSWER
    sent = await last_upstream_request(fleet)
    assert sent["path"] == "/v1/chat/completions"
    assert [m["role"] for m in json.loads(sent["body"])["messages"]] == [
        "user",
        "assistant",
        "user",
    ]


async def test_a_response_that_cannot_be_kept_is_still_answered(sdk, monkeypatch):
    from routerproject.state.outage import StateUnavailable
    from routing.dataplane import stored_responses

    async def unreachable(*args, **kwargs):
        raise StateUnavailable("shared state down")

    monkeypatch.setattr(stored_responses, "save", unreachable)
    response = await sdk.responses.create(model="fake-chat", input="hi")
    assert response.output_text == ANSWER
    stream = await sdk.responses.create(model="fake-chat", input="hi", stream=True)
    assert [event.type async for event in stream][-1] == "response.completed"
