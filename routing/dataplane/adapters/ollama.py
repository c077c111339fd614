"""Ollama's native API, translated: `/api/chat` and `/api/embed` in OpenAI's shapes, NDJSON streams
as SSE. Other routes use Ollama's own OpenAI-compatible `/v1` layer unchanged."""

import base64
import json
import struct
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from routing.service_types import ServiceKind
from routing.snapshot import InstanceSpec

from .. import errors
from ..endpoints import Endpoint
from .base import UpstreamRequest, join_url, upstream_headers

# OpenAI sampling fields and their names among Ollama's `options`.
_OPTIONS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "seed": "seed",
    "stop": "stop",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "max_tokens": "num_predict",
    "max_completion_tokens": "num_predict",
}
# OpenAI fields consumed by the translation; every other field reaches Ollama as sent.
_CONSUMED = {*_OPTIONS, "messages", "stream", "stream_options", "response_format", "n", "user"}
_FINISH = {"stop": "stop", "length": "length", "load": "stop", "unload": "stop"}


def _members(value: Any, what: str) -> Mapping[str, Any]:
    """An object the translation reads into; anything else is the client's mistake (400)."""
    if not isinstance(value, dict):
        raise errors.bad_request(f"For this model, {what} must be an object.")
    return value


def _content(content: Any) -> tuple[Any, list[str]]:
    """(text, images) of a message's content: a string, or a list of text and image_url parts."""
    if not isinstance(content, list):
        return content or "", []
    texts, images = [], []
    for part in content:
        part = _members(part, "each content part")
        if part.get("type") == "text":
            text = part.get("text", "")
            if not isinstance(text, str):
                raise errors.bad_request("For this model, a text part's 'text' must be a string.")
            texts.append(text)
        elif part.get("type") == "image_url":
            url = _members(part.get("image_url", {}), "an image_url part's 'image_url'").get("url")
            if not isinstance(url, str):
                raise errors.bad_request("For this model, an image_url part needs a 'url' string.")
            images.append(url.split(",", 1)[1] if url.startswith("data:") else url)
    return "\n".join(texts), images


def _ollama_tool_call(call: Any) -> dict[str, Any]:
    function = _members(
        _members(call, "each tool call").get("function"), "a tool call's 'function'"
    )
    if not isinstance(function.get("name"), str):
        raise errors.bad_request("For this model, a tool call's function needs a 'name' string.")
    return {
        "function": {"name": function["name"], "arguments": _arguments(function.get("arguments"))}
    }


def _ollama_message(message: Mapping[str, Any]) -> dict[str, Any]:
    translated = {k: v for k, v in message.items() if k not in ("content", "tool_calls")}
    translated["content"], images = _content(message.get("content"))
    if images:
        translated["images"] = images
    calls = message.get("tool_calls")
    if calls:
        if not isinstance(calls, list):
            raise errors.bad_request("For this model, 'tool_calls' must be a list.")
        translated["tool_calls"] = [_ollama_tool_call(call) for call in calls]
    return translated


def _arguments(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments or "{}")
        except (ValueError, RecursionError):
            return arguments
    return arguments


def chat_request(payload: Mapping[str, Any]) -> dict[str, Any]:
    request = {k: v for k, v in payload.items() if k not in _CONSUMED}
    request["messages"] = [_ollama_message(m) for m in payload.get("messages", [])]
    request["stream"] = bool(payload.get("stream", False))
    options = dict(_members(payload.get("options") or {}, "'options'"))
    for openai_name, ollama_name in _OPTIONS.items():
        if payload.get(openai_name) is not None:
            options[ollama_name] = payload[openai_name]
    if options:
        request["options"] = options
    response_format = _members(payload.get("response_format") or {}, "'response_format'")
    if response_format.get("type") == "json_object":
        request["format"] = "json"
    elif response_format.get("type") == "json_schema":
        schema = _members(response_format.get("json_schema", {}), "'json_schema'")
        request["format"] = schema.get("schema", {})
    return request


def _tool_calls(message: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    calls = message.get("tool_calls")
    if not calls:
        return None
    return [
        {
            "index": index,
            "id": f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {
                "name": call.get("function", {}).get("name", ""),
                "arguments": json.dumps(call.get("function", {}).get("arguments", {})),
            },
        }
        for index, call in enumerate(calls)
    ]


def _usage(answer: Mapping[str, Any]) -> dict[str, int]:
    prompt = int(answer.get("prompt_eval_count") or 0)
    completion = int(answer.get("eval_count") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _finish_reason(answer: Mapping[str, Any], tool_calls: Any) -> str:
    if tool_calls:
        return "tool_calls"
    return _FINISH.get(str(answer.get("done_reason") or "stop"), "stop")


def error_body(body: bytes) -> bytes:
    """Ollama says `{"error": "text"}`; OpenAI clients expect the error object."""
    try:
        answer = json.loads(body)
    except ValueError:
        return body
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        error = {"message": answer["error"], "type": "upstream_error", "param": None, "code": None}
        return json.dumps({"error": error}).encode()
    return body


@dataclass(slots=True)
class ChatTranslation:
    model: str
    include_usage: bool = False
    completion_id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex[:24]}")
    content_type: str = "application/json"
    stream_content_type: str = "text/event-stream"

    def status_body(self, status: int, body: bytes) -> bytes:
        if status >= 400:
            return error_body(body)
        answer = json.loads(body)
        message = answer.get("message") or {}
        tool_calls = _tool_calls(message)
        reply: dict[str, Any] = {"role": "assistant", "content": message.get("content", "")}
        if tool_calls:
            reply["tool_calls"] = [{k: v for k, v in c.items() if k != "index"} for c in tool_calls]
        return json.dumps(
            {
                "id": self.completion_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": answer.get("model", self.model),
                "choices": [
                    {
                        "index": 0,
                        "message": reply,
                        "finish_reason": _finish_reason(answer, tool_calls),
                        "logprobs": None,
                    }
                ],
                "usage": _usage(answer),
            }
        ).encode()

    def _event(self, delta: dict[str, Any], finish_reason: str | None, **extra: Any) -> bytes:
        chunk = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model,
            "choices": [
                {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
            ],
            **extra,
        }
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"

    def _translate_line(self, line: bytes, first: bool) -> bytes:
        answer = json.loads(line)
        if "error" in answer:
            text = answer["error"]
            error = {
                "message": text if isinstance(text, str) else json.dumps(text),
                "type": "upstream_error",
                "param": None,
                "code": None,
            }
            return b"data: " + json.dumps({"error": error}).encode() + b"\n\n"
        message = answer.get("message") or {}
        delta: dict[str, Any] = {"content": message.get("content", "")}
        if first:
            delta["role"] = "assistant"
        tool_calls = _tool_calls(message)
        if tool_calls:
            delta["tool_calls"] = tool_calls
        if not answer.get("done"):
            return self._event(delta, None)
        events = b""
        if delta["content"] or tool_calls or first:
            events += self._event(delta, None)
        events += self._event({}, _finish_reason(answer, tool_calls))
        if self.include_usage:
            usage_chunk = json.loads(self._event({}, None)[6:])
            usage_chunk["choices"] = []
            usage_chunk["usage"] = _usage(answer)
            events += b"data: " + json.dumps(usage_chunk).encode() + b"\n\n"
        return events + b"data: [DONE]\n\n"

    async def stream(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        pending = b""
        first = True
        async for chunk in chunks:
            pending += chunk
            *lines, pending = pending.split(b"\n")
            out = b"".join(self._translate_line(line, first) for line in lines if line.strip())
            if out:
                first = False
                yield out
        if pending.strip():
            yield self._translate_line(pending, first)


@dataclass(slots=True)
class EmbedTranslation:
    model: str
    as_base64: bool = False
    content_type: str = "application/json"
    stream_content_type: str = "application/json"

    def status_body(self, status: int, body: bytes) -> bytes:
        if status >= 400:
            return error_body(body)
        answer = json.loads(body)
        data = []
        for index, vector in enumerate(answer.get("embeddings", [])):
            embedding: Any = vector
            if self.as_base64:
                embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = int(answer.get("prompt_eval_count") or 0)
        return json.dumps(
            {
                "object": "list",
                "data": data,
                "model": answer.get("model", self.model),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        ).encode()

    async def stream(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        # Embeddings are never streamed; should an answer arrive in pieces, it is whole at the end.
        parts = [chunk async for chunk in chunks]
        yield self.status_body(200, b"".join(parts))


def embed_request(payload: Mapping[str, Any]) -> dict[str, Any]:
    request = {k: v for k, v in payload.items() if k not in ("encoding_format", "user")}
    inputs = payload.get("input", "")
    first = inputs[0] if isinstance(inputs, list) and inputs else None
    if isinstance(first, int) or (isinstance(first, list) and first and isinstance(first[0], int)):
        raise errors.bad_request(
            "This model embeds text: token-id input is not supported by its instance.",
            param="input",
        )
    return request


class Ollama:
    def build(
        self,
        instance: InstanceSpec,
        endpoint: Endpoint,
        *,
        body: bytes,
        payload: dict[str, Any] | None,
        headers: Mapping[str, str],
    ) -> UpstreamRequest:
        forwarded = upstream_headers(instance, headers)
        base = instance.base_url.rstrip("/")
        explicit = instance.path if instance.path and endpoint.is_primary else ""
        if payload is not None and endpoint.route == "chat/completions":
            forwarded["content-type"] = "application/json"
            stream_options = _members(payload.get("stream_options") or {}, "'stream_options'")
            include_usage = bool(stream_options.get("include_usage"))
            return UpstreamRequest(
                "POST",
                base + (explicit or "/api/chat"),
                forwarded,
                json.dumps(chat_request(payload)).encode(),
                ChatTranslation(str(payload.get("model", "")), include_usage),
            )
        if payload is not None and endpoint.service_type == ServiceKind.EMBEDDING:
            forwarded["content-type"] = "application/json"
            return UpstreamRequest(
                "POST",
                base + (explicit or "/api/embed"),
                forwarded,
                json.dumps(embed_request(payload)).encode(),
                EmbedTranslation(
                    str(payload.get("model", "")), payload.get("encoding_format") == "base64"
                ),
            )
        url = base + explicit if explicit else join_url(base, "/v1", "/" + endpoint.route)
        return UpstreamRequest("POST", url, forwarded, body)


OLLAMA = Ollama()

__all__ = ["OLLAMA", "ChatTranslation", "EmbedTranslation", "chat_request"]
