"""A limit of N is N across the fleet: 4 gunicorn workers share one Redis limiter."""

import asyncio

import httpx
import pytest

from tests.routing.resilience.stack import resilience_stack

pytestmark = [pytest.mark.processes, pytest.mark.redis, pytest.mark.pass_independent]

LIMIT = 37
REQUESTS = 300


def plan(upstreams: list[str], dead: str) -> dict:
    # A refill so slow that no token comes back during the test: exactly LIMIT admissions.
    limit = {"algorithm": "token_bucket", "capacity": LIMIT, "refillRate": 0.0001}
    return {
        "services": [{"name": "embedding", "rate_limit": limit}],
        "instances": [
            {"service_type": "embedding", "name": "fake-embed", "base_url": upstreams[0]}
        ],
    }


async def burst(url: str, api_key: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=REQUESTS, max_keepalive_connections=REQUESTS)
    headers = {"authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=60) as client:
        return await asyncio.gather(
            *(
                client.post(f"{url}/v1/embeddings", json={"model": "fake-embed", "input": "x"})
                for _ in range(REQUESTS)
            )
        )


def test_a_service_limit_admits_exactly_its_capacity_across_four_workers(
    tmp_path, redis_server_url
):
    with resilience_stack(
        tmp_path, plan, redis_url=redis_server_url, upstreams=1, workers=4
    ) as stack:
        responses = asyncio.run(burst(stack.url, stack.api_key))
        statuses = [r.status_code for r in responses]
        assert statuses.count(200) == LIMIT
        assert statuses.count(429) == REQUESTS - LIMIT
        refused = next(r for r in responses if r.status_code == 429)
        assert refused.json()["error"]["code"] == "rate_limit_exceeded"
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["x-ratelimit-limit"] == str(LIMIT)
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert stack.upstreams[0].stats()["requests"] == LIMIT
        served_by = {r.headers.get("x-router-instance") for r in responses if r.status_code == 200}
        assert len(served_by) == 1
