"""The bodies the simulated backend answers with, per endpoint; deterministic so tests can compare."""

import base64
import json
import struct
import time
from typing import Any

from . import tools

ANSWER = "This is a simulated answer from the fake upstream, split into chunks for streaming."
EMBEDDING_DIMENSIONS = 8
# A 1x1 transparent PNG: small, valid, recognisable.
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABpfZFQAAAAABJRU5ErkJggg=="
)
# A short WAV header with no samples: enough to be recognised as audio.
WAV_HEADER = (
    b"RIFF"
    + struct.pack("<I", 36)
    + b"WAVEfmt "
    + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
    + b"data"
    + struct.pack("<I", 0)
)


def split_answer(chunks: int) -> list[str]:
    """The answer cut into `chunks` non-empty pieces (fewer if the answer is shorter)."""
    chunks = max(1, min(chunks, len(ANSWER)))
    size, rest = divmod(len(ANSWER), chunks)
    pieces, start = [], 0
    for index in range(chunks):
        end = start + size + (1 if index < rest else 0)
        pieces.append(ANSWER[start:end])
        start = end
    return pieces


def _usage(prompt: int = 7, completion: int = 16) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def chat_completion(model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": ANSWER},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": _usage(),
    }


def chat_chunk(model: str, delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
    }


def chat_tool_call(model: str, name: str, arguments: str) -> dict[str, Any]:
    """A chat completion that calls `name` with `arguments` (a JSON string) instead of answering."""
    answer = chat_completion(model)
    choice = answer["choices"][0]
    choice["finish_reason"] = "tool_calls"
    choice["message"] = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": tools.CHAT_CALL_ID,
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }
        ],
    }
    return answer


def chat_tool_call_chunks(model: str, name: str, arguments: str) -> list[dict[str, Any]]:
    """The streamed form of `chat_tool_call`: role, the call's head, its arguments in two pieces,
    then the finish reason."""
    head = {
        "index": 0,
        "id": tools.CHAT_CALL_ID,
        "type": "function",
        "function": {"name": name, "arguments": ""},
    }
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": None}, {"tool_calls": [head]}]
    deltas += [
        {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
        for piece in tools.halves(arguments)
    ]
    chunks = [chat_chunk(model, delta, None) for delta in deltas]
    chunks.append(chat_chunk(model, {}, "tool_calls"))
    return chunks


def completion(
    model: str, text: str = ANSWER, finish_reason: str | None = "stop"
) -> dict[str, Any]:
    return {
        "id": "cmpl-fake",
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "text": text, "finish_reason": finish_reason, "logprobs": None}],
        "usage": _usage(),
    }


def vector(index: int, dimensions: int = EMBEDDING_DIMENSIONS) -> list[float]:
    return [round((index + 1) * 0.1 + d * 0.01, 4) for d in range(dimensions)]


def embeddings(model: str, request: dict[str, Any]) -> dict[str, Any]:
    inputs = request.get("input", "")
    count = (
        len(inputs) if isinstance(inputs, list) and inputs and not isinstance(inputs[0], int) else 1
    )
    dimensions = int(request.get("dimensions") or EMBEDDING_DIMENSIONS)
    as_base64 = request.get("encoding_format") == "base64"
    data = []
    for index in range(count):
        values = vector(index, dimensions)
        embedding: Any = (
            base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
            if as_base64
            else values
        )
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": 3 * count, "total_tokens": 3 * count},
    }


def rerank(model: str, request: dict[str, Any]) -> dict[str, Any]:
    documents = request.get("documents") or []
    scored = [
        {
            "index": index,
            "relevance_score": round(1.0 / (index + 1), 4),
            "document": {"text": doc if isinstance(doc, str) else json.dumps(doc)},
        }
        for index, doc in enumerate(documents)
    ]
    top_n = request.get("top_n")
    if isinstance(top_n, int):
        scored = scored[:top_n]
    return {
        "id": "rerank-fake",
        "model": model,
        "results": scored,
        "usage": {"total_tokens": 5 * len(documents)},
    }


def images(count: int = 1) -> dict[str, Any]:
    encoded = base64.b64encode(PNG_1X1).decode()
    return {
        "created": int(time.time()),
        "data": [{"b64_json": encoded} for _ in range(max(1, count))],
    }


def transcription() -> dict[str, Any]:
    return {"text": "simulated transcription"}


def moderation(model: str, request: dict[str, Any]) -> dict[str, Any]:
    """One unflagged result per input (a string or a list of them)."""
    inputs = request.get("input")
    count = len(inputs) if isinstance(inputs, list) and inputs else 1
    categories = {"harassment": False, "hate": False, "self-harm": False, "sexual": False}
    scores = dict.fromkeys(categories, 0.0)
    return {
        "id": "modr-fake",
        "model": model or "fake-moderation",
        "results": [
            {"flagged": False, "categories": categories, "category_scores": scores}
            for _ in range(count)
        ],
    }


def models(names: list[str]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "fakeupstream"}
            for name in names
        ],
    }


def ollama_chat(model: str, content: str, *, done: bool, final: bool = True) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "model": model,
        "created_at": "2025-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": content},
        "done": done,
    }
    if done:
        answer.update(done_reason="stop", prompt_eval_count=7, eval_count=16, total_duration=1000)
    return answer


def ollama_embed(model: str, request: dict[str, Any]) -> dict[str, Any]:
    inputs = request.get("input", "")
    count = len(inputs) if isinstance(inputs, list) else 1
    return {
        "model": model,
        "embeddings": [vector(index) for index in range(count)],
        "prompt_eval_count": 3 * count,
    }


def error(message: str, status: int) -> dict[str, Any]:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": str(status)}}
