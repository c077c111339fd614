"""What the gateway relays of an upstream's answer: a bounded error body, an allow-list of headers."""

import json
import tracemalloc

import pytest
from django.test import AsyncRequestFactory

from routing.dataplane import pipeline
from routing.dataplane.endpoints import ENDPOINTS
from routing.live import forget_live_config, install_live_config
from tests.routing.dataplane.specs import instance, live_config, service

pytestmark = [pytest.mark.anyio, pytest.mark.processes]

CHAT = ENDPOINTS["chat/completions"]


@pytest.fixture(autouse=True)
def chat(upstream):
    install_live_config(live_config(service("chat", [instance(base_url=upstream)])))
    yield
    forget_live_config()


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
