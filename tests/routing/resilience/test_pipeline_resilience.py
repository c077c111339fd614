"""Rate limits, breakers, retries, fallback and health in the pipeline, in-process, against the
simulated upstream as a real HTTP server (and a dead port for connection failures)."""

import json
from dataclasses import replace
from types import MappingProxyType

import httpx
import pytest
from django.test import AsyncRequestFactory

from routerproject import generations
from routerproject.state import get_state
from routing.dataplane import errors, pipeline
from routing.dataplane.endpoints import ENDPOINTS
from routing.dataplane.exchange import Exchange
from routing.dataplane.selection import in_flight_key
from routing.live_config import install_live_config
from routing.resilience import rate_limit, shared_breakers
from routing.snapshot import BreakerSpec, FallbackSpec, RateLimitSpec
from tests.processes import free_port
from tests.routing.dataplane.specs import instance, live_config, service

pytestmark = [pytest.mark.anyio, pytest.mark.processes]

CHAT = ENDPOINTS["chat/completions"]
BREAKER = BreakerSpec(
    enabled=True, failure_threshold=2, recovery_timeout_ms=60_000, success_threshold=1
)


@pytest.fixture
def dead():
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(autouse=True)
def _no_live_config_left():
    yield
    generations.forget()


def limit(capacity=2, *, scope="service", algorithm="token_bucket", rate=0.001) -> RateLimitSpec:
    return RateLimitSpec(algorithm, capacity, rate, scope, 1.0, 10.0)


def install(*instances, **changes):
    spec = replace(service("chat", instances, load_balancer="round_robin"), **changes)
    install_live_config(live_config(spec))
    return spec


def chat_request(model="fake-chat", *, ip="10.0.0.1", stream=False, **headers):
    body = json.dumps({"model": model, "stream": stream}).encode()
    request = AsyncRequestFactory().post(
        "/v1/chat/completions", body, content_type="application/json", headers=headers
    )
    request.META["REMOTE_ADDR"] = ip
    return request


async def serve(request):
    exchange = Exchange("test")
    try:
        response = await pipeline._serve(request, CHAT, exchange)
    except errors.GatewayError as error:
        response = error.response()
    return exchange.stamp(response), exchange


async def assert_no_in_flight(*instances):
    for spec in instances:
        assert get_state().lease_count(in_flight_key(spec)) == 0, spec.instance_id


async def last_upstream_request(upstream) -> dict:
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{upstream}/_fake/last")).json()


async def upstream_requests(upstream) -> int:
    async with httpx.AsyncClient() as http:
        return int((await http.get(f"{upstream}/_fake/stats")).json()["requests"])


async def test_a_service_limit_refuses_with_429_retry_after_and_ratelimit_headers(upstream):
    install(instance(base_url=upstream), rate_limit=limit(2))
    first, _ = await serve(chat_request())
    second, _ = await serve(chat_request())
    refused, exchange = await serve(chat_request())
    assert (first.status_code, second.status_code) == (200, 200)
    assert first["x-ratelimit-limit"] == "2" and first["x-ratelimit-remaining"] == "1"
    assert second["x-ratelimit-remaining"] == "0"
    assert refused.status_code == 429
    assert json.loads(refused.content)["error"]["code"] == "rate_limit_exceeded"
    assert int(refused["Retry-After"]) >= 1
    assert refused["x-ratelimit-limit"] == "2" and refused["x-ratelimit-remaining"] == "0"
    assert int(refused["x-ratelimit-reset"]) > 0
    # OpenAI's names for the same request limit, which its SDKs and clients read.
    assert first["x-ratelimit-limit-requests"] == "2"
    assert first["x-ratelimit-remaining-requests"] == "1"
    assert refused["x-ratelimit-remaining-requests"] == "0"
    reset = int(refused["x-ratelimit-reset"])
    assert refused["x-ratelimit-reset-requests"] == rate_limit.openai_duration(reset)
    assert exchange.rejected_by == "service"


async def test_a_changed_limit_applies_to_the_next_request(upstream):
    backend = instance(base_url=upstream)
    install(backend, rate_limit=limit(1))
    assert (await serve(chat_request()))[0].status_code == 200
    assert (await serve(chat_request()))[0].status_code == 429
    install(backend, rate_limit=limit(5))  # same algorithm: the stored bucket is kept, enlarged
    assert (await serve(chat_request()))[0].status_code == 429  # no tokens refilled yet
    install(backend, rate_limit=limit(5, rate=1e9))
    assert (await serve(chat_request()))[0].status_code == 200
    install(backend, rate_limit=None)
    response, _ = await serve(chat_request())
    assert response.status_code == 200 and not response.has_header("x-ratelimit-limit")


async def test_a_client_ip_limit_counts_each_client_apart(upstream):
    install(instance(base_url=upstream), rate_limit=limit(1, scope="client_ip"))
    assert (await serve(chat_request(ip="10.0.0.1")))[0].status_code == 200
    assert (await serve(chat_request(ip="10.0.0.2")))[0].status_code == 200
    refused, exchange = await serve(chat_request(ip="10.0.0.1"))
    assert refused.status_code == 429 and exchange.rejected_by == "client_ip"


@pytest.mark.parametrize("algorithm", ["token_bucket", "leaky_bucket", "sliding_window", "warm_up"])
async def test_every_algorithm_refuses_past_its_burst(upstream, algorithm):
    capacity = 1 if algorithm == "warm_up" else 3  # warm_up starts cold: a burst of one
    spec = RateLimitSpec(algorithm, 3, 0.001, "service", 3600.0, 3600.0)
    install(instance(base_url=upstream), rate_limit=spec)
    statuses = [(await serve(chat_request()))[0].status_code for _ in range(5)]
    assert statuses == [200] * capacity + [429] * (5 - capacity)


async def test_an_instance_at_its_limit_is_passed_over_for_another(upstream):
    limited = replace(instance(base_url=upstream), rate_limit=limit(1, scope="instance"))
    free = instance(base_url=upstream + "/v1")
    install(limited, free)
    served = [(await serve(chat_request()))[0]["x-router-instance"] for _ in range(4)]
    assert served.count(limited.instance_id) == 1 and served.count(free.instance_id) == 3
    install(limited)
    refused, exchange = await serve(chat_request())
    assert refused.status_code == 429 and exchange.rejected_by == "instance"
    await assert_no_in_flight(limited, free)


async def test_a_connection_failure_is_retried_once_on_another_instance(upstream, dead):
    down, up = instance(base_url=dead), instance(base_url=upstream)
    install(down, up, retries=1)
    for _ in range(4):  # round robin: every other request meets the dead instance first
        response, exchange = await serve(chat_request())
        assert response.status_code == 200
        assert response["x-router-instance"] == up.instance_id
    assert exchange.retries in (0, 1)
    install(down, instance("fake-chat", dead + "/v1"), retries=1)
    response, exchange = await serve(chat_request())
    assert response.status_code == 502 and exchange.retries == 1
    await assert_no_in_flight(down, up)


async def test_a_5xx_is_retried_only_for_idempotent_requests_or_when_configured(upstream, settings):
    first, second = instance(base_url=upstream), instance(base_url=upstream + "/v1")
    install(first, second, retries=1)
    response, exchange = await serve(chat_request(x_fake_status="500"))
    assert response.status_code == 500 and exchange.retries == 0
    response, exchange = await serve(chat_request(x_fake_status="500", idempotency_key="abc-123"))
    assert response.status_code == 500 and exchange.retries == 1
    settings.GATEWAY_RETRY_NON_IDEMPOTENT = True
    response, exchange = await serve(chat_request(x_fake_status="503"))
    assert response.status_code == 503 and exchange.retries == 1
    # An upstream 429 refused the work: retried whatever the setting.
    settings.GATEWAY_RETRY_NON_IDEMPOTENT = False
    response, exchange = await serve(chat_request(x_fake_status="429"))
    assert response.status_code == 429 and exchange.retries == 1
    await assert_no_in_flight(first, second)


async def test_fallback_models_are_tried_in_order_then_the_fixed_response(upstream, dead):
    primary = instance("big-model", dead)
    broken = instance("medium-model", dead + "/v1")
    backup = instance("fake-chat", upstream)
    fallback = FallbackSpec(
        models=("missing", "medium-model", "fake-chat"), response=None, response_status=200
    )
    install(primary, broken, backup, retries=0, fallback=fallback)
    response, exchange = await serve(chat_request("big-model"))
    assert response.status_code == 200 and exchange.fallback_model == "fake-chat"
    assert response["x-router-fallback"] == "fake-chat"
    assert response["x-router-instance"] == backup.instance_id
    assert exchange.retries == 2
    assert json.loads((await last_upstream_request(upstream))["body"])["model"] == "fake-chat"

    fixed = FallbackSpec(
        models=("medium-model",),
        response=MappingProxyType({"error": {"message": "busy, try later"}}),
        response_status=503,
    )
    install(primary, broken, retries=0, fallback=fixed)
    response, _ = await serve(chat_request("big-model"))
    assert response.status_code == 503 and response["x-router-fallback"] == "response"
    assert json.loads(response.content) == {"error": {"message": "busy, try later"}}
    await assert_no_in_flight(primary, broken, backup)


async def test_a_breaker_opens_and_its_instance_is_skipped(upstream, dead):
    down = replace(instance(base_url=dead), breaker=BREAKER)
    up = replace(instance(base_url=upstream), breaker=BREAKER)
    install(down, up, retries=1)
    for _ in range(6):
        assert (await serve(chat_request()))[0].status_code == 200
    stats = shared_breakers.breaker_stats([down.instance_id, up.instance_id])
    assert stats[down.instance_id]["state"] == "OPEN"
    assert stats[down.instance_id]["failureCount"] == 2  # skipped once open
    assert stats[up.instance_id]["state"] == "CLOSED"
    assert stats[up.instance_id]["requestCount"] == 6


async def test_when_every_breaker_is_open_nothing_is_tried_and_the_fallback_answers(
    upstream, monkeypatch
):
    a = replace(instance(base_url=upstream), breaker=BREAKER)
    b = replace(instance(base_url=upstream + "/v1"), breaker=BREAKER)
    backup = instance("backup-model", upstream)
    install(a, b, backup, retries=1)
    now = [1000.0]
    monkeypatch.setattr(shared_breakers, "clock", lambda: now[0])
    for spec, at in ((a, 1000.0), (b, 1001.0)):
        now[0] = at
        for _ in range(2):
            await shared_breakers.arecord(spec, False, get_state())
    now[0] = 1002.0
    before = await upstream_requests(upstream)
    refused, exchange = await serve(chat_request())
    assert refused.status_code == 503 and exchange.instance_id == ""
    assert json.loads(refused.content)["error"]["code"] == "circuit_open"
    assert refused["Retry-After"] == "58"  # a reopens 60 s after its last failure, at 1060
    assert await upstream_requests(upstream) == before  # nothing reached the upstream

    models = FallbackSpec(models=("backup-model",), response=None, response_status=200)
    install(a, b, backup, retries=1, fallback=models)
    response, _ = await serve(chat_request())
    assert response.status_code == 200 and response["x-router-fallback"] == "backup-model"
    fixed = FallbackSpec(
        models=(), response=MappingProxyType({"error": {"message": "busy"}}), response_status=503
    )
    install(a, b, fallback=fixed)
    response, _ = await serve(chat_request())
    assert response.status_code == 503 and response["x-router-fallback"] == "response"


async def test_a_half_open_breaker_closes_after_a_successful_probe(upstream, monkeypatch):
    backend = replace(instance(base_url=upstream), breaker=BREAKER)
    install(backend, instance(base_url=upstream + "/v1"))
    now = [5000.0]
    monkeypatch.setattr(shared_breakers, "clock", lambda: now[0])
    for _ in range(2):
        await shared_breakers.arecord(backend, False, get_state())
    served = {(await serve(chat_request()))[0]["x-router-instance"] for _ in range(4)}
    assert backend.instance_id not in served
    now[0] += 61
    served = [(await serve(chat_request()))[0]["x-router-instance"] for _ in range(4)]
    assert backend.instance_id in served
    assert (
        shared_breakers.breaker_stats([backend.instance_id])[backend.instance_id]["state"]
        == "CLOSED"
    )


async def test_forced_open_takes_an_instance_out_until_forced_closed(upstream):
    a = replace(instance(base_url=upstream), breaker=BREAKER)
    b = replace(instance(base_url=upstream + "/v1"), breaker=BREAKER)
    install(a, b)
    shared_breakers.force_breakers([a.instance_id], open_=True)
    served = {(await serve(chat_request()))[0]["x-router-instance"] for _ in range(4)}
    assert served == {b.instance_id}
    shared_breakers.force_breakers([a.instance_id], open_=False)
    served = {(await serve(chat_request()))[0]["x-router-instance"] for _ in range(4)}
    assert served == {a.instance_id, b.instance_id}


async def test_unhealthy_instances_are_skipped_unless_all_are(upstream):
    a, b = instance(base_url=upstream), instance(base_url=upstream + "/v1")
    install(a, b)
    state = get_state()
    await state.aset(shared_breakers.health_key(a.instance_id), shared_breakers.UNHEALTHY)
    served = {(await serve(chat_request()))[0]["x-router-instance"] for _ in range(4)}
    assert served == {b.instance_id}
    await state.aset(shared_breakers.health_key(b.instance_id), shared_breakers.UNHEALTHY)
    served = {(await serve(chat_request()))[0]["x-router-instance"] for _ in range(4)}
    assert served == {a.instance_id, b.instance_id}
    await state.aset(shared_breakers.health_key(a.instance_id), shared_breakers.HEALTHY)
    served = {(await serve(chat_request()))[0]["x-router-instance"] for _ in range(4)}
    assert served == {a.instance_id}


async def test_a_stream_cut_after_its_first_byte_is_not_retried_and_ends_with_an_error_event(
    upstream,
):
    a, b = instance(base_url=upstream), instance(base_url=upstream + "/v1")
    install(a, b, retries=1)
    # The stream is relayed as it comes: its failure can only be told in the stream itself.
    response, exchange = await serve(
        chat_request(stream=True, x_fake_chunks="3", x_fake_chunk_delay_ms="10")
    )
    assert response.status_code == 200
    body = b"".join([chunk async for chunk in response])
    assert body.count(b"data: ") >= 3 and exchange.retries == 0
    await assert_no_in_flight(a, b)


@pytest.mark.parametrize(
    ("seconds", "written"), [(0, "0s"), (45, "45s"), (60, "1m0s"), (361, "6m1s"), (3723, "1h2m3s")]
)
def test_resets_are_written_as_openai_writes_durations(seconds, written):
    assert rate_limit.openai_duration(seconds) == written
