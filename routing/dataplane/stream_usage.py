"""Token counts for streamed answers the client did not ask usage for.

The metrics, the request history and spend need every answer's tokens, but an OpenAI-style stream
carries usage only when the client asks (`stream_options.include_usage`). So a chat or completions
stream is sent upstream asking for it (`ask_for_usage`), and the usage-only chunk the upstream adds
at the end (`"choices": []`) is counted and taken out of what the client receives (`UsageKept`):
the client gets the stream it asked for. An upstream that sends no usage anyway has its tokens
estimated (`usage.estimate_tokens`: the prompt's and the answer's characters) and the exchange
marked `usage_estimated`. GATEWAY_STREAM_USAGE=false sends the client's request as it is instead.
"""

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from .adapters import Translation
from .endpoints import Endpoint
from .exchange import Exchange
from .usage import estimate_tokens, prompt_characters

_ROUTES = frozenset({"chat/completions", "completions"})
_EVENT_END = re.compile(rb"\r?\n\r?\n")
# A chunk's text, for the estimate: the JSON string of its `content` (chat) or `text` (completions).
_TEXT = re.compile(rb'"(?:content|text)"\s*:\s*"((?:[^"\\]|\\.)*)"')


def ask_for_usage(
    endpoint: Endpoint, body: bytes, payload: dict[str, Any] | None
) -> tuple[bytes, dict[str, Any] | None, bool]:
    """(body, payload, whether the usage chunk must be taken out of the client's stream)."""
    if (
        payload is None
        or endpoint.route not in _ROUTES
        or payload.get("stream") is not True
        or not settings.GATEWAY_STREAM_USAGE
    ):
        return body, payload, False
    options = payload.get("stream_options")
    if options is not None and not isinstance(options, dict):
        return body, payload, False
    if options and options.get("include_usage"):
        return body, payload, False
    asked = {**payload, "stream_options": {**(options or {}), "include_usage": True}}
    return json.dumps(asked, separators=(",", ":")).encode(), asked, True


@dataclass(slots=True)
class UsageKept:
    """The adapter's translation, if any, then the usage chunk counted and taken out. Answers sent
    whole carry their usage in the body and pass unchanged."""

    inner: Translation | None
    exchange: Exchange
    payload: dict[str, Any]
    content_type: str = "application/json"
    stream_content_type: str = "text/event-stream"
    _answer_characters: int = field(default=0)
    _counted: bool = field(default=False)

    def status_body(self, status: int, body: bytes) -> bytes:
        return self.inner.status_body(status, body) if self.inner is not None else body

    async def stream(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        source = self.inner.stream(chunks) if self.inner is not None else chunks
        pending = b""
        async for chunk in source:
            pending += chunk
            *events, pending = _EVENT_END.split(pending)
            kept = [event for event in events if self._kept(event)]
            if kept:
                yield b"\n\n".join(kept) + b"\n\n"
        if pending.strip() and self._kept(pending):
            yield pending
        if not self._counted:
            self._estimate()

    def _kept(self, event: bytes) -> bool:
        """False for the usage-only chunk (counted); the answer's text length noted on the way.
        Only a chunk that names `usage` is parsed: the others pass after a scan for their text."""
        if b'"usage"' not in event:
            self._answer_characters += sum(len(text) for text in _TEXT.findall(event))
            return True
        data = event.partition(b"data:")[2].strip()
        if not data.startswith(b"{"):
            return True
        try:
            chunk = json.loads(data)
        except ValueError:
            return True
        if not isinstance(chunk, dict):
            return True
        choices = chunk.get("choices")
        usage = chunk.get("usage")
        if isinstance(usage, dict) and not choices:
            prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
            if isinstance(prompt, int) and isinstance(completion, int):
                self.exchange.count_usage((max(0, prompt), max(0, completion)))
                self._counted = True
            return False
        for choice in choices if isinstance(choices, list) else ():
            if isinstance(choice, dict):
                delta = choice.get("delta")
                text = delta.get("content") if isinstance(delta, dict) else choice.get("text")
                if isinstance(text, str):
                    self._answer_characters += len(text)
        return True

    def _estimate(self) -> None:
        self.exchange.count_usage(
            (
                estimate_tokens(prompt_characters(self.payload)),
                estimate_tokens(self._answer_characters),
            )
        )
        self.exchange.usage_estimated = True
