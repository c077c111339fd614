"""Past one Redis: four gunicorn workers hold a limit and a breaker exactly on a Redis Cluster of
three primaries, and through a planned Sentinel failover, as they do on one server
(test_fleet_rate_limit.py, test_fleet_breakers.py). The topologies are the tests' own, started
from Debian's redis-server."""

import asyncio

import httpx
import pytest

from routing.resilience.breaker import BreakerState
from tests.redis_topologies import redis_sentinel
from tests.routing.resilience.stack import Stack, resilience_stack

pytestmark = [pytest.mark.processes, pytest.mark.pass_independent]

LIMIT = 37
FAILING = {"x-fake-status": "500"}
BREAKER = {"enabled": True, "failureThreshold": 3, "recoveryTimeout": 60_000, "successThreshold": 1}
# A Redis Cluster cannot carry Celery's broker; these workers publish no job, so an in-process one
# serves. Celery with Sentinel follows the same Sentinels (routerproject.redis_urls.celery_urls).
NO_BROKER = {"CELERY_BROKER_URL": "memory://", "CELERY_RESULT_BACKEND": "cache+memory://"}


def plan(upstreams: list[str], dead: str) -> dict:
    # A refill so slow that no token comes back during the test: exactly LIMIT admissions.
    limit = {"algorithm": "token_bucket", "capacity": LIMIT, "refillRate": 0.0001}
    return {
        "services": [
            {"name": "embedding", "rate_limit": limit},
            {"name": "chat", "retries": 0, "circuit_breaker": BREAKER},
        ],
        "instances": [
            {"service_type": "embedding", "name": "fake-embed", "base_url": upstreams[0]},
            {"service_type": "chat", "name": "solo", "base_url": upstreams[0]},
        ],
    }


async def burst(stack: Stack, path: str, body: dict, count: int, **headers: str) -> list[int]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    auth = {"authorization": f"Bearer {stack.api_key}", **headers}
    async with httpx.AsyncClient(limits=limits, headers=auth, timeout=60) as client:
        responses = await asyncio.gather(
            *(client.post(f"{stack.url}{path}", json=body) for _ in range(count))
        )
    return [r.status_code for r in responses]


def embeddings(stack: Stack, count: int) -> list[int]:
    return asyncio.run(burst(stack, "/v1/embeddings", {"model": "fake-embed", "input": "x"}, count))


def chats(stack: Stack, count: int, **headers: str) -> list[int]:
    body = {"model": "solo", "messages": [{"role": "user", "content": "hi"}]}
    return asyncio.run(burst(stack, "/v1/chat/completions", body, count, **headers))


def open_breaker(stack: Stack) -> None:
    assert chats(stack, 3, **FAILING) == [500] * 3
    assert stack.breaker(f"solo@{stack.upstreams[0].url}").state == BreakerState.OPEN


def test_on_a_redis_cluster_a_limit_and_a_breaker_hold_across_four_workers(
    tmp_path, redis_cluster_url
):
    with resilience_stack(
        tmp_path, plan, redis_url=redis_cluster_url, upstreams=1, workers=4, extra_env=NO_BROKER
    ) as stack:
        statuses = embeddings(stack, 200)
        assert statuses.count(200) == LIMIT
        assert statuses.count(429) == 200 - LIMIT
        open_breaker(stack)
        stack.upstreams[0].reset()
        assert chats(stack, 30, **FAILING) == [503] * 30
        assert stack.upstreams[0].stats()["requests"] == 0
        # Every key the fleet wrote shares one slot (one hash tag): the scripts could run.
        keys = list(stack.state.client.scan_iter(match=stack.state.prefix + "*"))
        assert len(keys) >= 3
        assert len({stack.state.client.keyslot(key) for key in keys}) == 1


def test_through_a_sentinel_failover_a_limit_and_a_breaker_hold_across_four_workers(tmp_path):
    with (
        redis_sentinel(tmp_path / "redis") as sentinel,
        resilience_stack(
            tmp_path / "stack", plan, redis_url=sentinel.url, upstreams=1, workers=4
        ) as stack,
    ):
        assert embeddings(stack, 20) == [200] * 20
        open_breaker(stack)
        stack.upstreams[0].reset()
        sentinel.fail_over()
        # The new primary holds what the old one had: the rest of the capacity, the open breaker.
        statuses = embeddings(stack, 200)
        assert statuses.count(200) == LIMIT - 20
        assert statuses.count(429) == 200 - (LIMIT - 20)
        assert chats(stack, 30, **FAILING) == [503] * 30
        assert stack.upstreams[0].stats()["requests"] == LIMIT - 20
