"""The simulated backend as a bare ASGI callable: fast enough never to be a benchmark's bottleneck.

Routes, each answered deterministically in its upstream's own shape:
- OpenAI's under `/v1` (or GPUStack's `/v1-openai`): models, chat completions (a call of the first
  tool when the request offers tools, text after the tool's result), completions, embeddings,
  rerank, audio, images, and `/v1/responses` (marked `x-fake-upstream-api: responses`; kept for
  `GET`/`DELETE /v1/responses/{id}` and `previous_response_id`);
- Azure OpenAI's `/openai/deployments/{deployment}/{route}?api-version=...` for those routes, the
  deployment standing in for a missing model, 404 "Resource not found" without an api-version;
- Anthropic's `/v1/messages` and `/v1/messages/count_tokens`, with its required headers, its
  stream events and its error bodies;
- Ollama's `/api/chat`, `/api/embed` and `/api/tags`.

Behaviour comes from the command line (`Behaviour`) and can be overridden per request by control
headers, so one process serves every test scenario:
- `x-fake-latency-ms`: wait before answering (before the first chunk when streaming);
- `x-fake-status`: answer this status with an error body (Anthropic's shape on its routes, else
  OpenAI's);
- `x-fake-chunks`, `x-fake-chunk-delay-ms`: shape of a streamed answer;
- `x-fake-error-bytes`: with `x-fake-status`, an error body of that many bytes, sent chunked;
- `x-fake-response-headers`: a JSON list of [name, value] pairs added to the answer's headers.
`GET /_fake/last` returns the last request received (method, path, query, headers, body) and
`GET /_fake/stats` counts requests and streams, including those the client abandoned.
"""

import asyncio
import base64
import contextlib
import json
import random
import re
from dataclasses import dataclass, replace
from typing import Any

from . import answers, anthropic, asgi, azure, responses, tools
from .asgi import Receive, Scope, Send

# Providers that serve the OpenAI API under another prefix (GPUStack) answer the same here.
_PREFIXES = re.compile(r"^/(v1-openai|v1)(?=/)")
_MODEL_PART = re.compile(rb'name="model"\r\n(?:[^\r\n]+\r\n)*\r\n([^\r\n]*)\r\n')
_ANTHROPIC_ROUTES = frozenset({"/messages", "/messages/count_tokens"})


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


@dataclass(frozen=True, slots=True)
class _Request:
    route: str  # the OpenAI-style route: prefix and Azure deployment path taken off
    method: str
    headers: dict[str, str]
    body: bytes
    dialect: str  # "openai" or "anthropic": the shape of its error bodies
    deployment: str | None  # Azure's deployment, the model when the body names none


class FakeUpstream:
    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self.last: dict[str, Any] = {}
        self.kept = responses.Kept()
        self.stats = {
            "requests": 0,
            "streams_started": 0,
            "streams_completed": 0,
            "streams_aborted": 0,
            "open_streams": 0,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await asgi.lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await asgi.read_body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path: str = scope["path"]
        if path.startswith("/_fake/") or path == "/health":
            await self._control(path, send)
            return
        self.stats["requests"] += 1
        self._record(scope, headers, body)
        if "x-fake-response-headers" in headers:
            send = asgi.adding_headers(send, json.loads(headers["x-fake-response-headers"]))
        route, deployment = _PREFIXES.sub("", path), None
        on_azure = azure.deployment_route(path)
        if on_azure is not None:
            deployment, route = on_azure
            if not azure.answerable(route, scope.get("query_string", b"")):
                await asgi.json_answer(send, azure.NOT_FOUND, 404)
                return
        if route == "/responses":
            send = asgi.adding_headers(send, [list(responses.UPSTREAM_API)])
        dialect = "anthropic" if route in _ANTHROPIC_ROUTES else "openai"
        refused = anthropic.refusal(headers) if dialect == "anthropic" else None
        if refused is not None:
            await asgi.json_answer(send, refused[1], refused[0])
            return
        behaviour = self.behaviour.overridden_by(headers)
        if behaviour.latency_ms:
            await asyncio.sleep(behaviour.latency_ms / 1000)
        status = behaviour.status
        if not status and behaviour.error_rate and random.random() < behaviour.error_rate:
            status = behaviour.error_status
        if status >= 400 and "x-fake-error-bytes" in headers:
            await asgi.chunked(send, status, int(headers["x-fake-error-bytes"]))
            return
        if status >= 400:
            await _error(send, dialect, f"simulated failure {status}", status)
            return
        await self._answer(
            _Request(route, scope["method"], headers, body, dialect, deployment),
            behaviour,
            receive,
            send,
        )

    async def _answer(
        self, call: _Request, behaviour: Behaviour, receive: Receive, send: Send
    ) -> None:
        route, method = call.route, call.method
        if method == "GET" and route == "/models":
            await asgi.json_answer(send, answers.models(list(behaviour.models)))
            return
        if method == "GET" and route == "/api/tags":
            await asgi.json_answer(
                send, {"models": [{"name": m, "model": m} for m in behaviour.models]}
            )
            return
        if route.startswith("/responses/") and method in ("GET", "DELETE"):
            await self._kept_response(method, route.removeprefix("/responses/"), send)
            return
        if method != "POST":
            await _error(send, call.dialect, f"no route for {method} {route}", 404)
            return
        if call.headers.get("content-type", "").startswith("multipart/form-data"):
            found = _MODEL_PART.search(call.body)
            request: Any = {"model": found.group(1).decode(errors="replace") if found else ""}
        else:
            try:
                request = json.loads(call.body or b"{}")
            except ValueError:
                await _error(send, call.dialect, "body is not JSON", 400)
                return
        if not isinstance(request, dict):
            await _error(send, call.dialect, "body is not a JSON object", 400)
            return
        model = str(request.get("model", ""))
        if call.deployment is not None and not request.get("model"):
            model = call.deployment
        streaming = bool(request.get("stream"))
        if route == "/chat/completions":
            tool_call = tools.chat_call(request)
            if streaming:
                await self._stream_chat(model, request, tool_call, behaviour, receive, send)
            elif tool_call is not None:
                name, arguments = tool_call
                await asgi.json_answer(
                    send, answers.chat_tool_call(model, name, tools.serialised(arguments))
                )
            else:
                await asgi.json_answer(send, answers.chat_completion(model))
        elif route in _ANTHROPIC_ROUTES:
            await self._answer_anthropic(route, request, behaviour, receive, send)
        elif route == "/responses":
            previous = request.get("previous_response_id")
            if previous is not None and previous not in self.kept.responses:
                message = f"Previous response with id '{previous}' not found."
                await asgi.json_answer(send, answers.error(message, 400), 400)
                return
            response_id = self.kept.new_id()
            kept = responses.response(model, request, response_id=response_id)
            self.kept.responses[response_id] = kept
            if streaming:
                events = responses.stream_events(model, request, behaviour.chunks, response_id)
                await self._stream(events, b"text/event-stream", behaviour, receive, send)
            else:
                await asgi.json_answer(send, kept)
        elif route == "/completions":
            if streaming:
                await self._stream_completion(model, behaviour, receive, send)
            else:
                await asgi.json_answer(send, answers.completion(model))
        elif route == "/embeddings":
            await asgi.json_answer(send, answers.embeddings(model, request))
        elif route == "/rerank":
            await asgi.json_answer(send, answers.rerank(model, request))
        elif route == "/audio/speech":
            await asgi.respond(send, 200, b"audio/wav", answers.WAV_HEADER)
        elif route in ("/audio/transcriptions", "/audio/translations"):
            await asgi.json_answer(send, answers.transcription())
        elif route == "/moderations":
            await asgi.json_answer(send, answers.moderation(model, request))
        elif route in ("/images/generations", "/images/edits"):
            await asgi.json_answer(send, answers.images(int(request.get("n") or 1)))
        elif route == "/api/chat":
            # Ollama streams unless told not to.
            if request.get("stream", True):
                await self._stream_ollama(model, behaviour, receive, send)
            else:
                await asgi.json_answer(send, answers.ollama_chat(model, answers.ANSWER, done=True))
        elif route == "/api/embed":
            await asgi.json_answer(send, answers.ollama_embed(model, request))
        else:
            await asgi.json_answer(send, answers.error(f"no route for POST {route}", 404), 404)

    async def _kept_response(self, method: str, response_id: str, send: Send) -> None:
        kept = self.kept.responses.get(response_id)
        if kept is None:
            await asgi.json_answer(
                send, answers.error(f"Response with id '{response_id}' not found.", 404), 404
            )
        elif method == "DELETE":
            del self.kept.responses[response_id]
            await asgi.json_answer(send, {"id": response_id, "object": "response", "deleted": True})
        else:
            await asgi.json_answer(send, kept)

    async def _stream_chat(
        self,
        model: str,
        request: dict[str, Any],
        tool_call: tuple[str, dict[str, Any]] | None,
        behaviour: Behaviour,
        receive: Receive,
        send: Send,
    ) -> None:
        if tool_call is not None:
            name, arguments = tool_call
            events = answers.chat_tool_call_chunks(model, name, tools.serialised(arguments))
        else:
            events = [answers.chat_chunk(model, {"role": "assistant", "content": ""}, None)]
            events += [
                answers.chat_chunk(model, {"content": piece}, None)
                for piece in answers.split_answer(behaviour.chunks)
            ]
            events.append(answers.chat_chunk(model, {}, "stop"))
        options = request.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            final = answers.chat_chunk(model, {}, None)
            final["choices"] = []
            final["usage"] = answers.chat_completion(model)["usage"]
            events.append(final)
        payloads = [b"data: " + json.dumps(event).encode() + b"\n\n" for event in events]
        await self._stream(
            [*payloads, b"data: [DONE]\n\n"], b"text/event-stream", behaviour, receive, send
        )

    async def _answer_anthropic(
        self,
        route: str,
        request: dict[str, Any],
        behaviour: Behaviour,
        receive: Receive,
        send: Send,
    ) -> None:
        counting = route == "/messages/count_tokens"
        problem = anthropic.invalid(request, counting=counting)
        if problem is not None:
            await _error(send, "anthropic", problem, 400)
        elif counting:
            await asgi.json_answer(send, anthropic.count_tokens(request))
        elif request.get("stream"):
            events = anthropic.stream_events(request["model"], request, behaviour.chunks)
            await self._stream(events, b"text/event-stream", behaviour, receive, send)
        else:
            await asgi.json_answer(send, anthropic.message(request["model"], request))

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
            await asgi.json_answer(send, self.last)
        elif path == "/_fake/stats":
            await asgi.json_answer(send, self.stats)
        elif path == "/_fake/reset":
            self.last = {}
            for key in self.stats:
                self.stats[key] = 0
            await asgi.json_answer(send, self.stats)
        elif path == "/health":
            await asgi.json_answer(send, {"status": "ok"})
        else:
            await asgi.json_answer(send, answers.error(f"no control route {path}", 404), 404)


async def _error(send: Send, dialect: str, message: str, status: int) -> None:
    body = (
        anthropic.error(message, status)
        if dialect == "anthropic"
        else answers.error(message, status)
    )
    await asgi.json_answer(send, body, status)
