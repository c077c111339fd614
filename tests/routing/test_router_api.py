"""The neural router in the gateway: its API, its versioned settings, exemplars and outcomes."""

import json

import numpy as np
import pytest
from asgiref.sync import async_to_sync

from configversions.models import ConfigVersion
from routerproject import generations
from routerproject.state import get_state
from routing import live_config
from routing.exemplars import OUTCOMES_KEY, flush_outcomes, recent_decisions
from routing.models import RoutingExemplar, ServiceType
from routing.neural.scorer import STAT_COUNT
from routing.neural_runtime import NeuralDecision, RouterRuntime, record_feedback
from routing.resilience.breaker import BreakerState
from routing.services import router_settings_update
from routing.snapshot import RouterSpec

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh(settings):
    settings.LIVE_CONFIG_CHECK_INTERVAL = 0
    settings.NEURAL_EXPLORATION_RATE = 0
    generations.forget()
    yield
    generations.forget()


def _request(n=3, dim=8):
    rng = np.random.default_rng(0)
    query = rng.normal(size=dim).tolist()
    return {
        "query_embedding": query,
        "candidates": [
            {
                "id": f"c{i}",
                "embedding": (np.array(query) * (1 if i == 0 else -1)).tolist(),
                "metadata": {"domain": "code"},
                "created_at": 1_700_000_000,
                "access_count": 100,
                "success_rate": 0.99 if i == 0 else 0.1,
            }
            for i in range(n)
        ],
        "metadata": {"domain": "code"},
    }


def test_route_answers_like_the_reference_router(staff_client):
    response = staff_client.post("/api/router/route", _request(), format="json")
    assert response.status_code == 200, response.json()
    data = response.json()["data"]
    assert data["candidates_processed"] == 3
    assert {d["candidate_id"] for d in data["decisions"]} == {"c0", "c1", "c2"}
    confidences = [d["confidence"] for d in data["decisions"]]
    assert confidences == sorted(confidences, reverse=True)
    assert data["decisions"][0]["candidate_id"] == "c0"
    assert all(0 <= d["uncertainty"] <= 1 for d in data["decisions"])
    assert data["inference_time_us"] >= 0 and data["feature_time_us"] >= 0


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: r.pop("query_embedding"),
        lambda r: r["candidates"][0].update(embedding=[1.0, 2.0]),
        lambda r: r["candidates"][0].update(success_rate=3),
        lambda r: r.update(candidates="none"),
        # Beyond float32, where the model computes: it would become infinite.
        lambda r: r["query_embedding"].__setitem__(0, 1e39),
        lambda r: r["candidates"][1]["embedding"].__setitem__(0, -1e300),
    ],
)
def test_bad_routing_requests_are_400(staff_client, mutate):
    body = _request()
    mutate(body)
    response = staff_client.post("/api/router/route", body, format="json")
    assert response.status_code == 400 and response.json()["success"] is False


def test_router_settings_are_versioned():
    before = ConfigVersion.objects.count()
    changed = router_settings_update(actor=None, confidence_threshold=0.9, max_uncertainty=0.15)
    assert changed == ["confidence_threshold"]
    assert ConfigVersion.objects.count() == before + 1
    assert (
        ConfigVersion.objects.order_by("number").last().snapshot["router"]["confidence_threshold"]
        == 0.9
    )
    assert live_config.get_live_config().router.confidence_threshold == 0.9
    assert router_settings_update(actor=None, confidence_threshold=0.9) == []
    assert ConfigVersion.objects.count() == before + 1


def test_bad_router_settings_change_nothing():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        router_settings_update(actor=None, confidence_threshold=1.5)
    assert live_config.get_live_config().router.confidence_threshold == 0.85


def _decide(runtime, text, service="chat"):
    return async_to_sync(runtime.adecide)(
        RouterSpec(), service_type=service, text=text, metadata={"model": "auto"}
    )


def test_the_scorer_decides_from_the_prompt_at_the_calibrated_threshold():
    runtime = RouterRuntime()
    decision = _decide(runtime, "hello there")
    router = runtime.current(RouterSpec())
    assert decision.reason == "model" and 0.0 <= decision.score <= 1.0
    assert router.threshold is not None
    assert (decision.tier == "lightweight") == (decision.score <= router.threshold)
    assert (
        decision.confidence >= 0.925
        if decision.tier == "lightweight"
        else decision.confidence < 0.925
    )


def test_outcomes_become_exemplars_with_the_prompts_statistics_not_its_text():
    runtime = RouterRuntime()
    text = "translate good morning into French"
    decision = _decide(runtime, text)
    lightweight = NeuralDecision(**{**decision.__dict__, "tier": "lightweight"})
    for index in range(30):
        async_to_sync(runtime.arecord_outcome)(lightweight, success=True, request_id=f"r{index}")
    assert flush_outcomes() == 30
    exemplar = RoutingExemplar.objects.get()
    assert exemplar.lightweight_attempts == 30 and exemplar.success_rate > 0.95
    assert exemplar.access_count == 30
    assert (
        len(bytes(exemplar.stats)) == STAT_COUNT * 4 and len(bytes(exemplar.embedding)) == 256 * 4
    )
    assert "French" not in json.dumps(exemplar.metadata)
    recent = recent_decisions()
    assert len(recent) == 30 and recent[0]["requestId"] == "r29"
    assert recent[0]["score"] == round(decision.score, 4) and recent[0]["tier"] == "lightweight"


def test_feedback_corrects_the_upstreams_verdict_and_says_whether_powerful_was_needed(staff_client):
    runtime = RouterRuntime()
    decision = NeuralDecision(
        **{**_decide(runtime, "summarise this").__dict__, "tier": "lightweight"}
    )
    async_to_sync(runtime.arecord_outcome)(decision, success=True, request_id="req-1")
    flush_outcomes()
    response = staff_client.post(
        "/api/router/feedback", {"requestId": "req-1", "success": False}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["data"] == {"serviceType": "chat", "tier": "lightweight"}
    flush_outcomes()
    exemplar = RoutingExemplar.objects.get()
    assert (exemplar.lightweight_attempts, exemplar.lightweight_successes) == (1, 0)
    assert (exemplar.verdicts, exemplar.need_votes) == (1, 1)  # a bad lightweight answer
    explicit = staff_client.post(
        "/api/router/feedback",
        {"requestId": "req-1", "success": True, "powerfulNeeded": False},
        format="json",
    )
    assert explicit.status_code == 200
    flush_outcomes()
    exemplar.refresh_from_db()
    assert (exemplar.verdicts, exemplar.need_votes) == (2, 1)
    unknown = staff_client.post(
        "/api/router/feedback", {"requestId": "nope", "success": True}, format="json"
    )
    assert unknown.status_code == 404
    bad = staff_client.post(
        "/api/router/feedback",
        {"requestId": "req-1", "success": True, "powerfulNeeded": "perhaps"},
        format="json",
    )
    assert bad.status_code == 400


def test_broken_events_and_unknown_services_are_skipped():
    state = get_state()
    state.list_push(OUTCOMES_KEY, "not json", json.dumps({"service": "video", "hash": "x"}))
    assert flush_outcomes() == 2
    assert not RoutingExemplar.objects.exists()
    assert record_feedback(request_id="missing", success=True) is None


def test_exemplars_are_capped_per_service(settings):
    settings.NEURAL_MAX_EXEMPLARS = 3
    runtime = RouterRuntime()
    for index in range(5):
        decision = _decide(runtime, f"prompt number {index}")
        async_to_sync(runtime.arecord_outcome)(decision, success=True, request_id=f"r{index}")
    flush_outcomes()
    assert (
        RoutingExemplar.objects.filter(service_type=ServiceType.objects.get(name="chat")).count()
        == 3
    )


def test_breaker_reset_and_reload_reach_the_process():
    runtime = RouterRuntime()
    router = runtime.current(RouterSpec())
    assert router.served_model is not None
    for _ in range(6):
        router._record(0.0, success=False)
    assert router.breaker_state(now=1.0) == BreakerState.OPEN
    RouterRuntime.reset_breaker()
    assert runtime.current(RouterSpec()).breaker_state(now=1.0) == BreakerState.CLOSED
    runtime.reload(RouterSpec())
    assert runtime.current(RouterSpec()) is not router  # rebuilt after the reload counter moved


def test_applications_send_feedback_with_their_api_key(api_client, settings):
    from authjwt.services import api_key_create

    _, raw_key = api_key_create(name="app")
    get_state().set("router:decision:req-9", "chat lightweight abc")
    response = api_client.post(
        "/api/router/feedback",
        {"requestId": "req-9", "success": True},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {raw_key}",
    )
    assert response.status_code == 200, response.json()
    bad = api_client.post(
        "/api/router/feedback",
        {"requestId": "req-9", "success": True},
        format="json",
        HTTP_AUTHORIZATION="Bearer sk-not-a-real-key",
    )
    assert bad.status_code == 401
    assert (
        api_client.post(
            "/api/router/feedback", {"requestId": "req-9", "success": True}, format="json"
        ).status_code
        == 401
    )
