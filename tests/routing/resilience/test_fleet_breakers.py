"""Breakers hold for the whole fleet when every candidate is refused: 4 gunicorn workers share the
breakers in Redis, and concurrent bursts meet an OPEN, a HALF_OPEN and a forced-open model."""

import asyncio
import time
from dataclasses import replace

import httpx
import pytest

from routing.resilience import breaker, scripts
from routing.resilience.breaker import BreakerConfig, BreakerState
from routing.resilience.shared_breakers import breaker_key
from tests.routing.resilience.stack import Stack, resilience_stack

pytestmark = [pytest.mark.processes, pytest.mark.redis, pytest.mark.pass_independent]

RECOVERY_MS = 60_000
BREAKER = {
    "enabled": True,
    "failureThreshold": 3,
    "recoveryTimeout": RECOVERY_MS,
    "successThreshold": 1,
}
FAILING = {"x-fake-status": "500"}


def plan(upstreams: list[str], dead: str) -> dict:
    chat = {"name": "chat", "retries": 0, "circuit_breaker": BREAKER}
    return {
        "services": [chat],
        "instances": [
            {"service_type": "chat", "name": "solo", "base_url": upstreams[0]},
            {"service_type": "chat", "name": "pair", "base_url": upstreams[0]},
            {"service_type": "chat", "name": "pair", "base_url": upstreams[1]},
        ],
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_server_url):
    with resilience_stack(
        tmp_path_factory.mktemp("fleet-breakers"), plan, redis_url=redis_server_url, workers=4
    ) as running_stack:
        yield running_stack


@pytest.fixture
def ids(stack):
    a, b = (u.url for u in stack.upstreams)
    return {"solo": f"solo@{a}", "pair": [f"pair@{a}", f"pair@{b}"]}


@pytest.fixture(autouse=True)
def _fresh(stack, ids):
    stack.reset_breakers(ids["solo"], *ids["pair"])
    for upstream in stack.upstreams:
        upstream.reset()
    yield
    stack.reset_breakers(ids["solo"], *ids["pair"])


def chat(stack: Stack, model: str, **headers: str) -> httpx.Response:
    return stack.client.post(
        f"{stack.url}/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        headers=headers,
    )


async def burst(stack: Stack, model: str, count: int, headers: dict[str, str]) -> list[int]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    auth = {"authorization": f"Bearer {stack.api_key}", **headers}
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    async with httpx.AsyncClient(limits=limits, headers=auth, timeout=60) as client:
        responses = await asyncio.gather(
            *(client.post(f"{stack.url}/v1/chat/completions", json=body) for _ in range(count))
        )
    for response in responses:
        if response.status_code == 503:
            assert response.json()["error"]["code"] == "circuit_open"
            assert int(response.headers["retry-after"]) >= 1
    return [r.status_code for r in responses]


def upstream_requests(stack: Stack) -> int:
    return sum(u.stats()["requests"] for u in stack.upstreams)


def open_solo(stack: Stack, solo: str) -> None:
    for _ in range(3):
        assert chat(stack, "solo", **FAILING).status_code == 500
    assert stack.breaker(solo).state == BreakerState.OPEN
    for upstream in stack.upstreams:
        upstream.reset()


def test_an_open_breaker_lets_no_request_through(stack, ids):
    open_solo(stack, ids["solo"])
    statuses = asyncio.run(burst(stack, "solo", 30, FAILING))
    assert statuses == [503] * 30
    assert upstream_requests(stack) == 0


def test_a_half_open_breaker_admits_exactly_its_one_probe_across_the_fleet(stack, ids):
    open_solo(stack, ids["solo"])
    # The recovery timeout has passed (as if a minute went by): the next request is the probe.
    due = replace(stack.breaker(ids["solo"]), changed_at=time.time() - RECOVERY_MS / 1000 - 1)
    stack.state.set(breaker_key(ids["solo"]), breaker.encode(due))
    slow_failure = {**FAILING, "x-fake-latency-ms": "300"}
    statuses = asyncio.run(burst(stack, "solo", 30, slow_failure))
    assert sorted(statuses) == [500] + [503] * 29
    assert upstream_requests(stack) == 1
    assert stack.breaker(ids["solo"]).state == BreakerState.OPEN  # the probe failed


def test_instances_forced_open_receive_nothing(stack, ids):
    for instance_id in ids["pair"]:
        # What POST /api/monitoring/circuit-breaker/force-open runs (breakers.force_breakers).
        stack.state.run_script(
            scripts.BREAKER_FORCE,
            [breaker_key(instance_id)],
            scripts.breaker_args(BreakerConfig(1, 1.0, 1, 1), "1"),
            time.time(),
        )
    statuses = asyncio.run(burst(stack, "pair", 10, {}))
    assert statuses == [503] * 10
    assert upstream_requests(stack) == 0
    assert all(stack.breaker(i).forced for i in ids["pair"])
