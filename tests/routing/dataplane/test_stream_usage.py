"""Every streamed answer's tokens are counted, whether or not the client asked for usage: the
stream goes upstream asking for it, the extra usage chunk is counted and taken out of what the
client receives, and an upstream that sends none has its tokens estimated and marked so. Through
the official SDK, to the simulated backend as a real HTTP server."""

import json

import httpx
import openai
import pytest

from authjwt.services import api_key_create
from routerproject import generations
from routerproject.asgi import application
from routerproject.state import GENERATION_KEY, get_state
from routing.dataplane import ended
from routing.fakeupstream.answers import ANSWER
from routing.live_config import install_live_config
from tests.routing.dataplane.specs import instance, live_config, service

pytestmark = [pytest.mark.anyio, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

HI = [{"role": "user", "content": "Say hi to the whole wide world."}]


@pytest.fixture
def finished(upstream, monkeypatch):
    generation = int(get_state().get(GENERATION_KEY) or 0)
    install_live_config(
        live_config(
            service(
                "chat",
                [instance("fake-chat", upstream), instance("llama", upstream, adapter="ollama")],
            ),
            generation=generation,
        )
    )
    exchanges = []
    monkeypatch.setattr(ended, "_listeners", [*ended._listeners])
    ended.on_exchange_end(lambda exchange, status, at: exchanges.append(exchange))
    yield exchanges
    generations.forget()


@pytest.fixture
def sdk(finished):
    return openai.AsyncOpenAI(
        base_url="http://gateway/v1",
        api_key=api_key_create(name="app")[1],
        max_retries=0,
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=application)),
    )


async def sent_body(upstream: str) -> dict:
    async with httpx.AsyncClient() as http:
        return json.loads((await http.get(f"{upstream}/_fake/last")).json()["body"])


@pytest.mark.parametrize("model", ["fake-chat", "llama"])
async def test_a_stream_without_include_usage_is_counted_and_the_client_sees_no_extra_chunk(
    sdk, finished, upstream, model
):
    stream = await sdk.chat.completions.create(model=model, messages=HI, stream=True)
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ANSWER
    assert all(chunk.choices and chunk.usage is None for chunk in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    exchange = finished[-1]
    assert exchange.prompt_tokens > 0 and exchange.completion_tokens > 0
    assert not exchange.usage_estimated
    if model == "fake-chat":
        assert (await sent_body(upstream))["stream_options"] == {"include_usage": True}


async def test_a_client_that_asks_for_usage_gets_its_chunk(sdk, finished):
    stream = await sdk.chat.completions.create(
        model="fake-chat", messages=HI, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 16
    assert finished[-1].completion_tokens == 16 and not finished[-1].usage_estimated


async def test_an_upstream_that_sends_no_usage_has_its_tokens_estimated(sdk, finished):
    # The simulated backend's legacy completions stream never carries usage.
    stream = await sdk.completions.create(model="fake-chat", prompt="x" * 40, stream=True)
    text = "".join([chunk.choices[0].text async for chunk in stream])
    assert text == ANSWER
    exchange = finished[-1]
    assert exchange.usage_estimated
    assert exchange.prompt_tokens == 10  # 40 characters, 4 a token
    assert exchange.completion_tokens == -(-len(ANSWER) // 4)


async def test_without_stream_usage_the_request_goes_as_sent(sdk, finished, upstream, settings):
    settings.GATEWAY_STREAM_USAGE = False
    stream = await sdk.chat.completions.create(model="fake-chat", messages=HI, stream=True)
    [chunk async for chunk in stream]
    assert "stream_options" not in await sent_body(upstream)
    assert finished[-1].prompt_tokens == 0
