"""Clients that speak another API than chat completions: Anthropic's Messages (`/v1/messages`) and
OpenAI's Responses (`/v1/responses`).

Their request becomes a chat-completions request (`ClientCall.chat`), which the rest of the
pipeline serves like any other: limits, balancing, breakers, retries, fallback and neural routing
see a chat request. Its answer is translated back on the way out, streams chunk by chunk
(`dialects/`). An instance whose adapter speaks the client's API itself (`Adapter.speaks`: the
`anthropic` adapter speaks Messages) is sent the client's own request and its answer is relayed as
is. Refusals answer in the client API's shape (`GatewayError.response(api)`). A Responses answer
is stored (`stored_responses`) unless the client sent `store: false`, so that it can be read back
and continued with `previous_response_id`.
"""

import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from django.http import HttpResponse
from django.http.response import HttpResponseBase

from authjwt.keys import ApiKeyPrincipal
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
        if self.endpoint.api in getattr(adapter, "speaks", ()):
            model = (payload or self.chat).get("model")
            own, own_body = self.original, self.original_body
            if model != own.get("model"):
                own = {**own, "model": model}
                own_body = json.dumps(own, separators=(",", ":")).encode()
            self.client_shaped = True
            return adapter.build(
                instance, self.endpoint, body=own_body, payload=own, headers=headers
            )
        upstream = adapter.build(instance, CHAT, body=body, payload=payload, headers=headers)
        upstream.translation = _Translated(self, upstream.translation)
        return upstream

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
        return response

    async def _store(self) -> None:
        finished, self.finished = self.finished, None
        # A failed answer (an upstream error mid-stream) is not one to continue from.
        if finished is None or finished.get("status") == "failed":
            return
        if self.original.get("store") is False:
            return
        await stored_responses.save(
            self.owner, finished, responses.conversation_after(self.chat, finished)
        )

    @property
    def _model(self) -> str:
        return str(self.original.get("model", ""))


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
    if endpoint.api == "anthropic":
        chat = anthropic.messages_to_chat(payload)
        return ClientCall(endpoint, payload, body, chat, exchange)
    owner = stored_responses.owner_of(principal)
    history: list[dict[str, Any]] = []
    previous = payload.get("previous_response_id")
    if previous is not None:
        known = isinstance(previous, str) and 0 < len(previous) <= MAX_RESPONSE_ID
        record = await stored_responses.load(owner, previous) if known else None
        if record is None:
            raise errors.bad_request(
                f"Previous response with id '{previous}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        history = record["conversation"]
    return ClientCall(
        endpoint,
        payload,
        body,
        responses.responses_to_chat(payload, history),
        exchange,
        owner=owner,
        response_id=responses.new_response_id(),
        created_at=int(time.time()),
    )
