"""A key's budget across the fleet: 2 gunicorn workers count one key's spend into the same Redis,
so the spend is exact whichever worker served, and the key is refused with `insufficient_quota`
once its budget is spent, whichever worker it asks."""

import pytest

from tests.routing.resilience.stack import resilience_stack

pytestmark = [pytest.mark.processes, pytest.mark.redis, pytest.mark.pass_independent]

# The simulated backend answers 7 prompt and 16 completion tokens: $0.0003 a request.
COST_MICRO = 7 * 20 + 16 * 10
BUDGET = 0.001


def plan(upstreams: list[str], dead: str) -> dict:
    return {
        "services": [{"name": "chat"}],
        "instances": [
            {
                "service_type": "chat",
                "name": "priced-chat",
                "base_url": upstreams[0],
                "input_cost_per_million": 20.0,
                "output_cost_per_million": 10.0,
            }
        ],
        "api_key": {"max_budget": BUDGET},
    }


def test_a_budget_holds_across_two_workers(tmp_path, redis_server_url):
    with resilience_stack(
        tmp_path, plan, redis_url=redis_server_url, upstreams=1, workers=2
    ) as stack:
        body = {"model": "priced-chat", "messages": [{"role": "user", "content": "hi"}]}
        statuses = []
        for index in range(12):
            # A new connection each time: the two workers take turns accepting them.
            stream = index % 2 == 1
            response = stack.client.post(
                f"{stack.url}/v1/chat/completions",
                json={**body, "stream": stream},
                headers={"connection": "close"},
            )
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert response.json()["error"]["code"] == "insufficient_quota"
        admitted = statuses.count(200)
        # 0.001 / 0.0003: spent after the fourth; one more may pass while the last one's spend
        # is being added on the other worker (requests in flight are not counted yet).
        assert 4 <= admitted <= 5, statuses
        assert statuses[admitted:] == [429] * (12 - admitted)
        assert stack.upstreams[0].stats()["requests"] == admitted
        spend_keys = stack.state.client.keys(stack.state._k("key-usage:*:spend"))
        assert len(spend_keys) == 1
        assert int(stack.state.client.get(spend_keys[0])) == admitted * COST_MICRO
