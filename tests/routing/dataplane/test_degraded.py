"""The pipeline in-process with its shared state or its database unreachable: answers, never a 500;
503 in OpenAI's shape only when there is no snapshot to serve from."""

import json

import pytest
from django.db import OperationalError
from django.test import AsyncRequestFactory

from routerproject import generations
from routerproject.state import RedisState, get_state
from routing import live_config as live
from routing.dataplane import pipeline
from routing.dataplane.endpoints import ENDPOINTS
from routing.live_config import install_live_config
from tests.routing.dataplane.specs import instance, live_config, service

pytestmark = [pytest.mark.anyio, pytest.mark.processes]

CHAT = ENDPOINTS["chat/completions"]


def chat_request(body: dict):
    return AsyncRequestFactory().post(
        "/v1/chat/completions", json.dumps(body), content_type="application/json"
    )


@pytest.fixture
def unreachable_state(settings):
    """Every get_state() of the process answers with a Redis nothing listens for."""
    settings.STATE_BACKEND, settings.REDIS_URL = "redis", "redis://127.0.0.1:1/0"
    get_state.cache_clear()
    state = get_state()
    assert isinstance(state, RedisState)
    yield state
    get_state.cache_clear()


@pytest.fixture
def pools(upstream):
    def chat(balancer: str):
        members = [instance(base_url=upstream), instance(base_url=upstream + "/v1")]
        return service("chat", members, load_balancer=balancer)

    yield chat
    generations.forget()


@pytest.mark.parametrize("balancer", ["round_robin", "least_connections", "random"])
async def test_every_balancer_answers_without_its_shared_state(pools, unreachable_state, balancer):
    install_live_config(live_config(pools(balancer)))
    for stream in (False, True, False, True):
        response = await pipeline.handle(
            chat_request({"model": "fake-chat", "stream": stream}), CHAT
        )
        assert response.status_code == 200
        if stream:
            body = b"".join([chunk async for chunk in response])
            assert body.rstrip().endswith(b"data: [DONE]")
            response.close()
    assert unreachable_state.gate.failures == 1, "one real failure, then the gate answers"


async def test_a_snapshot_is_kept_when_the_database_fails_during_a_rebuild(
    pools, monkeypatch, settings
):
    settings.LIVE_CONFIG_CHECK_INTERVAL = 0.0
    install_live_config(live_config(pools("random"), generation=-5))  # due for a rebuild

    def database_down(generation: int):
        raise OperationalError("connection refused")

    monkeypatch.setattr(live, "build_live_config", database_down)
    response = await pipeline.handle(chat_request({"model": "fake-chat"}), CHAT)
    assert response.status_code == 200


async def test_without_a_snapshot_or_database_the_answer_is_503_in_openai_shape(monkeypatch):
    generations.forget()

    def database_down(generation: int):
        raise OperationalError("connection to server at 10.0.0.5 failed: password=secret")

    monkeypatch.setattr(live, "build_live_config", database_down)
    response = await pipeline.handle(chat_request({"model": "fake-chat"}), CHAT)
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    error = json.loads(response.content)["error"]
    assert error["code"] == "service_unavailable" and error["type"] == "server_error"
    assert "secret" not in response.content.decode() and "10.0.0.5" not in error["message"]
