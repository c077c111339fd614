"""The gateway end to end: gunicorn with uvicorn workers, instances created through the control
plane's services, the simulated upstream as a real HTTP server, the official openai SDK as client."""

import io
import json
import time
import warnings

import httpx
import openai
import pytest

from routing.fakeupstream.answers import ANSWER
from tests.routing.dataplane.gateway import gateway_stack

pytestmark = pytest.mark.processes


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    with gateway_stack(tmp_path_factory.mktemp("gateway-var")) as stack:
        yield stack


@pytest.fixture
def sdk(gateway):
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.api_key, max_retries=0)


def last_upstream_request(gateway) -> dict:
    return httpx.get(f"{gateway.upstream}/_fake/last").json()


def test_sdk_chat_plain_and_streaming(sdk):
    answer = sdk.chat.completions.create(
        model="fake-chat", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content == ANSWER
    stream = sdk.chat.completions.create(
        model="fake-chat", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    assert (
        "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == ANSWER
    )


def test_sdk_legacy_completions_plain_and_streaming(sdk):
    assert sdk.completions.create(model="fake-chat", prompt="hi").choices[0].text == ANSWER
    stream = sdk.completions.create(model="fake-chat", prompt="hi", stream=True)
    assert "".join(chunk.choices[0].text for chunk in stream) == ANSWER


def test_sdk_embeddings_rerank_and_models(sdk):
    embedded = sdk.embeddings.create(model="fake-embed", input=["a", "b"])
    assert len(embedded.data) == 2 and len(embedded.data[0].embedding) == 8
    ranked = sdk.post(
        "/rerank",
        body={"model": "fake-rerank", "query": "q", "documents": ["x", "y"]},
        cast_to=object,
    )
    assert [r["index"] for r in ranked["results"]] == [0, 1]
    listed = {m.id for m in sdk.models.list()}
    assert {
        "fake-chat",
        "llama3",
        "fake-embed",
        "fake-rerank",
        "fake-tts",
        "fake-whisper",
        "fake-image",
    } <= listed


def test_sdk_audio_speech_binary_and_transcription_multipart(sdk):
    speech = sdk.audio.speech.create(model="fake-tts", voice="alloy", input="hello")
    assert speech.content.startswith(b"RIFF")
    audio = io.BytesIO(b"RIFF....WAVEfmt ")
    audio.name = "a.wav"
    assert (
        sdk.audio.transcriptions.create(model="fake-whisper", file=audio).text
        == "simulated transcription"
    )


def test_sdk_audio_translations_and_moderations(gateway, sdk):
    audio = io.BytesIO(b"RIFF....WAVEfmt ")
    audio.name = "a.wav"
    # The SDK marks this endpoint deprecated; clients still call it, so the gateway serves it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        translation = sdk.audio.translations.create(model="fake-whisper", file=audio)
    assert translation.text == "simulated transcription"
    assert last_upstream_request(gateway)["path"] == "/v1/audio/translations"
    moderation = sdk.moderations.create(model="fake-moderation", input=["one", "two"])
    assert len(moderation.results) == 2 and not moderation.results[0].flagged
    assert last_upstream_request(gateway)["path"] == "/v1/moderations"


def test_sdk_image_generation_and_multipart_edit(sdk):
    assert sdk.images.generate(model="fake-image", prompt="a cat").data[0].b64_json
    image = io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    image.name = "cat.png"
    edited = sdk.images.edit(model="fake-image-edit", image=image, prompt="add a hat")
    assert edited.data[0].b64_json


def test_sdk_through_the_ollama_adapter_streaming_and_embeddings(sdk):
    stream = sdk.chat.completions.create(
        model="llama3", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    assert (
        "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == ANSWER
    )
    assert (
        sdk.chat.completions.create(model="llama3", messages=[]).choices[0].message.content
        == ANSWER
    )
    embedded = sdk.embeddings.create(model="nomic", input="hello")
    assert embedded.data[0].embedding[0] == pytest.approx(0.1)


def test_unknown_fields_and_vendor_headers_reach_the_upstream_byte_for_byte(gateway):
    body = json.dumps(
        {
            "model": "fake-chat",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "hi"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}},
                    ],
                }
            ],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
            "response_format": {"type": "json_object"},
            "vendor_option": {"top_k": 3},
        },
        separators=(",", ":"),
    ).encode()
    headers = {
        "content-type": "application/json",
        "authorization": f"Bearer {gateway.api_key}",
        "x-vendor": "kept",
    }
    answer = gateway.client.post(
        f"{gateway.url}/v1/chat/completions", content=body, headers=headers
    )
    upstream = last_upstream_request(gateway)
    assert answer.status_code == 200
    assert upstream["body"].encode() == body
    assert upstream["headers"]["authorization"] == "Bearer sk-upstream"
    assert upstream["headers"]["x-org"] == "acme" and upstream["headers"]["x-vendor"] == "kept"
    assert gateway.api_key not in json.dumps(upstream)


def test_the_instance_credential_replaces_the_clients_on_streams_too(gateway):
    headers = {"authorization": f"Bearer {gateway.api_key}"}
    with gateway.client.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json={"model": "fake-chat", "stream": True},
        headers=headers,
    ) as answer:
        answer.read()
    upstream = last_upstream_request(gateway)
    assert upstream["headers"]["authorization"] == "Bearer sk-upstream"
    assert upstream["headers"]["x-org"] == "acme"


def test_every_answer_carries_request_id_instance_and_overhead(gateway):
    answer = gateway.client.post(
        f"{gateway.url}/v1/embeddings",
        json={"model": "fake-embed", "input": "a"},
        headers={"x-request-id": "req-123"},
    )
    assert answer.headers["x-request-id"] == "req-123"
    assert answer.headers["x-router-instance"].startswith("fake-embed@")
    assert 0 <= float(answer.headers["x-gateway-overhead-ms"]) < 1000
    generated = gateway.client.post(f"{gateway.url}/v1/embeddings", json={"model": "nope"})
    assert (
        len(generated.headers["x-request-id"]) == 32
        and "x-gateway-overhead-ms" in generated.headers
    )


def test_both_chat_instances_take_turns(gateway):
    served = {
        gateway.client.post(
            f"{gateway.url}/v1/chat/completions", json={"model": "fake-chat"}
        ).headers["x-router-instance"]
        for _ in range(12)
    }
    assert len(served) == 2


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b'{"model": "no-such-model"}', {}, 404, "model_not_found"),
        (b'{"model": ', {}, 400, "invalid_request"),
        (b'{"messages": []}', {}, 400, "invalid_request"),
        (b'{"model": "dead-model"}', {}, 502, "upstream_unreachable"),
    ],
)
def test_gateway_errors_have_the_openai_shape(gateway, body, headers, status, code):
    answer = gateway.client.post(
        f"{gateway.url}/v1/chat/completions",
        content=body,
        headers={"content-type": "application/json", **headers},
    )
    assert answer.status_code == status
    error = answer.json()["error"]
    assert (
        error["code"] == code
        and error["message"]
        and set(error) == {"message", "type", "param", "code"}
    )


def test_an_upstream_timeout_answers_504(gateway):
    answer = gateway.client.post(
        f"{gateway.url}/v1/rerank",
        json={"model": "fake-rerank", "query": "q", "documents": []},
        headers={"x-fake-latency-ms": "1500"},
        timeout=10,
    )
    assert answer.status_code == 504 and answer.json()["error"]["code"] == "upstream_timeout"


def test_upstream_client_errors_pass_through_unchanged(gateway, sdk):
    answer = gateway.client.post(
        f"{gateway.url}/v1/embeddings",
        json={"model": "fake-embed"},
        headers={"x-fake-status": "422"},
    )
    assert answer.status_code == 422
    assert answer.json() == {
        "error": {
            "message": "simulated failure 422",
            "type": "invalid_request_error",
            "param": None,
            "code": "422",
        }
    }
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="no-such-model", messages=[])


def test_streamed_chunks_arrive_as_the_upstream_sends_them(gateway):
    headers = {"x-fake-chunks": "4", "x-fake-chunk-delay-ms": "300"}
    started = time.perf_counter()
    arrivals = []
    with gateway.client.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json={"model": "fake-chat", "stream": True},
        headers=headers,
    ) as answer:
        for _ in answer.iter_raw():
            arrivals.append(time.perf_counter() - started)
    assert arrivals[-1] >= 1.2  # five gaps of 300 ms upstream
    assert arrivals[0] < 0.25, "the first chunk must not wait for the rest"
    assert len(arrivals) >= 4


def test_a_client_that_leaves_mid_stream_closes_the_upstream_request(gateway):
    httpx.post(f"{gateway.upstream}/_fake/reset")
    headers = {"x-fake-chunks": "30", "x-fake-chunk-delay-ms": "100"}
    with gateway.client.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json={"model": "fake-chat", "stream": True},
        headers=headers,
    ) as answer:
        next(answer.iter_raw())
    deadline = time.monotonic() + 5
    stats = {}
    while time.monotonic() < deadline:
        stats = httpx.get(f"{gateway.upstream}/_fake/stats").json()
        if stats["streams_aborted"]:
            break
        time.sleep(0.05)
    assert stats["streams_aborted"] == 1 and stats["open_streams"] == 0


def test_clients_without_a_valid_key_are_refused_in_openai_shape(gateway):
    for headers in ({}, {"authorization": "Bearer sk-not-a-key"}, {"x-api-key": "nope"}):
        answer = httpx.post(
            f"{gateway.url}/v1/chat/completions", json={"model": "fake-chat"}, headers=headers
        )
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "invalid_api_key"
        assert answer.headers["x-request-id"]
    assert httpx.get(f"{gateway.url}/v1/models").status_code == 401
    with_key = httpx.get(f"{gateway.url}/v1/models", headers={"x-api-key": gateway.api_key})
    assert with_key.status_code == 200
