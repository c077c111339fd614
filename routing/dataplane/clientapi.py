"""Clients that speak another API than chat completions: Anthropic's Messages (`/v1/messages`) and
OpenAI's Responses (`/v1/responses`).

Their request becomes a chat-completions request (`ClientCall.chat`), which the rest of the
pipeline serves like any other: limits, balancing, breakers, retries, fallback and neural routing
see a chat request. Its answer is translated back on the way out, streams chunk by chunk
(`dialects/`). An instance whose adapter speaks the client's API itself (`Adapter.speaks`: the
`anthropic` adapter speaks Messages) is sent the client's own request and its answer is relayed as
is; so is a Responses request sent to an instance that serves that API itself (`responsesApi`).
A request only such an instance can serve (a built-in tool, say) is refused when it would be
translated, not before. Refusals answer in the client API's shape (`GatewayError.response(api)`).
A translated Responses answer is stored (`stored_responses`) unless the client sent
`store: false`, so that it can be read back and continued with `previous_response_id`; one passed
through is kept by its upstream, and the gateway remembers which instance that was, so that a
follow-up and `GET`/`DELETE /v1/responses/{id}` go to it.
"""

import json
import logging
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from django.http import HttpResponse
from django.http.response import HttpResponseBase

from authjwt.keys import ApiKeyPrincipal
from routerproject.state import STATE_ERRORS, log_degraded
from routing.snapshot import InstanceSpec

from . import errors, stored_responses
from .adapters import Translation, UpstreamRequest, adapter_for
from .dialects import anthropic, anthropic_stream, responses
from .endpoints import ENDPOINTS, Endpoint
from .exchange import Exchange

logger = logging.getLogger(__name__)

CHAT = ENDPOINTS["chat/completions"]
MAX_RESPONSE_ID = 128


class StreamTranslator(Protocol):
    usage: tuple[int, int] | None

    def feed(self, chunk: bytes) -> bytes: ...

    def end(self) -> bytes: ...


def _unreadable(exc: Exception) -> errors.GatewayError:
    logger.warning("An upstream answer could not be translated: %r", exc)
    return errors.GatewayError(
        502,
        "The upstream's answer could not be read as a chat completion.",
        kind="server_error",
        code="upstream_bad_answer",
    )


@dataclass(slots=True)
class ClientCall:
    """One request in a client API other than chat completions, and what it becomes."""

    endpoint: Endpoint
    original: dict[str, Any]  # the client's request
    original_body: bytes
    chat: dict[str, Any]  # the chat-completions request it stands for
    exchange: Exchange
    owner: str = ""  # whose stored responses (`stored_responses.owner_of`)
    response_id: str = ""
    created_at: int = 0
    client_shaped: bool = False  # an upstream's answer is in the client API's shape
    finished: dict[str, Any] | None = None  # the Responses answer to store
    untranslatable: errors.GatewayError | None = None  # why `chat` cannot stand for the request
    pinned: str = ""  # the only instance that may answer: the one keeping the previous response
    translated_history: bool = False  # continues a response the gateway keeps: never passed on
    passed_to: str = ""  # the instance a Responses request was passed through to
    upstream_id: str | None = None  # the id its upstream gave the response

    @property
    def chat_body(self) -> bytes:
        return json.dumps(self.chat, separators=(",", ":")).encode()

    def build(
        self,
        instance: InstanceSpec,
        body: bytes,
        payload: dict[str, Any] | None,
        headers: Mapping[str, str],
    ) -> UpstreamRequest:
        """The upstream request for `instance`: `body`/`payload` are the chat request as this
        attempt sends it (another model for a fallback or a neural tier)."""
        adapter = adapter_for(instance.adapter)
        if self._native(instance, adapter):
            model = (payload or self.chat).get("model")
            own, own_body = self.original, self.original_body
            if model != own.get("model"):
                own = {**own, "model": model}
                own_body = json.dumps(own, separators=(",", ":")).encode()
            self.client_shaped = True
            upstream = adapter.build(
                instance, self.endpoint, body=own_body, payload=own, headers=headers
            )
            if self.endpoint.api == "responses":
                self.passed_to = instance.instance_id
                upstream.translation = _PassedThrough(self)
            return upstream
        upstream = adapter.build(instance, CHAT, body=body, payload=payload, headers=headers)
        upstream.translation = _Translated(self, upstream.translation)
        return upstream

    def _native(self, instance: InstanceSpec, adapter: object) -> bool:
        if self.endpoint.api in getattr(adapter, "speaks", ()):
            return True
        return (
            self.endpoint.api == "responses"
            and instance.responses_api
            and not self.translated_history
        )

    def servable(self, candidates: tuple[InstanceSpec, ...]) -> tuple[InstanceSpec, ...]:
        """The candidates that can serve this request: only the instance that keeps the previous
        response can continue it, and a request that cannot be translated needs an instance that
        takes it as sent (none: the translation's refusal)."""
        if self.pinned:
            candidates = tuple(c for c in candidates if c.instance_id == self.pinned)
        if self.untranslatable is not None:
            candidates = tuple(c for c in candidates if self._native(c, adapter_for(c.adapter)))
            if not candidates:
                raise self.untranslatable
        return candidates

    def translate_whole(self, status: int, body: bytes) -> bytes:
        self.client_shaped = True
        if status >= 400:
            if self.endpoint.api == "anthropic":
                return anthropic.error_from_openai(status, body)
            return body
        try:
            answer = json.loads(body)
            if self.endpoint.api == "anthropic":
                return json.dumps(anthropic.message_from_chat(answer, self._model)).encode()
            self.finished = responses.response_from_chat(
                answer, self.original, response_id=self.response_id, created_at=self.created_at
            )
        except errors.GatewayError:
            raise
        except Exception as exc:  # any shape an upstream may send instead of a chat completion
            raise _unreadable(exc) from None
        return json.dumps(self.finished).encode()

    def stream_translator(self) -> StreamTranslator:
        self.client_shaped = True
        if self.endpoint.api == "anthropic":
            return anthropic_stream.ChatStreamAsMessages(self._model)
        return responses.ChatStreamAsResponses(
            self.original, response_id=self.response_id, created_at=self.created_at
        )

    async def streamed(self, translator: StreamTranslator) -> None:
        """A stream's end: its usage counted and, for the Responses API, its answer stored."""
        self.exchange.count_usage(translator.usage)
        final = getattr(translator, "final", None)
        if final is not None:
            self.finished = final
            await self._store()

    async def finish(self, response: HttpResponseBase) -> HttpResponseBase:
        """The answer as the client reads it: the service's fixed fallback response (written in
        chat-completions shape) translated, a finished Responses answer stored."""
        if not self.client_shaped and isinstance(response, HttpResponse):
            response.content = self.translate_whole(response.status_code, response.content)
        await self._store()
        await self.remember_upstream()
        return response

    async def remember_upstream(self) -> None:
        """Which instance keeps a response passed through, for its follow-ups and reads."""
        upstream_id, self.upstream_id = self.upstream_id, None
        if upstream_id is not None and self.original.get("store") is not False:
            try:
                await stored_responses.save_link(self.owner, upstream_id, self.passed_to)
            except STATE_ERRORS as exc:  # the answer stands; only its follow-ups are lost
                log_degraded(logger, exc, "Response %s not kept: %s", upstream_id, exc)

    async def _store(self) -> None:
        finished, self.finished = self.finished, None
        # A failed answer (an upstream error mid-stream) is not one to continue from.
        if finished is None or finished.get("status") == "failed":
            return
        if self.original.get("store") is False:
            return
        try:
            await stored_responses.save(
                self.owner, finished, responses.conversation_after(self.chat, finished)
            )
        except STATE_ERRORS as exc:  # the answer stands; only its follow-ups are lost
            log_degraded(logger, exc, "Response %s not kept: %s", finished.get("id"), exc)

    @property
    def _model(self) -> str:
        return str(self.original.get("model", ""))


_RESPONSE_ID = re.compile(rb'"id"\s*:\s*"(resp_[A-Za-z0-9_-]{1,120})"')
_SNIFFED_BYTES = 64 * 1024  # the id comes in the stream's first event


@dataclass(slots=True)
class _PassedThrough:
    """A Responses answer relayed as its upstream wrote it, its id noted on the way."""

    call: ClientCall
    content_type: str = "application/json"
    stream_content_type: str = "text/event-stream"

    def status_body(self, status: int, body: bytes) -> bytes:
        if status < 300:
            self._sniff(body)
        return body

    async def stream(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        head = b""
        async for chunk in chunks:
            if self.call.upstream_id is None and len(head) < _SNIFFED_BYTES:
                head += chunk
                self._sniff(head)
            yield chunk
        await self.call.remember_upstream()

    def _sniff(self, data: bytes) -> None:
        found = _RESPONSE_ID.search(data)
        if found is not None:
            self.call.upstream_id = found.group(1).decode()


@dataclass(slots=True)
class _Translated:
    """The adapter's own translation (Ollama's, say) and then the client API's, as one."""

    call: ClientCall
    inner: Translation | None
    content_type: str = "application/json"
    stream_content_type: str = "text/event-stream"

    def status_body(self, status: int, body: bytes) -> bytes:
        if self.inner is not None:
            body = self.inner.status_body(status, body)
        return self.call.translate_whole(status, body)

    async def stream(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        source = self.inner.stream(chunks) if self.inner is not None else chunks
        translator = self.call.stream_translator()
        async for chunk in source:
            try:
                translated = translator.feed(chunk)
            except Exception as exc:  # an upstream stream in no shape the translation knows
                _unreadable(exc)
                break
            if translated:
                yield translated
        tail = translator.end()
        if tail:
            yield tail
        await self.call.streamed(translator)


async def open_call(
    endpoint: Endpoint,
    payload: dict[str, Any] | None,
    body: bytes,
    principal: ApiKeyPrincipal | None,
    exchange: Exchange,
) -> ClientCall | None:
    """The chat request a Messages or Responses request stands for (None for OpenAI's routes).
    A `previous_response_id` continues that response's conversation: unknown (expired, deleted,
    stored under another key) is a 400 naming it, as OpenAI answers."""
    if endpoint.api == "openai" or payload is None:
        return None
    call = ClientCall(endpoint, payload, body, {"model": payload.get("model")}, exchange)
    history: list[dict[str, Any]] = []
    if endpoint.api == "responses":
        call.owner = stored_responses.owner_of(principal)
        call.response_id, call.created_at = responses.new_response_id(), int(time.time())
        previous = payload.get("previous_response_id")
        if previous is not None:
            known = isinstance(previous, str) and 0 < len(previous) <= MAX_RESPONSE_ID
            record = await stored_responses.load(call.owner, previous) if known else None
            if record is None:
                raise errors.bad_request(
                    f"Previous response with id '{previous}' not found.",
                    param="previous_response_id",
                    code="previous_response_not_found",
                )
            call.pinned = record.get("instance", "")
            call.translated_history = not call.pinned
            history = record.get("conversation", [])
    try:
        if endpoint.api == "anthropic":
            call.chat = anthropic.messages_to_chat(payload)
        else:
            call.chat = responses.responses_to_chat(payload, history)
    except errors.GatewayError as refusal:
        # An instance that speaks the client's API may still take it as sent.
        call.untranslatable = refusal
        call.chat["messages"] = []
    return call
