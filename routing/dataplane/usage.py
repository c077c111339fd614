"""Token counts from an upstream's `usage`, for the metrics: OpenAI's prompt/completion tokens or
the input/output names some servers use. Anything unreadable counts as unknown, never as an error.
When an upstream reports none, `estimate_tokens` guesses from the text (`stream_usage`)."""

import json
from typing import Any

_MAX_BODY = 1 << 20


def _tokens(usage: Any) -> tuple[int, int] | None:
    if not isinstance(usage, dict):
        return None
    prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
    completion = usage.get("completion_tokens", usage.get("output_tokens", 0))
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return max(0, prompt), max(0, completion or 0)


def read_usage(body: bytes, content_type: str) -> tuple[int, int] | None:
    if len(body) > _MAX_BODY or b'"usage"' not in body:
        return None
    if content_type and "json" not in content_type:
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return _tokens(document.get("usage")) if isinstance(document, dict) else None


def read_stream_usage(chunk: bytes) -> tuple[int, int] | None:
    """The usage of an SSE chunk (`data: {...}` lines; the last chunk carries it when the client
    asked for `stream_options.include_usage`). A line split across chunks is not read."""
    found = None
    for line in chunk.splitlines():
        if b'"usage"' not in line:
            continue
        payload = line[5:] if line.startswith(b"data:") else line
        try:
            document = json.loads(payload)
        except ValueError:
            continue
        if isinstance(document, dict):
            found = _tokens(document.get("usage")) or found
    return found


# An estimate when an upstream reports no usage: about 4 characters a token for English text and
# code with the tokenizers of today's models (the gateway knows neither the model's tokenizer nor,
# offline, its vocabulary). Marked as estimated wherever it is shown.
CHARACTERS_PER_TOKEN = 4


def estimate_tokens(characters: int) -> int:
    return -(-characters // CHARACTERS_PER_TOKEN) if characters > 0 else 0


def prompt_characters(payload: Any) -> int:
    """The text a chat or completions request sends: message contents (strings or text parts),
    or the prompt."""
    if not isinstance(payload, dict):
        return 0
    total = 0
    prompt = payload.get("prompt")
    for text in prompt if isinstance(prompt, list) else [prompt]:
        if isinstance(text, str):
            total += len(text)
    messages = payload.get("messages")
    for message in messages if isinstance(messages, list) else ():
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else [content]:
            if isinstance(part, str):
                total += len(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                total += len(part["text"])
    return total
