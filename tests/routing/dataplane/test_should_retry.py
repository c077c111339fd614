"""`x-should-retry` on the answers the gateway makes itself: the official SDK retries what another
try may change (a limit, an outage, an upstream that failed) and not what it would get again (bad
input, an unknown model, an answer too large to relay). Answers relayed from an upstream keep the
upstream's own headers."""

import httpx
import openai
import pytest

from authjwt.services import api_key_create
from routerproject import generations
from routerproject.asgi import application
from routing.dataplane import errors
from routing.live_config import install_live_config
from tests.processes import free_port
from tests.routing.dataplane.specs import instance, live_config, service

pytestmark = [pytest.mark.anyio, pytest.mark.processes, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def chat(upstream):
    dead = f"http://127.0.0.1:{free_port()}"
    install_live_config(
        live_config(
            service(
                "chat",
                [instance(base_url=upstream), instance("dead-model", dead)],
            )
        )
    )
    yield
    generations.forget()


@pytest.fixture
def sent():
    return []


@pytest.fixture
def sdk(sent):
    key = api_key_create(name="app")[1]

    async def count(request: httpx.Request) -> None:
        sent.append(request.url.path)

    http_client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application), event_hooks={"request": [count]}
    )
    return openai.AsyncOpenAI(
        base_url="http://gateway/v1", api_key=key, max_retries=2, http_client=http_client
    )


def test_the_default_follows_what_another_try_may_change():
    assert errors.bad_request("x").response()["x-should-retry"] == "false"
    assert errors.model_not_found("m").response()["x-should-retry"] == "false"
    assert errors.body_too_large(10).response()["x-should-retry"] == "false"
    assert errors.rate_limited("service", 1, {}).response()["x-should-retry"] == "true"
    assert errors.circuit_open("m", 2.0).response()["x-should-retry"] == "true"
    assert errors.unavailable().response()["x-should-retry"] == "true"
    assert errors.upstream_timeout("i").response()["x-should-retry"] == "true"
    assert errors.upstream_too_large("i", 10).response()["x-should-retry"] == "false"


async def test_the_sdk_does_not_retry_an_unknown_model(chat, sdk, sent):
    with pytest.raises(openai.NotFoundError) as refused:
        await sdk.chat.completions.create(model="no-such-model", messages=[])
    assert refused.value.response.headers["x-should-retry"] == "false"
    assert sent == ["/v1/chat/completions"]


async def test_the_sdk_does_not_retry_an_answer_too_large_to_relay(chat, sdk, sent, settings):
    settings.GATEWAY_BUFFER_LIMIT_BYTES = 1024
    with pytest.raises(openai.APIStatusError) as cut:
        await sdk.chat.completions.create(
            model="fake-chat",
            messages=[],
            extra_headers={"x-fake-status": "500", "x-fake-error-bytes": "65536"},
        )
    assert cut.value.status_code == 502
    assert cut.value.response.headers["x-should-retry"] == "false"
    # Without the header the SDK would have tried a 502 three times.
    assert sent == ["/v1/chat/completions"]


async def test_an_unreachable_upstream_is_worth_another_try(chat, sdk, sent):
    sdk = sdk.with_options(max_retries=0)
    with pytest.raises(openai.APIStatusError) as failed:
        await sdk.chat.completions.create(model="dead-model", messages=[])
    assert failed.value.status_code == 502
    assert failed.value.response.headers["x-should-retry"] == "true"


async def test_an_upstreams_own_answer_is_relayed_without_the_gateways_header(chat, sdk):
    sdk = sdk.with_options(max_retries=0)
    with pytest.raises(openai.BadRequestError) as relayed:
        await sdk.chat.completions.create(
            model="fake-chat", messages=[], extra_headers={"x-fake-status": "400"}
        )
    assert "x-should-retry" not in relayed.value.response.headers
