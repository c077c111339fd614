"""An API key's requests-per-minute are enforced with the gateway's other rate limits."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncRequestFactory

from authjwt.services import api_key_create
from routerproject import generations
from routing.dataplane import pipeline
from routing.dataplane.endpoints import ENDPOINTS
from routing.live_config import install_live_config
from tests.routing.dataplane.specs import instance, live_config, service

pytestmark = [pytest.mark.anyio, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

CHAT = ENDPOINTS["chat/completions"]


@pytest.fixture
def chat(upstream, settings):
    settings.GATEWAY_REQUIRE_API_KEY = True
    install_live_config(live_config(service("chat", [instance(base_url=upstream)])))
    yield
    generations.forget()


def request_with(key: str):
    body = json.dumps({"model": "fake-chat", "messages": [{"role": "user", "content": "hi"}]})
    return AsyncRequestFactory().post(
        "/v1/chat/completions", body, content_type="application/json",
        headers={"authorization": f"Bearer {key}"},
    )  # fmt: skip


async def test_a_keys_per_minute_limit_answers_429_with_rate_limit_headers(chat):
    _, raw = await sync_to_async(api_key_create)(name="slow", requests_per_minute=3)
    answers = [await pipeline.handle(request_with(raw), CHAT) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert answers[0]["x-ratelimit-limit"] == "3" and answers[0]["x-ratelimit-remaining"] == "2"
    refused = answers[3]
    assert json.loads(refused.content)["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["x-ratelimit-remaining"] == "0"


async def test_keys_without_a_limit_are_not_counted(chat):
    _, raw = await sync_to_async(api_key_create)(name="free")
    answers = [await pipeline.handle(request_with(raw), CHAT) for _ in range(5)]
    assert {a.status_code for a in answers} == {200}
    assert not answers[0].has_header("x-ratelimit-limit")
