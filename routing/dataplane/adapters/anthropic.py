"""Anthropic's Messages API as an upstream (`anthropic` adapter): a client's chat-completions
request is written as a Messages request and its answer, streamed or not, read back as a chat
completion (`dialects.anthropic`, direction 2); a client that speaks Messages itself
(`/v1/messages`) is passed through as sent. The credential goes in `x-api-key`, and
`anthropic-version` is sent unless the client sent its own. Only chat is served: Anthropic has no
embeddings, audio or images."""

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from routing.snapshot import InstanceSpec

from .. import errors
from ..dialects import anthropic_stream, anthropic_upstream
from ..endpoints import Endpoint
from .base import UpstreamRequest, join_url, upstream_headers

# The API version every current Anthropic SDK sends.
ANTHROPIC_VERSION = "2023-06-01"


@dataclass(slots=True)
class MessagesTranslation:
    model: str
    include_usage: bool = False
    content_type: str = "application/json"
    stream_content_type: str = "text/event-stream"

    def status_body(self, status: int, body: bytes) -> bytes:
        if status >= 400:
            return anthropic_upstream.openai_error_from_anthropic(body)
        return json.dumps(
            anthropic_upstream.chat_from_message(json.loads(body), self.model)
        ).encode()

    async def stream(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        translator = anthropic_stream.MessagesStreamAsChat(self.model, self.include_usage)
        async for chunk in chunks:
            translated = translator.feed(chunk)
            if translated:
                yield translated
        tail = translator.end()
        if tail:
            yield tail


class Anthropic:
    speaks = ("anthropic",)  # the client APIs it takes as sent (`clientapi`)

    def build(
        self,
        instance: InstanceSpec,
        endpoint: Endpoint,
        *,
        body: bytes,
        payload: dict[str, Any] | None,
        headers: Mapping[str, str],
    ) -> UpstreamRequest:
        forwarded = upstream_headers(instance, headers, auth_header="x-api-key", auth_scheme="")
        forwarded.setdefault("anthropic-version", ANTHROPIC_VERSION)
        url = instance.base_url.rstrip("/") + instance.path if instance.path else ""
        url = url or join_url(instance.base_url, "/v1", "/messages")
        if endpoint.api == "anthropic":
            return UpstreamRequest("POST", url, forwarded, body)
        if endpoint.route != "chat/completions" or payload is None:
            raise errors.bad_request(
                f"This model is served by Anthropic's Messages API, which has no "
                f"/v1/{endpoint.route}."
            )
        forwarded["content-type"] = "application/json"
        stream_options = payload.get("stream_options")
        include_usage = isinstance(stream_options, dict) and bool(
            stream_options.get("include_usage")
        )
        return UpstreamRequest(
            "POST",
            url,
            forwarded,
            json.dumps(anthropic_upstream.chat_to_messages(payload)).encode(),
            MessagesTranslation(str(payload.get("model", "")), include_usage),
        )


ANTHROPIC = Anthropic()
