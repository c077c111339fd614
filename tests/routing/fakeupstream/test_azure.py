"""Azure OpenAI's deployment paths on the simulated backend: answered as the OpenAI routes, the
deployment standing in for the model, 404 "Resource not found" without an api-version."""

import json

import httpx
import openai
import pytest

from routing.fakeupstream.answers import ANSWER

pytestmark = [pytest.mark.anyio, pytest.mark.processes]

VERSION = "2024-10-21"


def sdk(upstream: str) -> openai.AsyncAzureOpenAI:
    return openai.AsyncAzureOpenAI(
        azure_endpoint=upstream, api_version=VERSION, api_key="azure-key", max_retries=0
    )


async def last(upstream: str) -> dict:
    async with httpx.AsyncClient(base_url=upstream) as http:
        return (await http.get("/_fake/last")).json()


async def test_the_official_azure_sdk_gets_chat_completions_from_a_deployment(upstream):
    client = sdk(upstream)
    completion = await client.chat.completions.create(
        model="gpt-4o-prod", messages=[{"role": "user", "content": "hi"}]
    )
    seen = await last(upstream)
    assert completion.choices[0].message.content == ANSWER
    assert completion.model == "gpt-4o-prod"
    assert seen["path"] == "/openai/deployments/gpt-4o-prod/chat/completions"
    assert seen["query"] == f"api-version={VERSION}"
    assert seen["headers"]["api-key"] == "azure-key"
    await client.close()


async def test_the_official_azure_sdk_streams_a_tool_call(upstream):
    client = sdk(upstream)
    tool = {
        "type": "function",
        "function": {"name": "f", "parameters": {"properties": {"q": {"type": "string"}}}},
    }
    stream = await client.chat.completions.create(
        model="dep",
        messages=[{"role": "user", "content": "hi"}],
        tools=[tool],
        stream=True,
    )
    arguments = ""
    reasons = []
    async for chunk in stream:
        for choice in chunk.choices:
            reasons.append(choice.finish_reason)
            for call in choice.delta.tool_calls or []:
                arguments += (call.function and call.function.arguments) or ""
    assert json.loads(arguments) == {"q": "Paris"}
    assert reasons[-1] == "tool_calls"
    await client.close()


async def test_completions_and_embeddings_answer_as_the_openai_routes(upstream):
    client = sdk(upstream)
    completion = await client.completions.create(model="instruct", prompt="hi")
    embedded = await client.embeddings.create(model="embedder", input=["a", "b"])
    assert completion.choices[0].text == ANSWER and completion.model == "instruct"
    assert len(embedded.data) == 2 and embedded.model == "embedder"
    await client.close()


async def test_the_body_model_wins_over_the_deployment_when_it_names_one(upstream):
    async with httpx.AsyncClient(base_url=upstream) as http:
        named = await http.post(
            f"/openai/deployments/dep/chat/completions?api-version={VERSION}",
            json={"model": "in-body", "messages": []},
        )
        unnamed = await http.post(
            f"/openai/deployments/dep/chat/completions?api-version={VERSION}",
            json={"messages": []},
        )
    assert named.json()["model"] == "in-body"
    assert unnamed.json()["model"] == "dep"


@pytest.mark.parametrize(
    "path",
    [
        "/openai/deployments/dep/chat/completions",
        "/openai/deployments/dep/chat/completions?api-version=",
        "/openai/deployments/dep/chat/completions?version=1",
        f"/openai/deployments/dep/messages?api-version={VERSION}",
        f"/openai/deployments/dep/?api-version={VERSION}",
    ],
)
async def test_a_path_azure_does_not_serve_is_resource_not_found(upstream, path):
    async with httpx.AsyncClient(base_url=upstream) as http:
        answer = await http.post(path, json={"messages": []})
    assert answer.status_code == 404
    assert answer.json() == {"error": {"code": "404", "message": "Resource not found"}}


async def test_the_sdk_sees_a_missing_api_version_as_not_found(upstream):
    client = openai.AsyncOpenAI(
        base_url=f"{upstream}/openai/deployments/dep", api_key="k", max_retries=0
    )
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(model="dep", messages=[])
    await client.close()
