"""A `neural` service end to end in-process: the router's tier decides which instance answers, and
outcomes and client feedback move later decisions."""

import json

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncRequestFactory

from routing import live
from routing.dataplane import pipeline
from routing.dataplane.endpoints import ENDPOINTS
from routing.exemplars import flush_outcomes
from routing.router_runtime import record_feedback
from routing.services import instance_add, service_type_update

pytestmark = [pytest.mark.anyio, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

CHAT = ENDPOINTS["chat/completions"]
PROMPT = "Translate 'good morning' into French."


@pytest.fixture
def neural_chat(upstream, settings):
    settings.LIVE_CONFIG_CHECK_INTERVAL = 0
    settings.NEURAL_EXPLORATION_RATE = 0
    service_type_update(name="chat", actor=None, load_balancer="neural")
    instance_add(
        service_type="chat", name="small-model", base_url=upstream, tier="lightweight", actor=None
    )
    instance_add(
        service_type="chat", name="big-model", base_url=upstream, tier="powerful", actor=None
    )
    live.forget_live_config()
    yield upstream
    live.forget_live_config()


async def ask(request_id: str, model: str = "auto"):
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": PROMPT}]})
    request = AsyncRequestFactory().post(
        "/v1/chat/completions",
        body,
        content_type="application/json",
        headers={"x-request-id": request_id},
    )
    response = await pipeline.handle(request, CHAT)
    assert response.status_code == 200
    return response


async def upstream_model(upstream: str) -> str:
    async with httpx.AsyncClient() as client:
        last = (await client.get(f"{upstream}/_fake/last")).json()
    return (
        json.loads(last["body"])["model"]
        if isinstance(last.get("body"), str)
        else last["json"]["model"]
    )


async def test_the_tier_the_router_chooses_answers_and_learns(neural_chat):
    first = await ask("n-1")
    assert first["x-router-decision"] == "powerful"
    assert await upstream_model(neural_chat) == "big-model"

    await sync_to_async(flush_outcomes)()  # the prompt is now an exemplar, untried on lightweight
    second = await ask("n-2")
    assert second["x-router-decision"] == "lightweight"
    assert float(second["x-router-confidence"]) > 0.85
    assert await upstream_model(neural_chat) == "small-model"

    # Clients keep saying the lightweight answers were bad: the router stops sending it there.
    decisions = []
    for index in range(3, 30):
        response = await ask(f"n-{index}")
        decisions.append(response["x-router-decision"])
        if decisions[-1] == "lightweight":
            assert await sync_to_async(record_feedback)(request_id=f"n-{index}", success=False)
        await sync_to_async(flush_outcomes)()
        if decisions[-3:] == ["powerful"] * 3:
            break
    assert decisions[-3:] == ["powerful"] * 3, decisions


async def test_tier_models_are_routed_others_served_by_name_and_unknown_ones_are_404(neural_chat):
    response = await ask("m-1", model="big-model")
    assert response["x-router-decision"] in ("lightweight", "powerful")
    await sync_to_async(instance_add)(
        service_type="chat", name="plain-model", base_url=neural_chat, actor=None
    )
    plain = await ask("m-2", model="plain-model")
    assert "x-router-decision" not in plain
    assert await upstream_model(neural_chat) == "plain-model"
    body = json.dumps({"model": "nope", "messages": []})
    request = AsyncRequestFactory().post(
        "/v1/chat/completions", body, content_type="application/json"
    )
    assert (await pipeline.handle(request, CHAT)).status_code == 404


async def test_prompts_can_be_embedded_by_the_gateways_embedding_service(
    neural_chat, settings, caplog
):
    from routing.models import RoutingExemplar

    settings.NEURAL_EMBEDDING_DIMENSIONS = 8  # what the simulated embedding model returns
    settings.NEURAL_EMBEDDING_MODEL = "fake-embed"
    await sync_to_async(instance_add)(
        service_type="embedding", name="fake-embed", base_url=neural_chat, actor=None
    )
    await ask("e-1")
    await sync_to_async(flush_outcomes)()
    exemplar = await RoutingExemplar.objects.aget()
    assert len(bytes(exemplar.embedding)) == 8 * 4

    settings.NEURAL_EMBEDDING_MODEL = "no-such-model"  # falls back to the local embedder
    body = json.dumps(
        {"model": "auto", "messages": [{"role": "user", "content": "another prompt"}]}
    )
    request = AsyncRequestFactory().post(
        "/v1/chat/completions", body, content_type="application/json"
    )
    assert (await pipeline.handle(request, CHAT)).status_code == 200
    await sync_to_async(flush_outcomes)()
    sizes = [len(bytes(e.embedding)) async for e in RoutingExemplar.objects.all()]
    assert sizes == [8 * 4, 8 * 4]  # the local embedder works at the configured size too
    assert "embedding service failed" in caplog.text
