"""API keys that govern: the models a key may use, its budget in USD per period and its tokens per
minute, counted from priced instances' answers, set and read through the management API, enforced
on /v1 through the official SDK against the simulated backend as a real HTTP server."""

import asyncio

import httpx
import openai
import pytest
from asgiref.sync import sync_to_async

from authjwt import key_usage
from authjwt.keys import ApiKeyPrincipal
from authjwt.models import ApiKey
from routerproject import generations
from routerproject.asgi import application
from routerproject.state import MemoryState
from routing.dataplane import governance

pytestmark = [pytest.mark.anyio, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

HI = [{"role": "user", "content": "hi"}]
# The simulated backend answers 7 prompt and 16 completion tokens: $0.0003 at these prices.
PRICES = {"inputCostPerMillionTokens": 20.0, "outputCostPerMillionTokens": 10.0}
COST = (7 * 20.0 + 16 * 10.0) / 1e6


@pytest.fixture
def priced(upstream, staff_client):
    added = staff_client.post(
        "/api/config/instance/add/chat",
        {"name": "priced-chat", "baseUrl": upstream, **PRICES},
        format="json",
    )
    assert added.status_code == 201, added.json()
    assert added.json()["data"]["inputCostPerMillionTokens"] == 20.0
    generations.forget()
    yield upstream
    generations.forget()


def create_key(staff_client, **fields) -> tuple[str, str]:
    created = staff_client.post("/api/auth/api-keys", {"name": "governed", **fields}, format="json")
    assert created.status_code == 201, created.json()
    data = created.json()["data"]
    return data["id"], data["key"]


def sdk(key: str, retries: int = 0) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url="http://gateway/v1",
        api_key=key,
        max_retries=retries,
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=application)),
    )


async def ask(client: openai.AsyncOpenAI, stream: bool = False) -> None:
    if stream:
        chunks = await client.chat.completions.create(model="priced-chat", messages=HI, stream=True)
        [chunk async for chunk in chunks]
    else:
        await client.chat.completions.create(model="priced-chat", messages=HI)
    await governance.settled()


async def test_a_key_over_its_budget_gets_insufficient_quota_and_no_upstream_call(
    priced, staff_client
):
    key_id, key = await sync_to_async(create_key)(staff_client, maxBudget=0.001)
    client = sdk(key, retries=2)  # a budget refusal says x-should-retry: false: asked once
    answered = 0
    while answered < 10:
        try:
            await ask(client, stream=answered % 2 == 1)  # streams count without include_usage
        except openai.RateLimitError as refused:
            assert refused.code == "insufficient_quota" and refused.type == "insufficient_quota"
            assert refused.response.headers["x-should-retry"] == "false"
            break
        answered += 1
    # 0.001 / 0.0003: the fourth request finds the budget spent.
    assert answered == 4
    async with httpx.AsyncClient() as http:
        before = (await http.get(f"{priced}/_fake/stats")).json()["requests"]
        with pytest.raises(openai.RateLimitError):
            await ask(client)
        assert (await http.get(f"{priced}/_fake/stats")).json()["requests"] == before
    shown = (await sync_to_async(staff_client.get)(f"/api/auth/api-keys/{key_id}")).json()["data"]
    assert shown["maxBudget"] == 0.001
    assert shown["usage"]["requests"] == 4
    assert shown["usage"]["promptTokens"] == 28 and shown["usage"]["completionTokens"] == 64
    assert shown["usage"]["spend"] == pytest.approx(4 * COST)
    assert shown["usage"]["lastUsedAt"] is not None


async def test_a_key_may_use_only_its_models(priced, staff_client):
    _, key = await sync_to_async(create_key)(staff_client, models=["other-model"])
    with pytest.raises(openai.PermissionDeniedError) as refused:
        await ask(sdk(key))
    assert refused.value.code == "model_not_allowed"
    _, allowed = await sync_to_async(create_key)(staff_client, models=["priced-chat"])
    await ask(sdk(allowed))


async def test_a_key_over_its_tokens_per_minute_waits_for_the_next_minute(priced, staff_client):
    _, key = await sync_to_async(create_key)(staff_client, tokensPerMinute=40)
    client = sdk(key)
    await ask(client)  # 23 tokens
    await ask(client)  # 46: over from now on
    with pytest.raises(openai.RateLimitError) as refused:
        await ask(client)
    headers = refused.value.response.headers
    assert headers["x-ratelimit-limit-tokens"] == "40"
    assert 1 <= int(headers["retry-after"]) <= 60


async def test_governance_is_edited_through_the_management_api(staff_client):
    key_id, _ = await sync_to_async(create_key)(staff_client)
    edited = await sync_to_async(staff_client.patch)(
        f"/api/auth/api-keys/{key_id}",
        {"maxBudget": 5, "budgetDuration": "30d", "metadata": {"team": "search"}},
        format="json",
    )
    assert edited.status_code == 200, edited.json()
    data = edited.json()["data"]
    assert (data["maxBudget"], data["budgetDuration"]) == (5.0, "30d")
    assert data["metadata"] == {"team": "search"}
    for bad in ({"budgetDuration": "monthly"}, {"maxBudget": -1}, {"models": "all"}):
        refused = await sync_to_async(staff_client.patch)(
            f"/api/auth/api-keys/{key_id}", bad, format="json"
        )
        assert refused.status_code == 400, refused.json()
    row = await ApiKey.objects.aget(pk=key_id)
    assert row.budget_duration == "30d" and row.max_budget == 5.0


def test_a_budget_period_starts_from_zero_and_the_old_one_is_forgotten():
    clock = [1_000.0]
    state = MemoryState(clock=lambda: clock[0])
    principal = ApiKeyPrincipal(
        key_id="k",
        name="k",
        prefix="sk",
        allowed_service_types=frozenset(),
        expires_at=None,
        requests_per_minute=None,
        enabled=True,
        revoked=False,
        max_budget=1.0,
        budget_period_s=3600,
        created_at=0.0,
    )

    async def scenario() -> tuple[float, float, float]:
        await key_usage.arecord(
            principal, prompt_tokens=1, completion_tokens=1, cost=0.5, state=state, now=clock[0]
        )
        during = (await key_usage.astanding(principal, state, clock[0])).spend
        clock[0] = 3_700.0  # the next hour-long period
        after = (await key_usage.astanding(principal, state, clock[0])).spend
        total = key_usage.usage_of([principal], state)["k"].spend
        return during, after, total

    assert asyncio.run(scenario()) == (0.5, 0.0, 0.5)
