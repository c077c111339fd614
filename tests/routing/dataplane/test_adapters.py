"""Adapters: URLs and credentials per provider, and Ollama's translation both ways."""

import base64
import json
import struct

import pytest

from routing.dataplane import errors
from routing.dataplane.adapters import adapter_for
from routing.dataplane.adapters.ollama import chat_request
from routing.dataplane.endpoints import ENDPOINTS
from tests.routing.dataplane.specs import instance

pytestmark = pytest.mark.anyio

CHAT = ENDPOINTS["chat/completions"]


def build(adapter, spec, endpoint=CHAT, payload=None, headers=None):
    payload = payload if payload is not None else {"model": spec.name}
    return adapter_for(adapter).build(
        spec, endpoint, body=json.dumps(payload).encode(), payload=payload, headers=headers or {}
    )


@pytest.mark.parametrize(
    ("adapter", "base_url", "route", "expected"),
    [
        ("openai", "http://h:1", "chat/completions", "http://h:1/v1/chat/completions"),
        (
            "openai",
            "https://api.example.com/v1",
            "embeddings",
            "https://api.example.com/v1/embeddings",
        ),
        ("vllm", "http://h:8000", "rerank", "http://h:8000/v1/rerank"),
        (
            "xinference",
            "http://h:9997",
            "audio/transcriptions",
            "http://h:9997/v1/audio/transcriptions",
        ),
        ("localai", "http://h:8080", "images/generations", "http://h:8080/v1/images/generations"),
        ("gpustack", "http://h", "chat/completions", "http://h/v1-openai/chat/completions"),
        ("gpustack", "http://h", "rerank", "http://h/v1/rerank"),
        ("ollama", "http://h:11434", "chat/completions", "http://h:11434/api/chat"),
        ("ollama", "http://h:11434", "embeddings", "http://h:11434/api/embed"),
        ("ollama", "http://h:11434", "completions", "http://h:11434/v1/completions"),
        (
            "gemini",
            "https://generativelanguage.googleapis.com/v1beta/openai",
            "chat/completions",
            "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions",
        ),
        ("gemini", "https://g/v1beta/openai/", "embeddings", "https://g/v1beta/openai/embeddings"),
        (
            "anthropic",
            "https://api.anthropic.com",
            "chat/completions",
            "https://api.anthropic.com/v1/messages",
        ),
        (
            "anthropic",
            "https://api.anthropic.com",
            "messages",
            "https://api.anthropic.com/v1/messages",
        ),
        (
            "azure",
            "https://r.openai.azure.com",
            "embeddings",
            "https://r.openai.azure.com/openai/deployments/fake-chat/embeddings?api-version=2024-10-21",
        ),
        ("openai", "http://h:1", "moderations", "http://h:1/v1/moderations"),
        ("openai", "http://h:1", "audio/translations", "http://h:1/v1/audio/translations"),
    ],
)
def test_each_adapter_sends_each_route_where_its_provider_serves_it(
    adapter, base_url, route, expected
):
    endpoint = ENDPOINTS[route]
    spec = instance(base_url=base_url, adapter=adapter, service_type=endpoint.service_type)
    payload = {"model": spec.name, "messages": [{"role": "user", "content": "hi"}]}
    assert build(adapter, spec, endpoint, payload).url == expected


def test_an_explicit_path_replaces_the_default_for_the_primary_route_only():
    spec = instance(base_url="http://h", path="/custom/chat")
    assert build("openai", spec).url == "http://h/custom/chat"
    assert build("openai", spec, ENDPOINTS["completions"]).url == "http://h/v1/completions"


@pytest.mark.parametrize(
    "adapter", ["openai", "vllm", "gpustack", "xinference", "localai", "ollama"]
)
def test_the_instance_credential_and_headers_are_applied_on_every_adapter(adapter):
    spec = instance(adapter=adapter, api_key="sk-upstream", headers={"X-Org": "acme"})
    request = build(adapter, spec, headers={"x-vendor": "kept"})
    assert request.headers["authorization"] == "Bearer sk-upstream"
    assert request.headers["x-org"] == "acme" and request.headers["x-vendor"] == "kept"


def test_without_an_instance_key_no_credential_is_sent():
    assert "authorization" not in build("openai", instance()).headers


def test_openai_compatible_adapters_send_the_clients_bytes_unchanged():
    payload = {"model": "m", "tools": [{"type": "function"}], "vendor_x": {"a": 1}}
    spec = instance(name="m")
    request = build("vllm", spec, payload=payload)
    assert request.content == json.dumps(payload).encode() and request.translation is None


def test_ollama_chat_request_maps_options_format_images_and_keeps_vendor_fields():
    translated = chat_request(
        {
            "model": "llama3",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"x": 1}'},
                        }
                    ],
                },
            ],
            "temperature": 0.2,
            "max_tokens": 12,
            "response_format": {"type": "json_object"},
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "keep_alive": "5m",
        }
    )
    assert translated["stream"] is False
    assert translated["options"] == {"temperature": 0.2, "num_predict": 12}
    assert translated["format"] == "json" and translated["keep_alive"] == "5m"
    assert translated["tools"][0]["function"]["name"] == "f"
    assert translated["messages"][0] == {
        "role": "user",
        "content": "what is this?",
        "images": ["AAAA"],
    }
    assert translated["messages"][1]["tool_calls"][0]["function"]["arguments"] == {"x": 1}


def test_ollama_chat_answer_becomes_a_chat_completion():
    request = build(
        "ollama",
        instance(name="llama3", adapter="ollama"),
        payload={"model": "llama3", "messages": []},
    )
    answer = {
        "model": "llama3",
        "message": {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}],
        },
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 3,
        "eval_count": 4,
    }
    completion = json.loads(request.translation.status_body(200, json.dumps(answer).encode()))
    choice = completion["choices"][0]
    assert completion["object"] == "chat.completion" and completion["usage"]["total_tokens"] == 7
    assert choice["finish_reason"] == "tool_calls"
    assert json.loads(choice["message"]["tool_calls"][0]["function"]["arguments"]) == {"x": 1}


def test_ollama_errors_take_the_openai_error_shape():
    request = build(
        "ollama", instance(adapter="ollama"), payload={"model": "fake-chat", "messages": []}
    )
    error = json.loads(request.translation.status_body(404, b'{"error": "model not found"}'))
    assert error["error"]["message"] == "model not found"


async def test_ollama_ndjson_stream_becomes_sse_even_when_lines_are_split_across_chunks():
    payload = {
        "model": "llama3",
        "messages": [],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    request = build("ollama", instance(name="llama3", adapter="ollama"), payload=payload)
    lines = b"".join(
        json.dumps(line).encode() + b"\n"
        for line in [
            {"message": {"content": "Hel"}, "done": False},
            {"message": {"content": "lo"}, "done": False},
            {
                "message": {"content": ""},
                "done": True,
                "done_reason": "length",
                "eval_count": 2,
                "prompt_eval_count": 1,
            },
        ]
    )

    async def pieces():
        for start in range(0, len(lines), 7):
            yield lines[start : start + 7]

    out = b"".join([chunk async for chunk in request.translation.stream(pieces())]).decode()
    events = [e[6:] for e in out.split("\n\n") if e.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"content": "Hel", "role": "assistant"}
    assert (
        "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
        == "Hello"
    )
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}


def test_ollama_embeddings_answer_in_openai_shape_and_in_base64_when_asked():
    spec = instance(name="nomic", adapter="ollama", service_type="embedding")
    request = build(
        "ollama",
        spec,
        ENDPOINTS["embeddings"],
        payload={"model": "nomic", "input": ["a", "b"], "encoding_format": "base64"},
    )
    assert json.loads(request.content) == {"model": "nomic", "input": ["a", "b"]}
    answer = json.loads(
        request.translation.status_body(
            200, b'{"model": "nomic", "embeddings": [[0.5, 1.0], [2.0, 0.25]]}'
        )
    )
    decoded = struct.unpack("<2f", base64.b64decode(answer["data"][1]["embedding"]))
    assert answer["object"] == "list" and decoded == (2.0, 0.25)


def test_the_anthropic_adapter_serves_chat_only_and_says_so():
    spec = instance(base_url="https://api.anthropic.com", adapter="anthropic")
    with pytest.raises(errors.GatewayError) as refused:
        build("anthropic", spec, ENDPOINTS["completions"])
    assert refused.value.status == 400 and "Messages API" in refused.value.message


def test_the_anthropic_adapter_sends_its_credential_and_version_not_the_clients():
    spec = instance(base_url="https://api.anthropic.com", adapter="anthropic", api_key="sk-ant")
    hello = {"model": spec.name, "messages": [{"role": "user", "content": "hi"}]}
    sent = build("anthropic", spec, payload=hello, headers={"anthropic-beta": "tools-2024"})
    assert sent.headers["x-api-key"] == "sk-ant" and "authorization" not in sent.headers
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.headers["anthropic-beta"] == "tools-2024"
    chosen = build("anthropic", spec, payload=hello, headers={"anthropic-version": "2024-01-01"})
    assert chosen.headers["anthropic-version"] == "2024-01-01"
    body = json.loads(sent.content)
    assert body["max_tokens"] == 4096  # Anthropic requires it; OpenAI clients may leave it out
    assert [message["role"] for message in body["messages"]] == ["user"]


def test_an_azure_deployment_is_the_upstream_model_and_its_key_goes_in_api_key():
    spec = instance(
        "gpt-4o",
        "https://r.openai.azure.com",
        adapter="azure",
        api_key="az",
        upstream_model="dep-1",
    )
    sent = build("azure", spec)
    assert sent.url.startswith(
        "https://r.openai.azure.com/openai/deployments/dep-1/chat/completions?"
    )
    assert sent.headers["api-key"] == "az" and "authorization" not in sent.headers
