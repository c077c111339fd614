"""OpenAI's Responses API as the simulated backend answers it: one text message, whole or streamed.

Minimal, but every field the official SDK's `Response` type requires is there, so a client (or a
gateway passing the API through) can parse it.
"""

import json
import time
from typing import Any

from . import answers

RESPONSE_ID = "resp_fake"
ITEM_ID = "msg_fake"
UPSTREAM_API = ("x-fake-upstream-api", "responses")


def response(
    model: str, request: dict[str, Any], *, done: bool = True, response_id: str = RESPONSE_ID
) -> dict[str, Any]:
    """The Response to `request`: completed with the answer, or (not `done`) in progress and empty."""
    instructions = request.get("instructions")
    previous = request.get("previous_response_id")
    return {
        "id": response_id,
        "previous_response_id": previous if isinstance(previous, str) else None,
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed" if done else "in_progress",
        "error": None,
        "incomplete_details": None,
        "instructions": instructions if isinstance(instructions, str) else None,
        "model": model,
        "output": [_message(answers.ANSWER, done=True)] if done else [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "text": {"format": {"type": "text"}},
        "metadata": {},
        "usage": _usage() if done else None,
    }


def stream_events(
    model: str, request: dict[str, Any], chunks: int, response_id: str = RESPONSE_ID
) -> list[bytes]:
    """The server-sent events of the streamed `response`, its text in `chunks` deltas."""
    pending = response(model, request, done=False, response_id=response_id)
    where = {"item_id": ITEM_ID, "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": pending},
        {"type": "response.in_progress", "response": pending},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": _message("", done=False),
        },
        {"type": "response.content_part.added", **where, "part": _text("")},
    ]
    events += [
        {"type": "response.output_text.delta", **where, "delta": piece, "logprobs": []}
        for piece in answers.split_answer(chunks)
    ]
    events += [
        {"type": "response.output_text.done", **where, "text": answers.ANSWER, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": _text(answers.ANSWER)},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": _message(answers.ANSWER, done=True),
        },
        {
            "type": "response.completed",
            "response": response(model, request, response_id=response_id),
        },
    ]
    return [
        b"event: "
        + event["type"].encode()
        + b"\ndata: "
        + json.dumps({**event, "sequence_number": number}).encode()
        + b"\n\n"
        for number, event in enumerate(events)
    ]


def _message(text: str, *, done: bool) -> dict[str, Any]:
    return {
        "id": ITEM_ID,
        "type": "message",
        "role": "assistant",
        "status": "completed" if done else "in_progress",
        "content": [_text(text)] if done else [],
    }


def _text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": []}


def _usage() -> dict[str, Any]:
    return {
        "input_tokens": 7,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 16,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 23,
    }


class Kept:
    """The responses answered so far, as OpenAI keeps them: read back, deleted and continued from
    (`previous_response_id`) by id."""

    def __init__(self) -> None:
        self.responses: dict[str, dict[str, Any]] = {}
        self._made = 0

    def new_id(self) -> str:
        self._made += 1
        return f"{RESPONSE_ID}_{self._made}"
