"""What crosses the gateway: a bounded upstream error body, an allow-list of upstream headers, the
client's headers without those its `Connection` header names, a sane request id."""

import json
import re
import tracemalloc

import httpx
import pytest
from django.test import AsyncRequestFactory

from routerproject import generations
from routing.dataplane import pipeline
from routing.dataplane.endpoints import ENDPOINTS
from routing.live_config import install_live_config
from tests.routing.dataplane.specs import instance, live_config, service

pytestmark = [pytest.mark.anyio, pytest.mark.processes]

CHAT = ENDPOINTS["chat/completions"]


@pytest.fixture(autouse=True)
def chat(upstream):
    install_live_config(live_config(service("chat", [instance(base_url=upstream)])))
    yield
    generations.forget()


def chat_request(*, stream: bool = False, **headers: str):
    body = json.dumps({"model": "fake-chat", "stream": stream}).encode()
    return AsyncRequestFactory().post(
        "/v1/chat/completions", body, content_type="application/json", headers=headers
    )


async def test_an_error_body_larger_than_the_buffer_limit_is_cut_with_a_gateway_error(settings):
    settings.GATEWAY_BUFFER_LIMIT_BYTES = 64 * 1024
    tracemalloc.start()
    try:
        response = await pipeline.handle(
            chat_request(x_fake_status="500", x_fake_error_bytes=str(16 << 20)), CHAT
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 502
    error = json.loads(response.content)["error"]
    assert error["code"] == "upstream_response_too_large"
    assert "65536" in error["message"]
    assert peak < 4 << 20, f"{peak} bytes held for a 16 MiB error body"


async def test_an_error_body_within_the_limit_is_relayed_whole(settings):
    settings.GATEWAY_BUFFER_LIMIT_BYTES = 64 * 1024
    response = await pipeline.handle(
        chat_request(x_fake_status="503", x_fake_error_bytes="65536"), CHAT
    )
    assert response.status_code == 503
    assert response.content == b" " * 65536


UPSTREAM_HEADERS = [
    ["Set-Cookie", "csrftoken=upstream; Path=/"],
    ["Set-Cookie", "sessionid=upstream; Path=/"],
    ["Access-Control-Allow-Origin", "*"],
    ["Access-Control-Allow-Credentials", "true"],
    ["Strict-Transport-Security", "max-age=0"],
    ["X-Ratelimit-Remaining-Requests", "59"],
    ["OpenAI-Processing-Ms", "12"],
    ["Retry-After", "3"],
    ["Link", "<https://a.example>; rel=a"],
    ["Link", "<https://b.example>; rel=b"],
    ["Vary", "Accept"],
    ["Vary", "Origin"],
]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_only_allowed_upstream_headers_are_relayed_with_every_value(stream):
    response = await pipeline.handle(
        chat_request(stream=stream, x_fake_response_headers=json.dumps(UPSTREAM_HEADERS)), CHAT
    )
    if stream:
        b"".join([chunk async for chunk in response])
    assert response.status_code == 200
    assert not response.cookies
    for refused in ("set-cookie", "access-control-allow-origin", "strict-transport-security"):
        assert not response.has_header(refused), refused
    assert not response.has_header("access-control-allow-credentials")
    assert response["x-ratelimit-remaining-requests"] == "59"
    assert response["openai-processing-ms"] == "12"
    assert response["retry-after"] == "3"
    assert response["link"] == "<https://a.example>; rel=a, <https://b.example>; rel=b"
    assert response["vary"] == "Accept, Origin"


async def test_headers_named_by_the_clients_connection_header_are_not_forwarded(upstream):
    request = chat_request(
        connection="keep-alive, X-Hop-Secret , x-other-hop",
        x_hop_secret="for the next hop only",
        x_other_hop="1",
        x_vendor="kept",
    )
    response = await pipeline.handle(request, CHAT)
    assert response.status_code == 200
    async with httpx.AsyncClient() as http:
        sent = (await http.get(f"{upstream}/_fake/last")).json()["headers"]
    assert "x-hop-secret" not in sent and "x-other-hop" not in sent
    assert "connection" not in sent or sent["connection"] != request.headers["connection"]
    assert sent["x-vendor"] == "kept"


@pytest.mark.parametrize(
    "sent",
    ["x" * 6000, "has spaces", "bad\u00e9char", "a,b", ""],
    ids=["6000 characters", "spaces", "non-ascii", "comma", "empty"],
)
async def test_a_long_or_odd_client_request_id_is_replaced_by_a_fresh_one(sent):
    response = await pipeline.handle(chat_request(x_request_id=sent), CHAT)
    assert response.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", response["x-request-id"]), response["x-request-id"]


@pytest.mark.parametrize("sent", ["req_01HZX3", "0b5f3c2e-9d3a-4f7e-8c1a-2b6d5e4f3a21", "a" * 128])
async def test_a_sane_client_request_id_is_kept(sent):
    response = await pipeline.handle(chat_request(x_request_id=sent), CHAT)
    assert response["x-request-id"] == sent
