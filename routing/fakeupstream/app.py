"""The simulated backend as a bare ASGI callable: fast enough never to be a benchmark's bottleneck.

Behaviour comes from the command line (`Behaviour`) and can be overridden per request by control
headers, so one process serves every test scenario:
- `x-fake-latency-ms`: wait before answering (before the first chunk when streaming);
- `x-fake-status`: answer this status with an OpenAI-style error body;
- `x-fake-chunks`, `x-fake-chunk-delay-ms`: shape of a streamed answer;
- `x-fake-error-bytes`: with `x-fake-status`, an error body of that many bytes, sent chunked;
- `x-fake-response-headers`: a JSON list of [name, value] pairs added to the answer's headers.
`GET /_fake/last` returns the last request received (method, path, headers, body) and
`GET /_fake/stats` counts requests and streams, including those the client abandoned.
"""

import asyncio
import base64
import contextlib
import json
import random
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, replace
from typing import Any

from . import answers

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = b"application/json"
# Providers that serve the OpenAI API under another prefix (GPUStack) answer the same here.
_PREFIXES = re.compile(r"^/(v1-openai|v1)(?=/)")
_MODEL_PART = re.compile(rb'name="model"\r\n(?:[^\r\n]+\r\n)*\r\n([^\r\n]*)\r\n')


@dataclass(frozen=True, slots=True)
class Behaviour:
    latency_ms: float = 0.0
    chunks: int = 8
    chunk_delay_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 500
    status: int = 0  # forced status; 0 answers normally
    models: tuple[str, ...] = ("fake-chat",)

    def overridden_by(self, headers: dict[str, str]) -> "Behaviour":
        changes: dict[str, Any] = {}
        for header, field, cast in (
            ("x-fake-latency-ms", "latency_ms", float),
            ("x-fake-chunks", "chunks", int),
            ("x-fake-chunk-delay-ms", "chunk_delay_ms", float),
            ("x-fake-status", "status", int),
            ("x-fake-error-rate", "error_rate", float),
        ):
            if header in headers:
                changes[field] = cast(headers[header])
        return replace(self, **changes) if changes else self


class FakeUpstream:
    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self.last: dict[str, Any] = {}
        self.stats = {
            "requests": 0,
            "streams_started": 0,
            "streams_completed": 0,
            "streams_aborted": 0,
            "open_streams": 0,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path: str = scope["path"]
        if path.startswith("/_fake/") or path == "/health":
            await self._control(path, send)
            return
        self.stats["requests"] += 1
        self._record(scope, headers, body)
        if "x-fake-response-headers" in headers:
            send = _adding_headers(send, json.loads(headers["x-fake-response-headers"]))
        behaviour = self.behaviour.overridden_by(headers)
        if behaviour.latency_ms:
            await asyncio.sleep(behaviour.latency_ms / 1000)
        status = behaviour.status
        if not status and behaviour.error_rate and random.random() < behaviour.error_rate:
            status = behaviour.error_status
        if status >= 400 and "x-fake-error-bytes" in headers:
            await _chunked(send, status, int(headers["x-fake-error-bytes"]))
            return
        if status >= 400:
            await _json(send, answers.error(f"simulated failure {status}", status), status)
            return
        await self._answer(
            _PREFIXES.sub("", path), scope["method"], headers, body, behaviour, receive, send
        )

    async def _answer(
        self,
        route: str,
        method: str,
        headers: dict[str, str],
        body: bytes,
        behaviour: Behaviour,
        receive: Receive,
        send: Send,
    ) -> None:
        if method == "GET" and route == "/models":
            await _json(send, answers.models(list(behaviour.models)))
            return
        if method == "GET" and route == "/api/tags":
            await _json(send, {"models": [{"name": m, "model": m} for m in behaviour.models]})
            return
        if method != "POST":
            await _json(send, answers.error(f"no route for {method} {route}", 404), 404)
            return
        if headers.get("content-type", "").startswith("multipart/form-data"):
            found = _MODEL_PART.search(body)
            request: dict[str, Any] = {
                "model": found.group(1).decode(errors="replace") if found else ""
            }
        else:
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                await _json(send, answers.error("body is not JSON", 400), 400)
                return
        model = str(request.get("model", ""))
        streaming = bool(request.get("stream"))
        if route == "/chat/completions":
            if streaming:
                await self._stream_chat(model, request, behaviour, receive, send)
            else:
                await _json(send, answers.chat_completion(model))
        elif route == "/completions":
            if streaming:
                await self._stream_completion(model, behaviour, receive, send)
            else:
                await _json(send, answers.completion(model))
        elif route == "/embeddings":
            await _json(send, answers.embeddings(model, request))
        elif route == "/rerank":
            await _json(send, answers.rerank(model, request))
        elif route == "/audio/speech":
            await _respond(send, 200, b"audio/wav", answers.WAV_HEADER)
        elif route == "/audio/transcriptions":
            await _json(send, answers.transcription())
        elif route in ("/images/generations", "/images/edits"):
            await _json(send, answers.images(int(request.get("n") or 1)))
        elif route == "/api/chat":
            # Ollama streams unless told not to.
            if request.get("stream", True):
                await self._stream_ollama(model, behaviour, receive, send)
            else:
                await _json(send, answers.ollama_chat(model, answers.ANSWER, done=True))
        elif route == "/api/embed":
            await _json(send, answers.ollama_embed(model, request))
        else:
            await _json(send, answers.error(f"no route for POST {route}", 404), 404)

    async def _stream_chat(
        self,
        model: str,
        request: dict[str, Any],
        behaviour: Behaviour,
        receive: Receive,
        send: Send,
    ) -> None:
        events = [answers.chat_chunk(model, {"role": "assistant", "content": ""}, None)]
        events += [
            answers.chat_chunk(model, {"content": piece}, None)
            for piece in answers.split_answer(behaviour.chunks)
        ]
        events.append(answers.chat_chunk(model, {}, "stop"))
        if (request.get("stream_options") or {}).get("include_usage"):
            final = answers.chat_chunk(model, {}, None)
            final["choices"] = []
            final["usage"] = answers.chat_completion(model)["usage"]
            events.append(final)
        payloads = [b"data: " + json.dumps(event).encode() + b"\n\n" for event in events]
        await self._stream(
            [*payloads, b"data: [DONE]\n\n"], b"text/event-stream", behaviour, receive, send
        )

    async def _stream_completion(
        self, model: str, behaviour: Behaviour, receive: Receive, send: Send
    ) -> None:
        pieces = answers.split_answer(behaviour.chunks)
        payloads = [
            b"data: "
            + json.dumps(
                answers.completion(model, piece, "stop" if i == len(pieces) - 1 else None)
            ).encode()
            + b"\n\n"
            for i, piece in enumerate(pieces)
        ]
        await self._stream(
            [*payloads, b"data: [DONE]\n\n"], b"text/event-stream", behaviour, receive, send
        )

    async def _stream_ollama(
        self, model: str, behaviour: Behaviour, receive: Receive, send: Send
    ) -> None:
        lines = [
            json.dumps(answers.ollama_chat(model, piece, done=False)).encode() + b"\n"
            for piece in answers.split_answer(behaviour.chunks)
        ]
        lines.append(json.dumps(answers.ollama_chat(model, "", done=True)).encode() + b"\n")
        await self._stream(lines, b"application/x-ndjson", behaviour, receive, send)

    async def _stream(
        self,
        payloads: list[bytes],
        content_type: bytes,
        behaviour: Behaviour,
        receive: Receive,
        send: Send,
    ) -> None:
        self.stats["streams_started"] += 1
        self.stats["open_streams"] += 1
        disconnected = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected.set()

        watcher = asyncio.create_task(watch())
        completed = False
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", content_type), (b"cache-control", b"no-cache")],
                }
            )
            for index, payload in enumerate(payloads):
                if index and behaviour.chunk_delay_ms:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(disconnected.wait(), behaviour.chunk_delay_ms / 1000)
                if disconnected.is_set():
                    return
                await send({"type": "http.response.body", "body": payload, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            completed = True
        except OSError:
            return
        finally:
            watcher.cancel()
            self.stats["open_streams"] -= 1
            self.stats["streams_completed" if completed else "streams_aborted"] += 1

    def _record(self, scope: Scope, headers: dict[str, str], body: bytes) -> None:
        try:
            text, encoding = body.decode(), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(body).decode(), "base64"
        self.last = {
            "method": scope["method"],
            "path": scope["path"],
            "query": scope.get("query_string", b"").decode("latin-1"),
            "headers": headers,
            "body": text,
            "body_encoding": encoding,
        }

    async def _control(self, path: str, send: Send) -> None:
        if path == "/_fake/last":
            await _json(send, self.last)
        elif path == "/_fake/stats":
            await _json(send, self.stats)
        elif path == "/_fake/reset":
            self.last = {}
            for key in self.stats:
                self.stats[key] = 0
            await _json(send, self.stats)
        elif path == "/health":
            await _json(send, {"status": "ok"})
        else:
            await _json(send, answers.error(f"no control route {path}", 404), 404)


async def _read_body(receive: Receive) -> bytes:
    message = await receive()
    body = message.get("body", b"")
    if not message.get("more_body"):
        return body
    parts = [body]
    while message.get("more_body"):
        message = await receive()
        parts.append(message.get("body", b""))
    return b"".join(parts)


async def _respond(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _chunked(send: Send, status: int, size: int) -> None:
    """A body of `size` bytes without a Content-Length, 64 KiB per message."""
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", JSON)]}
    )
    chunk = b" " * (64 * 1024)
    with contextlib.suppress(OSError):
        for start in range(0, size, len(chunk)):
            body = chunk[: size - start]
            await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _adding_headers(send: Send, pairs: list[list[str]]) -> Send:
    extra = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in pairs]

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message["headers"], *extra]}
        await send(message)

    return sending


async def _json(send: Send, payload: Any, status: int = 200) -> None:
    await _respond(send, status, JSON, json.dumps(payload).encode())


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
