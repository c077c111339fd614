"""Chat completions served by an upstream that speaks Anthropic's Messages API (the `anthropic`
adapter's translation): requests translated to Messages, answers and errors back to chat."""

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from .. import errors
from .anthropic import parsed_input
from .members import (
    as_list,
    as_object,
    as_positive_int,
    as_string,
    number_member,
    stream_member,
    token_count,
)

# What a chat request gets when it names no limit: Messages requires `max_tokens`.
DEFAULT_MAX_TOKENS = 4096

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def _image_block(part: Mapping[str, Any], param: str) -> dict[str, Any]:
    image_url = as_object(part.get("image_url"), f"{param}.image_url")
    url = as_string(image_url.get("url"), f"{param}.image_url.url")
    if not url.startswith("data:"):
        return {"type": "image", "source": {"type": "url", "url": url}}
    header, _, data = url[5:].partition(",")
    media_type, _, encoding = header.partition(";")
    if encoding != "base64" or not data:
        raise errors.bad_request(
            f"'{param}.image_url.url' must be a base64 data URL or an http(s) URL.",
            param=f"{param}.image_url.url",
        )
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _blocks(content: Any, param: str) -> list[dict[str, Any]]:
    """A chat message's content as Messages blocks; empty text is left out (Messages rejects it)."""
    if content is None or isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks = []
    for j, part in enumerate(as_list(content, param)):
        where = f"{param}[{j}]"
        kind = as_object(part, where).get("type")
        if kind in ("text", "refusal"):
            text = as_string(part.get(kind), f"{where}.{kind}")
            if text:
                blocks.append({"type": "text", "text": text})
        elif kind == "image_url":
            blocks.append(_image_block(part, where))
        else:
            raise errors.bad_request(
                f"'{where}.type' {kind!r} is not supported for this model.", param=f"{where}.type"
            )
    return blocks


def _tool_use(call: Any, param: str) -> dict[str, Any]:
    call = as_object(call, param)
    function = as_object(call.get("function"), f"{param}.function")
    return {
        "type": "tool_use",
        "id": as_string(call.get("id"), f"{param}.id"),
        "name": as_string(function.get("name"), f"{param}.function.name"),
        # Messages needs an object; arguments a model once wrote badly cannot be sent as they are.
        "input": parsed_input(function.get("arguments")),
    }


def _turn(message: Any, param: str) -> tuple[str, list[dict[str, Any]]]:
    message = as_object(message, param)
    role = message.get("role")
    if role == "user":
        return "user", _blocks(message.get("content"), f"{param}.content")
    if role in ("system", "developer"):
        blocks = _blocks(message.get("content"), f"{param}.content")
        if any(block["type"] != "text" for block in blocks):
            raise errors.bad_request(
                f"'{param}.content': instructions are text only for this model.",
                param=f"{param}.content",
            )
        return "system", blocks
    if role == "tool":
        result: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": as_string(message.get("tool_call_id"), f"{param}.tool_call_id"),
        }
        if content := _blocks(message.get("content"), f"{param}.content"):
            single = len(content) == 1 and content[0]["type"] == "text"
            result["content"] = content[0]["text"] if single else content
        return "user", [result]
    if role == "assistant":
        blocks = _blocks(message.get("content"), f"{param}.content")
        calls = as_list(message.get("tool_calls") or [], f"{param}.tool_calls")
        blocks.extend(_tool_use(call, f"{param}.tool_calls[{k}]") for k, call in enumerate(calls))
        return "assistant", blocks
    raise errors.bad_request(
        f"'{param}.role' must be system, developer, user, assistant or tool.", param=f"{param}.role"
    )


def _messages_tool(tool: Any, param: str) -> dict[str, Any]:
    tool = as_object(tool, param)
    if tool.get("type") != "function":
        raise errors.bad_request(f"'{param}.type' must be 'function'.", param=f"{param}.type")
    function = as_object(tool.get("function"), f"{param}.function")
    translated: dict[str, Any] = {"name": as_string(function.get("name"), f"{param}.function.name")}
    if function.get("description") is not None:
        translated["description"] = as_string(
            function["description"], f"{param}.function.description"
        )
    schema = function.get("parameters")
    if schema is None:
        schema = {"type": "object", "properties": {}}
    translated["input_schema"] = as_object(schema, f"{param}.function.parameters")
    return translated


def _messages_tool_choice(value: Any, parallel: Any) -> dict[str, Any]:
    if value is None or value in ("auto", "required", "none"):
        kinds = {None: "auto", "auto": "auto", "required": "any", "none": "none"}
        choice: dict[str, Any] = {"type": kinds[value]}
    else:
        function = as_object(
            as_object(value, "tool_choice").get("function"), "tool_choice.function"
        )
        choice = {
            "type": "tool",
            "name": as_string(function.get("name"), "tool_choice.function.name"),
        }
    if parallel is False and choice["type"] != "none":
        choice["disable_parallel_tool_use"] = True
    return choice


def chat_to_messages(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A chat completions request as a Messages request; malformed input is a 400 naming it."""
    request: dict[str, Any] = {"model": as_string(payload.get("model"), "model")}
    messages = as_list(payload.get("messages"), "messages")
    if not messages:
        raise errors.bad_request("'messages' must not be empty.", param="messages")
    if payload.get("n") not in (None, 1):
        raise errors.bad_request("This model returns one choice: 'n' must be 1.", param="n")
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        role, blocks = _turn(message, f"messages[{i}]")
        if role == "system":
            # Messages takes instructions once, ahead of the turns, wherever the chat put them.
            system.extend(blocks)
        elif turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)  # Messages requires user and assistant to alternate
        elif blocks:
            turns.append({"role": role, "content": blocks})
    request["messages"] = turns
    if system:
        request["system"] = system
    request["max_tokens"] = DEFAULT_MAX_TOKENS
    for name in ("max_tokens", "max_completion_tokens"):  # the newer name wins when both are set
        if payload.get(name) is not None:
            request["max_tokens"] = as_positive_int(payload[name], name)
    stop = payload.get("stop")
    stop = [stop] if isinstance(stop, str) else as_list(stop or [], "stop")
    if stop:
        request["stop_sequences"] = [as_string(s, f"stop[{i}]") for i, s in enumerate(stop)]
    for key in ("temperature", "top_p"):
        if (value := number_member(payload, key)) is not None:
            request[key] = value
    tools = as_list(payload.get("tools") or [], "tools")
    if tools:
        request["tools"] = [_messages_tool(tool, f"tools[{i}]") for i, tool in enumerate(tools)]
        request["tool_choice"] = _messages_tool_choice(
            payload.get("tool_choice"), payload.get("parallel_tool_calls")
        )
    if stream_member(payload):
        request["stream"] = True
    if payload.get("user") is not None:
        request["metadata"] = {"user_id": as_string(payload["user"], "user")}
    # `response_format` is dropped: Messages has no JSON mode, and an instruction written into the
    # system prompt, or a forced tool whose input stands for the answer, would change what the
    # model is asked rather than how it answers.
    return request


def chat_from_message(answer: Mapping[str, Any], model: str) -> dict[str, Any]:
    """A Message as a chat completion with one choice."""
    content = answer.get("content")
    blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
    texts = [
        b["text"] for b in blocks if b.get("type") == "text" and isinstance(b.get("text"), str)
    ]
    calls = [
        {
            "id": str(b.get("id") or f"call_{uuid.uuid4().hex[:24]}"),
            "type": "function",
            "function": {
                "name": str(b.get("name") or ""),
                "arguments": json.dumps(b.get("input", {})),
            },
        }
        for b in blocks
        if b.get("type") == "tool_use"
    ]
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    elif message["content"] is None:
        message["content"] = ""
    message_id = answer.get("id")
    return {
        "id": f"chatcmpl-{message_id if isinstance(message_id, str) else uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": FINISH_REASONS.get(str(answer.get("stop_reason")), "stop"),
                "logprobs": None,
            }
        ],
        "usage": chat_usage(answer.get("usage")),
    }


def chat_usage(usage: Any) -> dict[str, Any]:
    """Messages usage as chat usage: Messages counts cached input apart, chat counts it within."""
    usage = usage if isinstance(usage, dict) else {}
    cached = token_count(usage.get("cache_read_input_tokens"))
    prompt = token_count(usage.get("input_tokens")) + cached
    prompt += token_count(usage.get("cache_creation_input_tokens"))
    completion = token_count(usage.get("output_tokens"))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }


def openai_error_from_anthropic(body: bytes) -> bytes:
    """An Anthropic error body in OpenAI's shape, message and type kept; anything else unchanged."""
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):
        return body
    error = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return body
    kind = error.get("type") if isinstance(error.get("type"), str) else "api_error"
    openai_error = {"message": error["message"], "type": kind, "param": None, "code": None}
    return json.dumps({"error": openai_error}).encode()
