"""The logs of a real gateway (gunicorn with uvicorn workers under docker/gunicorn.conf.py, in front
of the simulated upstream): with LOG_FORMAT=json every line is one JSON object and each /v1
request has one access line carrying its `x-request-id`; in text the access line reads as one line;
the client's API key is in no line either way."""

import json
import re
import time
from pathlib import Path

import httpx
import pytest

from tests.routing.dataplane.gateway import gateway_stack

pytestmark = pytest.mark.processes

CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "hi"}]


def send_requests(gateway) -> dict[str, httpx.Response]:
    """A plain answer, a stream read to its end, a refused key, an unknown model."""
    sent = {
        "plain": gateway.client.post(
            gateway.url + CHAT, json={"model": "fake-chat", "messages": MESSAGES}
        )
    }
    body = {"model": "fake-chat", "messages": MESSAGES, "stream": True}
    with gateway.client.stream("POST", gateway.url + CHAT, json=body) as stream:
        stream.read()
        sent["stream"] = stream
    sent["refused"] = httpx.post(
        gateway.url + CHAT,
        json={"model": "fake-chat", "messages": MESSAGES},
        headers={"authorization": "Bearer sk-not-a-key-of-this-gateway-0000"},
    )
    sent["unknown"] = gateway.client.post(
        gateway.url + CHAT, json={"model": "no-such-model", "messages": MESSAGES}
    )
    assert [response.status_code for response in sent.values()] == [200, 200, 401, 404]
    return sent


def read_until(log: Path, request_ids: list[str], timeout: float = 20.0) -> str:
    """The log once every request id is in it (the access log is written by a thread)."""
    deadline = time.monotonic() + timeout
    while True:
        text = log.read_text()
        if all(request_id in text for request_id in request_ids) or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def test_json_logs_have_one_object_per_line_and_one_access_line_per_request(tmp_path):
    log = tmp_path / "gateway.log"
    with gateway_stack(
        tmp_path / "var",
        workers=1,
        settings={"LOG_FORMAT": "json"},
        log=log,
        production_config=True,
    ) as gateway:
        sent = send_requests(gateway)
        ids = {name: response.headers["x-request-id"] for name, response in sent.items()}
        text = read_until(log, list(ids.values()))
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines), lines
    assert {"gunicorn.error", "uvicorn.error"} <= {line["logger"] for line in lines}
    assert not any("color_message" in line for line in lines)  # uvicorn's coloured copy
    access = [line for line in lines if line["logger"] == "gateway.access"]
    by_id = {line["request_id"]: line for line in access}
    assert len(access) == len(by_id) == 4 and set(by_id) == set(ids.values())
    plain, stream = by_id[ids["plain"]], by_id[ids["stream"]]
    assert plain["level"] == "INFO" and plain["status"] == 200
    assert plain["service_type"] == "chat" and plain["model"] == "fake-chat"
    assert plain["served_model"] == "fake-chat" and plain["instance_id"]
    assert plain["key_name"] == "e2e client" and plain["completion_tokens"] > 0
    assert plain["latency_ms"] >= plain["overhead_ms"] >= 0 and plain["ttfb_ms"] is None
    assert stream["status"] == 200 and stream["ttfb_ms"] is not None
    assert stream["latency_ms"] >= stream["ttfb_ms"]
    refused, unknown = by_id[ids["refused"]], by_id[ids["unknown"]]
    assert refused["status"] == 401 and refused["error"] and refused["key_name"] == ""
    assert unknown["status"] == 404 and unknown["error"] == "model_not_found"
    assert gateway.api_key not in text
    assert "sk-not-a-key-of-this-gateway-0000" not in text


def test_text_logs_have_a_readable_access_line(tmp_path):
    log = tmp_path / "gateway.log"
    with gateway_stack(tmp_path / "var", workers=1, log=log) as gateway:
        answer = gateway.client.post(
            gateway.url + CHAT, json={"model": "fake-chat", "messages": MESSAGES}
        )
        request_id = answer.headers["x-request-id"]
        text = read_until(log, [request_id])
    (line,) = [line for line in text.splitlines() if request_id in line]
    assert re.fullmatch(
        r"\S+ \S+ INFO gateway\.access POST /v1 chat model=fake-chat served_model=fake-chat "
        r"instance_id=\S+ status=200 latency_ms=[\d.]+ overhead_ms=[\d.]+ retries=0 "
        rf'usage=\d+/\d+ key="e2e client" request_id={re.escape(request_id)}',
        line,
    ), line
    assert gateway.api_key not in text
