"""The pipeline in-process against the simulated upstream: no lease (in-flight count) leaks on any
outcome, 503 when nothing is eligible, Ollama's stream translated on the way through."""

import asyncio
from types import MappingProxyType

import httpx
import pytest
from django.test import AsyncRequestFactory

from routerproject import generations
from routerproject.state import get_state
from routing.dataplane import pipeline
from routing.dataplane.endpoints import ENDPOINTS
from routing.dataplane.selection import in_flight_key
from routing.live_config import install_live_config
from tests.processes import free_port
from tests.routing.dataplane.specs import instance, live_config, service

pytestmark = [pytest.mark.anyio, pytest.mark.processes]

CHAT = ENDPOINTS["chat/completions"]


@pytest.fixture
def chat_pool(upstream):
    dead = f"http://127.0.0.1:{free_port()}"
    instances = [
        instance(base_url=upstream, weight=1),
        instance(base_url=upstream + "/v1", weight=2),
        instance("dead-model", dead),
        instance("slow-model", upstream, request_timeout_s=0.2),
    ]
    install_live_config(live_config(service("chat", instances, load_balancer="least_connections")))
    yield instances
    generations.forget()


def chat_request(body: bytes, **headers: str):
    return AsyncRequestFactory().post(
        "/v1/chat/completions", body, content_type="application/json", headers=headers
    )


async def assert_no_in_flight(instances):
    for spec in instances:
        assert get_state().lease_count(in_flight_key(spec)) == 0, spec.instance_id


async def test_no_in_flight_count_leaks_after_success_errors_or_timeouts(chat_pool):
    bodies = [
        (b'{"model": "fake-chat"}', {}, 200),
        (b'{"model": "fake-chat"}', {"x-fake-status": "500"}, 500),
        (b'{"model": "fake-chat"}', {"x-fake-status": "429"}, 429),
        (b'{"model": "dead-model"}', {}, 502),
        (b'{"model": "slow-model"}', {"x-fake-latency-ms": "1000"}, 504),
    ]
    for body, headers, status in bodies:
        response = await pipeline.handle(chat_request(body, **headers), CHAT)
        assert response.status_code == status
    await assert_no_in_flight(chat_pool)


async def test_a_stream_abandoned_by_its_client_releases_its_instance_and_upstream(
    chat_pool, upstream
):
    async with httpx.AsyncClient() as http:
        await http.post(f"{upstream}/_fake/reset")
    request = chat_request(
        b'{"model": "fake-chat", "stream": true}', x_fake_chunks="50", x_fake_chunk_delay_ms="50"
    )
    response = await pipeline.handle(request, CHAT)
    held = [get_state().lease_count(in_flight_key(spec)) for spec in chat_pool[:2]]
    assert sum(held) == 1, "the stream holds its instance while it runs"
    chunks = aiter(response)
    assert (await anext(chunks)).startswith(b"data: ")
    await chunks.aclose()  # what Django's ASGI handler does when the client disconnects
    await assert_no_in_flight(chat_pool)
    async with httpx.AsyncClient() as http:
        for _ in range(50):
            stats = (await http.get(f"{upstream}/_fake/stats")).json()
            if stats["streams_aborted"]:
                break
            await asyncio.sleep(0.05)
    assert stats["streams_aborted"] == 1


async def test_a_response_closed_before_its_body_is_read_releases_its_instance(chat_pool):
    response = await pipeline.handle(chat_request(b'{"model": "fake-chat", "stream": true}'), CHAT)
    response.close()
    await assert_no_in_flight(chat_pool)


async def test_least_connections_spreads_concurrent_streams_by_weight(chat_pool):
    responses = [
        await pipeline.handle(chat_request(b'{"model": "fake-chat", "stream": true}'), CHAT)
        for _ in range(6)
    ]
    served = [r["x-router-instance"] for r in responses]
    assert (
        served.count(chat_pool[1].instance_id) == 4 and served.count(chat_pool[0].instance_id) == 2
    )
    for response in responses:
        chunks = aiter(response)
        await anext(chunks)
        await chunks.aclose()
    await assert_no_in_flight(chat_pool)


async def test_no_eligible_instance_answers_503_with_retry_after(upstream):
    disabled = instance(base_url=upstream, enabled=False)
    spec = service("chat", [disabled])
    # A snapshot whose model still lists the instance, as it will once health checks drain it.
    spec = type(spec)(
        **{
            **{f: getattr(spec, f) for f in spec.__slots__},
            "by_model": MappingProxyType({"fake-chat": (disabled,)}),
        }
    )
    install_live_config(live_config(spec))
    try:
        response = await pipeline.handle(chat_request(b'{"model": "fake-chat"}'), CHAT)
    finally:
        generations.forget()
    assert response.status_code == 503 and response["Retry-After"] == "1"
    assert b'"no_available_instance"' in response.content
