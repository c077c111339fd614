"""Real /v1 requests through the ASGI application to the simulated backend (a real HTTP server) are
recorded off the request path: after a flush, each is a row of `/api/requests` under its request
id, with its key's name, its status, its model and instance, its tokens and its timings; a stream
is recorded once it has ended, a refusal as well as an answer."""

import httpx
import pytest
from asgiref.sync import sync_to_async

from authjwt.services import api_key_create
from monitoring import request_history
from monitoring.request_history import RequestHistory
from routerproject import generations
from routerproject.asgi import application
from routing.services import instance_add

pytestmark = [pytest.mark.anyio, pytest.mark.processes, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def history(monkeypatch, settings):
    settings.REQUEST_HISTORY_ENABLED = True
    settings.GATEWAY_REQUIRE_API_KEY = True
    recorded = RequestHistory(capacity=100, batch_size=50, flush_seconds=3600, background=False)
    monkeypatch.setattr(request_history, "_history", recorded)
    return recorded


@pytest.fixture
def gateway(upstream, history):
    instance_add(service_type="chat", name="fake-chat", base_url=upstream, actor=None)
    generations.forget()
    key = api_key_create(name="history-app")[1]
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application),
        base_url="http://gateway",
        headers={"Authorization": f"Bearer {key}"},
    )
    yield client
    generations.forget()


def chat(request_id: str, **extra) -> dict:
    return {
        "headers": {"x-request-id": request_id, **extra.pop("headers", {})},
        "json": {"model": "fake-chat", "messages": [{"role": "user", "content": "hi"}], **extra},
    }


async def test_requests_through_the_gateway_are_rows_of_the_history(gateway, history, staff_client):
    answered = await gateway.post("/v1/chat/completions", **chat("hist-plain"))
    assert answered.status_code == 200
    streamed = await gateway.post("/v1/chat/completions", **chat("hist-stream", stream=True))
    assert streamed.status_code == 200 and "data:" in streamed.text
    failed = await gateway.post(
        "/v1/chat/completions", **chat("hist-500", headers={"x-fake-status": "500"})
    )
    assert failed.status_code == 500
    unknown = await gateway.post("/v1/chat/completions", **chat("hist-404", model="no-such-model"))
    assert unknown.status_code == 404
    assert history.waiting == 4  # nothing written on the request path
    assert await sync_to_async(history.flush)() == 4

    listed = await sync_to_async(staff_client.get)("/api/requests?key=history-app")
    rows = {r["requestId"]: r for r in listed.json()["data"]["content"]}
    assert set(rows) == {"hist-plain", "hist-stream", "hist-500", "hist-404"}
    plain = rows["hist-plain"]
    assert (plain["status"], plain["model"], plain["servedModel"]) == (
        200,
        "fake-chat",
        "fake-chat",
    )
    assert plain["instanceId"] == answered.headers["x-router-instance"]
    assert plain["keyName"] == "history-app" and plain["serviceType"] == "chat"
    assert plain["promptTokens"] > 0 and plain["completionTokens"] > 0
    assert plain["latencyMs"] >= plain["overheadMs"] >= 0 and plain["firstByteMs"] is None
    assert rows["hist-stream"]["firstByteMs"] is not None
    assert rows["hist-500"]["status"] == 500
    assert (rows["hist-404"]["status"], rows["hist-404"]["error"]) == (404, "model_not_found")

    one = await sync_to_async(staff_client.get)("/api/requests/hist-stream")
    assert one.status_code == 200 and one.json()["data"]["status"] == 200
    errors = await sync_to_async(staff_client.get)("/api/requests?status=5xx&model=fake-chat")
    assert [r["requestId"] for r in errors.json()["data"]["content"]] == ["hist-500"]
    serialized = str(listed.json())
    assert "sk-" not in serialized  # the key's name and id only, never the key


async def test_a_disabled_history_records_nothing(gateway, history, settings):
    settings.REQUEST_HISTORY_ENABLED = False
    answered = await gateway.post("/v1/chat/completions", **chat("hist-off"))
    assert answered.status_code == 200
    assert history.waiting == 0
