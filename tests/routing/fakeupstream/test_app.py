"""The simulated backend in-process (ASGI transport) and as the `manage.py fakeupstream` process."""

import json
import sys
import time

import httpx
import pytest

from routing.fakeupstream import Behaviour, FakeUpstream
from routing.fakeupstream.answers import ANSWER
from tests.processes import free_port, project_env, running

pytestmark = pytest.mark.anyio


def client(behaviour: Behaviour | None = None) -> tuple[FakeUpstream, httpx.AsyncClient]:
    app = FakeUpstream(behaviour)
    return app, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fake")


async def test_it_answers_chat_and_records_the_request_verbatim():
    _, http = client()
    body = b'{"model": "m1", "messages": [{"role": "user", "content": "hi"}], "tools": [{"x": 1}]}'
    async with http:
        answer = await http.post("/v1/chat/completions", content=body, headers={"x-vendor": "v"})
        last = (await http.get("/_fake/last")).json()
    assert answer.status_code == 200
    assert answer.json()["choices"][0]["message"]["content"] == ANSWER
    assert answer.json()["model"] == "m1"
    assert last["body"] == body.decode() and last["headers"]["x-vendor"] == "v"
    assert last["path"] == "/v1/chat/completions"


async def test_a_streamed_chat_has_the_requested_chunks_then_done():
    _, http = client()
    async with http:
        answer = await http.post(
            "/v1/chat/completions",
            json={"model": "m", "stream": True},
            headers={"x-fake-chunks": "4"},
        )
    events = [line[6:] for line in answer.text.split("\n\n") if line.startswith("data: ")]
    assert answer.headers["content-type"] == "text/event-stream"
    assert events[-1] == "[DONE]"
    deltas = [json.loads(e)["choices"][0]["delta"].get("content") for e in events[:-1]]
    assert "".join(d or "" for d in deltas) == ANSWER
    assert len(events) == 1 + 4 + 1 + 1  # role, 4 pieces, finish, [DONE]


async def test_control_headers_force_status_and_latency():
    _, http = client()
    async with http:
        failed = await http.post(
            "/v1/embeddings", json={"model": "m"}, headers={"x-fake-status": "429"}
        )
        started = time.perf_counter()
        slow = await http.post(
            "/v1/embeddings",
            json={"model": "m", "input": ["a", "b"]},
            headers={"x-fake-latency-ms": "50"},
        )
        elapsed = time.perf_counter() - started
    assert failed.status_code == 429 and failed.json()["error"]["code"] == "429"
    assert slow.status_code == 200 and len(slow.json()["data"]) == 2
    assert elapsed >= 0.05


async def test_the_error_rate_fails_about_that_share_of_requests():
    _, http = client(Behaviour(error_rate=0.3, error_status=502))
    async with http:
        statuses = [
            (await http.post("/v1/rerank", json={"model": "m"})).status_code for _ in range(400)
        ]
    failures = statuses.count(502)
    assert set(statuses) <= {200, 502}
    assert 80 <= failures <= 160


async def test_ollama_native_chat_streams_ndjson_by_default():
    _, http = client()
    async with http:
        answer = await http.post("/api/chat", json={"model": "llama", "messages": []})
    lines = [json.loads(line) for line in answer.text.splitlines()]
    assert answer.headers["content-type"] == "application/x-ndjson"
    assert lines[-1]["done"] is True
    assert "".join(line["message"]["content"] for line in lines) == ANSWER


async def test_multipart_and_binary_endpoints_answer():
    _, http = client()
    async with http:
        speech = await http.post("/v1/audio/speech", json={"model": "tts", "input": "hi"})
        text = await http.post(
            "/v1/audio/transcriptions",
            data={"model": "whisper"},
            files={"file": ("a.wav", b"RIFF")},
        )
        edit = await http.post(
            "/v1/images/edits", data={"model": "img"}, files={"image": ("a.png", b"\x89PNG")}
        )
    assert speech.headers["content-type"] == "audio/wav" and speech.content.startswith(b"RIFF")
    assert text.json() == {"text": "simulated transcription"}
    assert edit.json()["data"][0]["b64_json"]


@pytest.mark.processes
def test_the_management_command_serves_over_http():
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "manage.py", "fakeupstream", "--port", str(port), "--models", "a,b"]
    with running(command, env=project_env(), ready_url=f"{base}/health"):
        models = httpx.get(f"{base}/v1/models").json()
    assert [m["id"] for m in models["data"]] == ["a", "b"]
