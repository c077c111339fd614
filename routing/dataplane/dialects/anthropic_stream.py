"""Streams between Anthropic's Messages API and OpenAI's chat completions, both ways. Both arrive
as server-sent events split at any byte, so each translator buffers until an event is whole."""

import json
import time
import uuid
from typing import Any

from .anthropic import STOP_REASONS
from .anthropic_upstream import FINISH_REASONS, chat_usage
from .members import read_object, token_count

# Anthropic's error types, kept as they are when an OpenAI error already names one.
_ERROR_TYPES = {
    "invalid_request_error",
    "authentication_error",
    "billing_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "timeout_error",
    "api_error",
    "overloaded_error",
}
# OpenAI's (and this gateway's) names for a rate limit.
_RATE_LIMITED = {"requests", "tokens", "rate_limit_exceeded", "insufficient_quota"}


class EventReader:
    """Server-sent events out of bytes split anywhere: (event name, data) for each whole event."""

    def __init__(self) -> None:
        self._pending = b""
        self._name = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        self._pending += chunk
        if b"\n" not in chunk:
            return []
        *lines, self._pending = self._pending.split(b"\n")
        return [event for line in lines if (event := self._line(line)) is not None]

    def end(self) -> list[tuple[str, str]]:
        """What a stream that stopped without a last blank line leaves."""
        lines, self._pending = [self._pending, b""], b""
        return [event for line in lines if (event := self._line(line)) is not None]

    def _line(self, raw: bytes) -> tuple[str, str] | None:
        # A newline byte never occurs inside a UTF-8 sequence, so each line decodes on its own.
        line = raw.rstrip(b"\r").decode("utf-8", "replace")
        if not line:
            event = (self._name, "\n".join(self._data)) if self._data else None
            self._name, self._data = "", []
            return event
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            self._name = value
        elif field == "data":
            self._data.append(value)
        return None


def _json(data: str) -> dict[str, Any] | None:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _anthropic_error(error: Any) -> dict[str, str]:
    if not isinstance(error, dict):
        return {"type": "api_error", "message": str(error)}
    kind, code = error.get("type"), error.get("code")
    if kind in _ERROR_TYPES:
        anthropic_type = str(kind)
    elif kind in _RATE_LIMITED or code in _RATE_LIMITED:
        anthropic_type = "rate_limit_error"
    else:
        anthropic_type = "api_error"
    message = error.get("message")
    return {"type": anthropic_type, "message": message if isinstance(message, str) else str(error)}


class ChatStreamAsMessages:
    """A chat completions SSE stream as a Messages SSE stream. The `message_delta` that closes the
    message waits for the usage chunk, which follows the chunk with the finish reason."""

    def __init__(self, model: str, message_id: str | None = None) -> None:
        self.model = model
        self.message_id = message_id or f"msg_{uuid.uuid4().hex[:24]}"
        self.usage: tuple[int, int] | None = None  # (input, output) tokens once the stream says
        self._reader = EventReader()
        self._started = False
        self._over = False
        self._stop_reason: str | None = None
        self._blocks = 0  # content blocks opened so far; the next one's index
        self._open: str | None = None  # "text" or "tool_use", the kind of the block now open
        self._tool: int | None = None  # the chat tool call index of the open tool_use block
        self._tools_seen: set[int] = set()

    def feed(self, chunk: bytes) -> bytes:
        return b"".join(self._on_data(data) for _, data in self._reader.feed(chunk))

    def end(self) -> bytes:
        """The rest of the stream: a stream cut short still ends its blocks and its message."""
        out = b"".join(self._on_data(data) for _, data in self._reader.end())
        return out + self._finish()

    @staticmethod
    def _event(kind: str, data: dict[str, Any]) -> bytes:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        message: dict[str, Any] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return self._event("message_start", {"message": message})

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        self._open, self._tool = None, None
        return self._event("content_block_stop", {"index": self._blocks - 1})

    def _open_block(self, kind: str, block: dict[str, Any]) -> bytes:
        out = self._close()
        self._open = kind
        self._blocks += 1
        return out + self._event(
            "content_block_start", {"index": self._blocks - 1, "content_block": block}
        )

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return self._event("content_block_delta", {"index": self._blocks - 1, "delta": delta})

    def _finish(self) -> bytes:
        if self._over:
            return b""
        out = self._start() + self._close()
        self._over = True
        usage: dict[str, int] = {"output_tokens": self.usage[1] if self.usage else 0}
        if self.usage:
            usage["input_tokens"] = self.usage[0]
        delta = {"stop_reason": self._stop_reason or "end_turn", "stop_sequence": None}
        out += self._event("message_delta", {"delta": delta, "usage": usage})
        return out + self._event("message_stop", {})

    def _on_data(self, data: str) -> bytes:
        if self._over:
            return b""
        if data.strip() == "[DONE]":
            return self._finish()
        chunk = _json(data)
        if chunk is None:
            return b""  # not an event of the chat stream: nothing to say
        if chunk.get("error") is not None:
            self._over = True
            return self._event("error", {"error": _anthropic_error(chunk["error"])})
        out = self._start()
        usage = read_object(chunk.get("usage"))
        if usage:
            input_tokens = token_count(usage.get("prompt_tokens"))
            self.usage = (input_tokens, token_count(usage.get("completion_tokens")))
        choices = chunk.get("choices")
        choice = read_object(choices[0] if isinstance(choices, list) and choices else None)
        delta = read_object(choice.get("delta"))
        text = delta.get("content")
        if isinstance(text, str) and text:
            if self._open != "text":
                out += self._open_block("text", {"type": "text", "text": ""})
            out += self._delta({"type": "text_delta", "text": text})
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            out += self._on_tool_call(read_object(call))
        finish_reason = choice.get("finish_reason")
        if isinstance(finish_reason, str) and finish_reason:
            self._stop_reason = STOP_REASONS.get(finish_reason, "end_turn")
            if self._stop_reason == "end_turn" and self._tools_seen:
                self._stop_reason = "tool_use"  # some servers end tool calls with "stop"
            out += self._close()
        if self._stop_reason and self.usage:
            out += self._finish()
        return out

    def _on_tool_call(self, call: Any) -> bytes:
        out = b""
        index = call.get("index")
        if isinstance(index, bool) or not isinstance(index, int):
            # Without an index, a call that names an id is a new one; anything else continues.
            opened = self._tool is not None and not call.get("id")
            index = self._tool if opened else len(self._tools_seen)
        function = read_object(call.get("function"))
        if index != self._tool:
            if index in self._tools_seen:
                # A block once closed cannot be reopened in Messages; calls are not interleaved
                # by the servers this meets, so what would arrive here is dropped.
                return b""
            self._tools_seen.add(index)
            call_id = call.get("id")
            block = {
                "type": "tool_use",
                "id": call_id if isinstance(call_id, str) else f"toolu_{uuid.uuid4().hex[:24]}",
                "name": str(function.get("name") or ""),
                "input": {},
            }
            out += self._open_block("tool_use", block)
            self._tool = index
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            out += self._delta({"type": "input_json_delta", "partial_json": arguments})
        return out


class MessagesStreamAsChat:
    """A Messages SSE stream as a chat completions SSE stream ending `data: [DONE]`; the usage
    chunk comes last, only when the client asked for it."""

    def __init__(self, model: str, include_usage: bool = False) -> None:
        self.model = model
        self.include_usage = include_usage
        self.completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        self.usage: tuple[int, int] | None = None  # (prompt, completion) tokens once known
        self._usage: dict[str, Any] = {}
        self._reader = EventReader()
        self._started = False
        self._finished = False  # the finish_reason chunk was sent
        self._over = False
        self._tools: dict[int, int] = {}  # content block index -> chat tool call index

    def feed(self, chunk: bytes) -> bytes:
        return b"".join(self._on_event(n, d) for n, d in self._reader.feed(chunk))

    def end(self) -> bytes:
        """The rest of the stream: a stream cut short still finishes and ends with [DONE]."""
        out = b"".join(self._on_event(n, d) for n, d in self._reader.end())
        return out + self._done()

    def _begin(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        return self._chunk({"role": "assistant", "content": ""})

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return self._begin() + self._data({"choices": [choice]})

    def _data(self, members: dict[str, Any]) -> bytes:
        chunk = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            **members,
        }
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"

    def _done(self) -> bytes:
        if self._over:
            return b""
        self._over = True
        out = b"" if self._finished else self._chunk({}, "stop")
        if self.include_usage:
            out += self._data({"choices": [], "usage": chat_usage(self._usage)})
        return out + b"data: [DONE]\n\n"

    def _on_event(self, name: str, data: str) -> bytes:
        event = _json(data)
        if self._over or event is None:
            return b""
        kind = event.get("type", name)
        if kind == "message_start":
            message = read_object(event.get("message"))
            if isinstance(message.get("id"), str) and not self._started:
                self.completion_id = f"chatcmpl-{message['id']}"
            self._count(message.get("usage"))
            return self._begin()
        if kind == "content_block_start":
            return self._on_block(event)
        if kind == "content_block_delta":
            delta = read_object(event.get("delta"))
            if delta.get("type") == "text_delta" and isinstance(delta.get("text"), str):
                return self._chunk({"content": delta["text"]})
            tool = self._tools.get(event["index"]) if isinstance(event.get("index"), int) else None
            partial = delta.get("partial_json")
            if delta.get("type") == "input_json_delta" and tool is not None:
                arguments = partial if isinstance(partial, str) else ""
                return self._chunk(
                    {"tool_calls": [{"index": tool, "function": {"arguments": arguments}}]}
                )
            return b""  # thinking and citations have no place in a chat answer
        if kind == "message_delta":
            self._count(event.get("usage"))
            stop_reason = read_object(event.get("delta")).get("stop_reason")
            if stop_reason is None or self._finished:
                return b""
            self._finished = True
            return self._chunk({}, FINISH_REASONS.get(str(stop_reason), "stop"))
        if kind == "message_stop":
            return self._done()
        if kind == "error":
            self._over = True
            error = read_object(event.get("error"))
            text = error.get("message")
            openai_error = {
                "message": text if isinstance(text, str) else "The upstream failed.",
                "type": str(error.get("type") or "api_error"),
                "param": None,
                "code": None,
            }
            return b"data: " + json.dumps({"error": openai_error}).encode() + b"\n\n"
        return b""  # ping, content_block_stop, and whatever Messages adds later

    def _on_block(self, event: dict[str, Any]) -> bytes:
        block = read_object(event.get("content_block"))
        if block.get("type") == "text" and isinstance(block.get("text"), str) and block["text"]:
            return self._chunk({"content": block["text"]})
        if block.get("type") != "tool_use" or not isinstance(event.get("index"), int):
            return b""
        tool = self._tools[event["index"]] = len(self._tools)
        call = {
            "index": tool,
            "id": str(block.get("id") or f"call_{uuid.uuid4().hex[:24]}"),
            "type": "function",
            "function": {"name": str(block.get("name") or ""), "arguments": ""},
        }
        return self._chunk({"tool_calls": [call]})

    def _count(self, usage: Any) -> None:
        """Messages usage is cumulative: each report replaces what it names."""
        self._usage.update((k, v) for k, v in read_object(usage).items() if v is not None)
        counted = chat_usage(self._usage)
        self.usage = (counted["prompt_tokens"], counted["completion_tokens"])
