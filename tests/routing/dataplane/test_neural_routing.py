"""A `neural` service end to end in-process: the router's tier decides which instance answers, the
calibrated threshold follows the target share, and client verdicts are kept for retraining."""

import json

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncRequestFactory

from routerproject import generations
from routing.dataplane import pipeline
from routing.dataplane.endpoints import ENDPOINTS
from routing.exemplars import flush_outcomes
from routing.models import RoutingExemplar
from routing.neural_runtime import record_feedback
from routing.services import instance_add, router_settings_update, service_type_update

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
    generations.forget()
    yield upstream
    generations.forget()


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


async def test_the_tier_the_router_chooses_answers_and_follows_the_target_share(neural_chat):
    first = await ask("n-1")
    score = float(first["x-router-score"])
    expected = "lightweight" if float(first["x-router-confidence"]) >= 0.925 else "powerful"
    assert first["x-router-decision"] == expected
    tier_model = {"lightweight": "small-model", "powerful": "big-model"}
    assert await upstream_model(neural_chat) == tier_model[expected]

    # The calibrated threshold follows the setting: every prompt powerful, then none.
    for share, tier in ((1.0, "powerful"), (0.0, "lightweight")):
        await sync_to_async(router_settings_update)(actor=None, target_powerful_share=share)
        generations.forget()
        response = await ask(f"n-share-{share}")
        assert response["x-router-decision"] == tier
        assert float(response["x-router-score"]) == score  # the prompt's score is the prompt's
        assert await upstream_model(neural_chat) == tier_model[tier]

    # A client's verdict lands on the prompt's exemplar, for the next retraining.
    await sync_to_async(flush_outcomes)()
    assert await sync_to_async(record_feedback)(
        request_id="n-1", success=True, powerful_needed=True
    )
    await sync_to_async(flush_outcomes)()
    exemplar = await RoutingExemplar.objects.aget()
    assert (exemplar.verdicts, exemplar.need_votes, exemplar.access_count) == (1, 1, 3)


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
