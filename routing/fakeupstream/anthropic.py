"""Anthropic's Messages API as the simulated backend answers it: messages, stream events, errors.

Shapes follow Anthropic's API reference: a Message, the server-sent events of a streamed one
(`event:` lines naming each), and the `{"type": "error", "error": {...}}` error body.
"""

import json
from typing import Any

from . import answers, tools

MESSAGE_ID = "msg_fake"
INPUT_TOKENS = 7
OUTPUT_TOKENS = 16
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def error(message: str, status: int) -> dict[str, Any]:
    """Anthropic's error body for `status` (other 4xx are invalid requests, other 5xx api errors)."""
    kind = _ERROR_TYPES.get(status) or ("invalid_request_error" if status < 500 else "api_error")
    return {
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": "req_fake",
    }


def refusal(headers: dict[str, str]) -> tuple[int, dict[str, Any]] | None:
    """The (status, body) Anthropic answers a request without its required headers, else None."""
    # Recent SDKs send the API key as a bearer token; older ones and curl examples as x-api-key.
    bearer = headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not headers.get("x-api-key") and not bearer:
        return 401, error("x-api-key header is required", 401)
    if not headers.get("anthropic-version"):
        return 400, error("anthropic-version: header is required", 400)
    return None


def invalid(request: dict[str, Any], *, counting: bool = False) -> str | None:
    """Why Anthropic would refuse `request` (a JSON object), or None. Counting tokens needs no
    `max_tokens`."""
    if not isinstance(request.get("model"), str):
        return "model: Field required"
    if not isinstance(request.get("messages"), list):
        return "messages: Field required"
    max_tokens = request.get("max_tokens")
    if not counting and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool)):
        return "max_tokens: Field required"
    return None


def message(model: str, request: dict[str, Any]) -> dict[str, Any]:
    """The Message answering `request`: a tool_use block when it should call a tool, else text."""
    call = tools.messages_call(request)
    content: dict[str, Any]
    if call is None:
        content = {"type": "text", "text": answers.ANSWER}
    else:
        name, arguments = call
        content = {
            "type": "tool_use",
            "id": tools.MESSAGES_CALL_ID,
            "name": name,
            "input": arguments,
        }
    return {
        **_envelope(model, "end_turn" if call is None else "tool_use"),
        "content": [content],
        "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS},
    }


def stream_events(model: str, request: dict[str, Any], chunks: int) -> list[bytes]:
    """The server-sent events of the streamed `message`, text in `chunks` pieces."""
    call = tools.messages_call(request)
    block: dict[str, Any]
    if call is None:
        block = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in answers.split_answer(chunks)]
    else:
        name, arguments = call
        block = {"type": "tool_use", "id": tools.MESSAGES_CALL_ID, "name": name, "input": {}}
        deltas = [
            {"type": "input_json_delta", "partial_json": piece}
            for piece in tools.halves(tools.serialised(arguments))
        ]
    start = {
        **_envelope(model, None),
        "content": [],
        "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": 1},
    }
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": block},
        {"type": "ping"},
    ]
    events += [{"type": "content_block_delta", "index": 0, "delta": d} for d in deltas]
    events += [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {
                "stop_reason": "end_turn" if call is None else "tool_use",
                "stop_sequence": None,
            },
            "usage": {"output_tokens": OUTPUT_TOKENS},
        },
        {"type": "message_stop"},
    ]
    return [
        b"event: " + event["type"].encode() + b"\ndata: " + json.dumps(event).encode() + b"\n\n"
        for event in events
    ]


def count_tokens(request: dict[str, Any]) -> dict[str, int]:
    """`{"input_tokens": N}`, N the words of the system prompt and text blocks (at least 1)."""
    texts = _texts(request.get("system"))
    for turn in request.get("messages") or []:
        texts += _texts(turn.get("content") if isinstance(turn, dict) else None)
    return {"input_tokens": max(1, sum(len(text.split()) for text in texts))}


def _envelope(model: str, stop_reason: str | None) -> dict[str, Any]:
    return {
        "id": MESSAGE_ID,
        "type": "message",
        "role": "assistant",
        "model": model,
        "stop_reason": stop_reason,
        "stop_sequence": None,
    }


def _texts(content: Any) -> list[str]:
    """The text of a string or of a list of blocks' `text` blocks."""
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    return [
        block["text"]
        for block in content
        if isinstance(block, dict)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
    ]
