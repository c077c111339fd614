"""Model names as clients know them: a service type's `aliases` (client-facing name -> model) and
an instance's `upstreamModel` (the name it is asked for upstream), set through the management API
and served through the official SDK to the simulated backend as a real HTTP server."""

import json

import httpx
import openai
import pytest
from asgiref.sync import sync_to_async

from authjwt.services import api_key_create
from routerproject import generations
from routerproject.asgi import application

pytestmark = [pytest.mark.anyio, pytest.mark.processes, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def configured(upstream, staff_client):
    added = staff_client.post(
        "/api/config/instance/add/chat",
        {"name": "llama3", "baseUrl": upstream, "upstreamModel": "meta-llama/Llama-3-8B"},
        format="json",
    )
    assert added.status_code == 201, added.json()
    assert added.json()["data"]["upstreamModel"] == "meta-llama/Llama-3-8B"
    updated = staff_client.put(
        "/api/config/type/services/chat",
        {"aliases": {"gpt-4o-mini": "llama3", "orphan": "not-served"}},
        format="json",
    )
    assert updated.status_code == 200, updated.json()
    assert updated.json()["data"]["aliases"] == {"gpt-4o-mini": "llama3", "orphan": "not-served"}
    generations.forget()
    yield upstream
    generations.forget()


@pytest.fixture
def sdk(configured):
    return openai.AsyncOpenAI(
        base_url="http://gateway/v1",
        api_key=api_key_create(name="app")[1],
        max_retries=0,
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=application)),
    )


async def sent_model(upstream: str) -> str:
    async with httpx.AsyncClient() as http:
        last = (await http.get(f"{upstream}/_fake/last")).json()
    return json.loads(last["body"])["model"]


async def test_an_alias_is_listed_and_served_by_its_models_instances(sdk, configured):
    listed = {model.id: model for model in (await sdk.models.list()).data}
    assert {"llama3", "gpt-4o-mini"} <= set(listed)
    assert "orphan" not in listed  # an alias of a model nobody serves is not offered
    assert listed["gpt-4o-mini"].created == listed["llama3"].created
    assert (await sdk.models.retrieve("gpt-4o-mini")).id == "gpt-4o-mini"
    answer = await sdk.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content
    assert await sent_model(configured) == "meta-llama/Llama-3-8B"


async def test_the_upstream_model_is_what_the_instance_is_asked_for(sdk, configured):
    await sdk.chat.completions.create(model="llama3", messages=[{"role": "user", "content": "hi"}])
    assert await sent_model(configured) == "meta-llama/Llama-3-8B"
    with pytest.raises(openai.NotFoundError):
        await sdk.chat.completions.create(
            model="orphan", messages=[{"role": "user", "content": "hi"}]
        )


@pytest.mark.parametrize(
    ("aliases", "field"),
    [
        (["gpt-4o"], "aliases"),
        ({"gpt-4o": ""}, "aliases.gpt-4o"),
        ({"gpt-4o": "gpt-4o"}, "aliases.gpt-4o"),
        ({"gpt-4o": "bad\nname"}, "aliases.gpt-4o"),
    ],
)
async def test_bad_aliases_are_refused_and_change_nothing(staff_client, aliases, field):
    before = (await sync_to_async(staff_client.get)("/api/config/type/services/chat")).json()[
        "data"
    ]
    refused = await sync_to_async(staff_client.put)(
        "/api/config/type/services/chat", {"aliases": aliases}, format="json"
    )
    assert refused.status_code == 400
    assert field in refused.json()["data"]["errors"]
    after = (await sync_to_async(staff_client.get)("/api/config/type/services/chat")).json()["data"]
    assert after == before


async def test_only_openai_compatible_instances_may_pass_the_responses_api_through(staff_client):
    refused = await sync_to_async(staff_client.post)(
        "/api/config/instance/add/chat",
        {"name": "m", "baseUrl": "http://127.0.0.1:9", "adapter": "ollama", "responsesApi": True},
        format="json",
    )
    assert refused.status_code == 400
    assert "responsesApi" in refused.json()["data"]["errors"]
    accepted = await sync_to_async(staff_client.post)(
        "/api/config/instance/add/chat",
        {"name": "m", "baseUrl": "http://127.0.0.1:9", "adapter": "vllm", "responsesApi": True},
        format="json",
    )
    assert accepted.status_code == 201 and accepted.json()["data"]["responsesApi"] is True
