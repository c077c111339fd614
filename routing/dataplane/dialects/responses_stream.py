"""The Response object of the Responses API, and a chat completions SSE stream retold as the
Responses API's typed events (`event: <type>` / `data: <json>`, numbered from 0)."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def response_usage(usage: Any) -> dict[str, Any] | None:
    """A chat `usage` in the Responses shape; None when the upstream sent none."""
    if not isinstance(usage, Mapping):
        return None
    prompt, completion = _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
    prompt_details = usage.get("prompt_tokens_details")
    completion_details = usage.get("completion_tokens_details")
    cached = prompt_details.get("cached_tokens") if isinstance(prompt_details, Mapping) else 0
    reasoning = (
        completion_details.get("reasoning_tokens") if isinstance(completion_details, Mapping) else 0
    )
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": _count(cached), "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": _count(reasoning)},
        "total_tokens": _count(usage.get("total_tokens")) or prompt + completion,
    }


def outcome(finish_reason: Any) -> tuple[str, dict[str, str] | None]:
    """(status, incomplete_details) of a response whose answer stopped for `finish_reason`."""
    if finish_reason == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish_reason == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


# Item ids follow from the response id: unique with it, and the same however the answer arrives.
def message_id(response_id: str) -> str:
    return "msg_" + response_id.removeprefix("resp_")


def function_call_id(response_id: str, index: int) -> str:
    return f"fc_{response_id.removeprefix('resp_')}_{index}"


def fallback_call_id(response_id: str, index: int) -> str:
    """The call id of a tool call that an upstream sent without one."""
    return f"call_{response_id.removeprefix('resp_')}_{index}"


def message_item(item_id: str, parts: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": parts,
    }


def output_part(kind: str, text: str) -> dict[str, Any]:
    """A message content part: `output_text` or `refusal`."""
    if kind == "refusal":
        return {"type": "refusal", "refusal": text}
    return {"type": "output_text", "text": text, "annotations": []}


def function_call_item(
    item_id: str, call_id: str, name: str, arguments: str, status: str
) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def response_object(
    request: Mapping[str, Any],
    *,
    response_id: str,
    created_at: int,
    model: str,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None = None,
    incomplete_details: dict[str, str] | None = None,
    error: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Response object with the request's echoes, as `responses_to_chat` accepted the request."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": error,
        "incomplete_details": incomplete_details,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": model,
        "output": output,
        "parallel_tool_calls": request.get("parallel_tool_calls") is not False,
        "previous_response_id": request.get("previous_response_id"),
        "temperature": request.get("temperature"),
        "text": request.get("text") or {"format": {"type": "text"}},
        "tool_choice": request.get("tool_choice") or "auto",
        "tools": request.get("tools") or [],
        "top_p": request.get("top_p"),
        "truncation": "disabled",
        "usage": usage,
        "user": request.get("user"),
        "metadata": request.get("metadata") or {},
        "store": request.get("store", True),
    }


@dataclass(slots=True)
class _Message:
    output_index: int
    item_id: str
    # [kind, text] per content part, kind being output_text or refusal.
    parts: list[list[str]] = field(default_factory=list)

    def item(self, status: str) -> dict[str, Any]:
        return message_item(self.item_id, [output_part(k, t) for k, t in self.parts], status)


@dataclass(slots=True)
class _Call:
    output_index: int
    item_id: str
    call_id: str
    name: str
    arguments: str = ""

    def item(self, status: str) -> dict[str, Any]:
        return function_call_item(self.item_id, self.call_id, self.name, self.arguments, status)


_DELTA = {"output_text": "response.output_text.delta", "refusal": "response.refusal.delta"}
_DONE = {
    "output_text": ("response.output_text.done", "text"),
    "refusal": ("response.refusal.done", "refusal"),
}


class ChatStreamAsResponses:
    """Feed it a chat completions SSE stream in chunks split anywhere; it returns the Responses
    events each chunk completes. `end()` gives a stream that broke off its terminal event.
    Afterwards `final` is the last response object (for storage; its status says whether it
    failed) and `usage` the (input, output) tokens, when the upstream reported them."""

    def __init__(self, request: Mapping[str, Any], response_id: str, created_at: int) -> None:
        self.request = request
        self.response_id = response_id
        self.created_at = created_at
        self.final: dict[str, Any] | None = None
        self.usage: tuple[int, int] | None = None
        self._model = str(request.get("model", ""))
        self._pending = b""
        self._sequence = 0
        self._started = False
        self._items: list[_Message | _Call] = []
        self._message: _Message | None = None
        self._calls: dict[int, _Call] = {}
        self._finish: str | None = None
        self._closed: set[int] = set()  # output indexes of the items already done
        self._usage: dict[str, Any] | None = None

    def feed(self, chunk: bytes) -> bytes:
        out = self._start()
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            out += self._line(line)
        return out

    def end(self) -> bytes:
        out = self._start() + self._line(self._pending)
        self._pending = b""
        if self.final is None and self._finish is not None:
            out += self._complete()
        elif self.final is None:
            out += self._fail("server_error", "The upstream's stream ended before its answer did.")
        return out

    def _event(self, kind: str, **members: Any) -> bytes:
        event = {"type": kind, "sequence_number": self._sequence, **members}
        self._sequence += 1
        return f"event: {kind}\ndata: {json.dumps(event)}\n\n".encode()

    def _response(self, status: str, **members: Any) -> dict[str, Any]:
        return response_object(
            self.request,
            response_id=self.response_id,
            created_at=self.created_at,
            model=self._model,
            status=status,
            **members,
        )

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        response = self._response("in_progress", output=[])
        return self._event("response.created", response=response) + self._event(
            "response.in_progress", response=response
        )

    def _line(self, line: bytes) -> bytes:
        line = line.strip()
        if self.final is not None or not line.startswith(b"data:"):
            return b""  # after the terminal event, and SSE comments, ids and event names
        data = line[5:].strip()
        if data == b"[DONE]":
            return self._complete()
        try:
            chunk = json.loads(data)
        except (ValueError, RecursionError):
            return self._fail("server_error", "The upstream sent a stream event it cannot read.")
        if not isinstance(chunk, dict):
            return b""
        if chunk.get("error"):
            return self._upstream_error(chunk["error"])
        if isinstance(chunk.get("model"), str) and chunk["model"]:
            self._model = chunk["model"]
        out = b""
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                out += self._choice(choice)
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]
        # Usage comes in a chunk of its own after the finish reason when it comes at all.
        if self._finish is not None and self._usage is not None:
            out += self._complete()
        return out

    def _choice(self, choice: Mapping[str, Any]) -> bytes:
        out = b""
        delta = choice.get("delta")
        if isinstance(delta, dict):
            for kind in ("content", "refusal"):
                piece = delta.get(kind)
                if isinstance(piece, str) and piece:
                    out += self._text("refusal" if kind == "refusal" else "output_text", piece)
            calls = delta.get("tool_calls")
            for call in calls if isinstance(calls, list) else ():
                if isinstance(call, dict):
                    out += self._tool_call(call)
        if isinstance(choice.get("finish_reason"), str):
            self._finish = choice["finish_reason"]
            out += self._close_items()
        return out

    def _text(self, kind: str, piece: str) -> bytes:
        out = b""
        message = self._message
        if message is None:
            item_id = message_id(self.response_id)
            if self._items:  # text after a tool call: a message of its own, as OpenAI sends it
                item_id += f"_{len(self._items)}"
            message = self._message = _Message(len(self._items), item_id)
            self._items.append(message)
            out += self._event(
                "response.output_item.added",
                output_index=message.output_index,
                item=message.item("in_progress"),
            )
        if not message.parts or message.parts[-1][0] != kind:
            message.parts.append([kind, ""])
            out += self._event(
                "response.content_part.added",
                item_id=message.item_id,
                output_index=message.output_index,
                content_index=len(message.parts) - 1,
                part=output_part(kind, ""),
            )
        message.parts[-1][1] += piece
        extra: dict[str, Any] = {"logprobs": []} if kind == "output_text" else {}
        return out + self._event(
            _DELTA[kind],
            item_id=message.item_id,
            output_index=message.output_index,
            content_index=len(message.parts) - 1,
            delta=piece,
            **extra,
        )

    def _tool_call(self, delta: Mapping[str, Any]) -> bytes:
        out = b""
        index = delta.get("index")
        if not isinstance(index, int) or isinstance(index, bool):
            # Upstreams that leave out the index send one call at a time, its id first.
            index = len(self._calls) - (0 if isinstance(delta.get("id"), str) else 1)
        function = delta.get("function")
        function = function if isinstance(function, dict) else {}
        call = self._calls.get(index)
        if call is None:
            if self._message is not None:
                out += self._close(self._message, "completed")
                self._message = None
            number = len(self._calls)
            call_id = delta.get("id")
            call = _Call(
                len(self._items),
                function_call_id(self.response_id, number),
                call_id if isinstance(call_id, str) else fallback_call_id(self.response_id, number),
                function["name"] if isinstance(function.get("name"), str) else "",
            )
            self._calls[index] = call
            self._items.append(call)
            out += self._event(
                "response.output_item.added",
                output_index=call.output_index,
                item=call.item("in_progress"),
            )
        elif not call.name and isinstance(function.get("name"), str):
            call.name = function["name"]
        piece = function.get("arguments")
        if isinstance(piece, str) and piece:
            call.arguments += piece
            out += self._event(
                "response.function_call_arguments.delta",
                item_id=call.item_id,
                output_index=call.output_index,
                delta=piece,
            )
        return out

    def _statuses(self) -> list[str]:
        """Each item's status as the answer ended: the last one is cut short with the answer."""
        statuses = ["completed"] * len(self._items)
        if statuses and outcome(self._finish)[1] is not None:
            statuses[-1] = "incomplete"
        return statuses

    def _close_items(self) -> bytes:
        statuses = self._statuses()
        return b"".join(
            self._close(item, status)
            for item, status in zip(self._items, statuses, strict=True)
            if item.output_index not in self._closed
        )

    def _close(self, item: _Message | _Call, status: str) -> bytes:
        self._closed.add(item.output_index)
        out = b""
        where = {"item_id": item.item_id, "output_index": item.output_index}
        if isinstance(item, _Message):
            for content_index, (kind, text) in enumerate(item.parts):
                kind_done, member = _DONE[kind]
                extra: dict[str, Any] = {"logprobs": []} if kind == "output_text" else {}
                out += self._event(
                    kind_done, **where, content_index=content_index, **{member: text}, **extra
                )
                out += self._event(
                    "response.content_part.done",
                    **where,
                    content_index=content_index,
                    part=output_part(kind, text),
                )
        else:
            out += self._event(
                "response.function_call_arguments.done", **where, arguments=item.arguments
            )
        return out + self._event(
            "response.output_item.done", output_index=item.output_index, item=item.item(status)
        )

    def _complete(self) -> bytes:
        out = self._close_items()
        status, incomplete = outcome(self._finish)
        usage = response_usage(self._usage)
        self.final = self._response(
            status,
            output=[item.item(s) for item, s in zip(self._items, self._statuses(), strict=True)],
            usage=usage,
            incomplete_details=incomplete,
        )
        if usage is not None:
            self.usage = (usage["input_tokens"], usage["output_tokens"])
        kind = "response.incomplete" if incomplete else "response.completed"
        return out + self._event(kind, response=self.final)

    def _upstream_error(self, error: Any) -> bytes:
        error = error if isinstance(error, Mapping) else {"message": error}
        message = error.get("message")
        if not isinstance(message, str) or not message:
            message = json.dumps(error)
        marks = f"{error.get('code')} {error.get('type')}"
        # The SDK's types know a fixed set of codes; these two are the ones a chat error maps to.
        return self._fail(
            "rate_limit_exceeded" if "rate_limit" in marks else "server_error", message
        )

    def _fail(self, code: str, message: str) -> bytes:
        self.final = self._response(
            "failed",
            output=[item.item("incomplete") for item in self._items],
            error={"code": code, "message": message},
        )
        return self._event("response.failed", response=self.final)
