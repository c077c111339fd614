"""Anthropic's Messages API served by chat completions upstreams: requests translated to chat,
answers and errors translated back. The other way round is `anthropic_upstream`; streams, both
ways, are `anthropic_stream`."""

import json
import math
import uuid
from collections.abc import Mapping
from typing import Any

from .. import errors
from .members import (
    as_list,
    as_object,
    as_positive_int,
    as_string,
    number_member,
    read_object,
    stream_member,
    token_count,
)

# Anthropic counts an image by its pixels (about 1,600 tokens at the largest size it keeps);
# the request does not say the size, so the estimate assumes the largest.
IMAGE_TOKENS = 1600
CHARS_PER_TOKEN = 4

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}


def _texts(content: Any, param: str) -> list[str]:
    """A string, or a list of text blocks (or parts): both APIs use this shape for instructions."""
    if isinstance(content, str):
        return [content]
    texts = []
    for j, block in enumerate(as_list(content, param)):
        block = as_object(block, f"{param}[{j}]")
        if block.get("type") != "text":
            raise errors.bad_request(f"'{param}[{j}]' must be a text block.", param=f"{param}[{j}]")
        texts.append(as_string(block.get("text"), f"{param}[{j}].text"))
    return texts


def _image_part(block: Mapping[str, Any], param: str) -> dict[str, Any]:
    source = as_object(block.get("source"), f"{param}.source")
    if source.get("type") == "base64":
        media_type = as_string(source.get("media_type"), f"{param}.source.media_type")
        data = as_string(source.get("data"), f"{param}.source.data")
        url = f"data:{media_type};base64,{data}"
    elif source.get("type") == "url":
        url = as_string(source.get("url"), f"{param}.source.url")
    else:
        raise errors.bad_request(
            f"'{param}.source.type' must be 'base64' or 'url' for this model.",
            param=f"{param}.source.type",
        )
    return {"type": "image_url", "image_url": {"url": url}}


def _chat_content(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    if len(parts) == 1 and parts[0]["type"] == "text":
        return str(parts[0]["text"])
    return parts


def _tool_message(block: Mapping[str, Any], param: str) -> tuple[dict[str, Any], list[Any]]:
    """A tool_result block as a tool message, and the images it carried: a tool message holds
    only text, so they move to the user message that follows."""
    tool_use_id = as_string(block.get("tool_use_id"), f"{param}.tool_use_id")
    content = block.get("content") or ""
    texts, images = [], []
    if isinstance(content, str):
        texts.append(content)
    else:
        for k, part in enumerate(as_list(content, f"{param}.content")):
            part = as_object(part, f"{param}.content[{k}]")
            if part.get("type") == "image":
                images.append(_image_part(part, f"{param}.content[{k}]"))
            else:
                texts.extend(_texts([part], f"{param}.content[{k}]"))
    text = "\n".join(texts)
    # A tool message has no error flag: the model learns of the failure from the text.
    if block.get("is_error") is True:
        text = f"Error: {text}"
    return {"role": "tool", "tool_call_id": tool_use_id, "content": text}, images


def _tool_call(block: Mapping[str, Any], param: str) -> dict[str, Any]:
    arguments = as_object(block.get("input", {}), f"{param}.input")
    return {
        "id": as_string(block.get("id"), f"{param}.id"),
        "type": "function",
        "function": {
            "name": as_string(block.get("name"), f"{param}.name"),
            "arguments": json.dumps(arguments),
        },
    }


def _chat_turn(message: Any, param: str) -> list[dict[str, Any]]:
    """One Messages turn as chat messages: a user turn's tool results become tool messages ahead
    of what else it says."""
    message = as_object(message, param)
    role = message.get("role")
    if role not in ("user", "assistant"):
        raise errors.bad_request(
            f"'{param}.role' must be 'user' or 'assistant'.", param=f"{param}.role"
        )
    content = message.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    tools, parts, calls = [], [], []
    for j, block in enumerate(as_list(content, f"{param}.content")):
        where = f"{param}.content[{j}]"
        kind = as_object(block, where).get("type")
        if kind == "text":
            parts.append({"type": "text", "text": as_string(block.get("text"), f"{where}.text")})
        elif kind == "image" and role == "user":
            parts.append(_image_part(block, where))
        elif kind == "tool_result" and role == "user":
            tool, images = _tool_message(block, where)
            tools.append(tool)
            parts.extend(images)
        elif kind == "tool_use" and role == "assistant":
            calls.append(_tool_call(block, where))
        elif kind in ("thinking", "redacted_thinking") and role == "assistant":
            continue  # earlier reasoning, signed for Anthropic's models: a chat upstream has no use
        else:
            raise errors.bad_request(
                f"'{where}.type' {kind!r} is not supported in a {role} turn for this model.",
                param=f"{where}.type",
            )
    if role == "assistant":
        reply: dict[str, Any] = {"role": "assistant", "content": _chat_content(parts) or None}
        if calls:
            reply["tool_calls"] = calls
        elif reply["content"] is None:
            reply["content"] = ""
        return [reply]
    return [*tools, {"role": "user", "content": _chat_content(parts)}] if parts else tools


def _chat_messages(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    messages = as_list(payload.get("messages"), "messages")
    if not messages:
        raise errors.bad_request("'messages' must not be empty.", param="messages")
    chat = []
    if payload.get("system") is not None:
        system = "\n\n".join(_texts(payload["system"], "system"))
        chat.append({"role": "system", "content": system})
    for i, message in enumerate(messages):
        chat.extend(_chat_turn(message, f"messages[{i}]"))
    return chat


def _function_tool(tool: Any, param: str) -> dict[str, Any]:
    tool = as_object(tool, param)
    if tool.get("type", "custom") not in ("custom", None):
        raise errors.bad_request(
            f"'{param}.type' {tool.get('type')!r}: this model runs client tools only.",
            param=f"{param}.type",
        )
    function: dict[str, Any] = {"name": as_string(tool.get("name"), f"{param}.name")}
    if tool.get("description") is not None:
        function["description"] = as_string(tool["description"], f"{param}.description")
    function["parameters"] = as_object(tool.get("input_schema"), f"{param}.input_schema")
    return {"type": "function", "function": function}


def _chat_tools(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    tools = as_list(payload.get("tools") or [], "tools")
    return [_function_tool(tool, f"tools[{i}]") for i, tool in enumerate(tools)]


def _chat_tool_choice(request: dict[str, Any], value: Any) -> None:
    choice = as_object(value, "tool_choice")
    kind = choice.get("type")
    if kind == "tool":
        name = as_string(choice.get("name"), "tool_choice.name")
        request["tool_choice"] = {"type": "function", "function": {"name": name}}
    elif kind in _TOOL_CHOICES:
        request["tool_choice"] = _TOOL_CHOICES[kind]
    else:
        raise errors.bad_request(
            "'tool_choice.type' must be 'auto', 'any', 'tool' or 'none'.", param="tool_choice.type"
        )
    if choice.get("disable_parallel_tool_use") is True and kind != "none":
        request["parallel_tool_calls"] = False


def messages_to_chat(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A Messages request as a chat completions request; malformed input is a 400 naming it."""
    request: dict[str, Any] = {"model": as_string(payload.get("model"), "model")}
    request["messages"] = _chat_messages(payload)
    request["max_tokens"] = as_positive_int(payload.get("max_tokens"), "max_tokens")
    stop = as_list(payload.get("stop_sequences") or [], "stop_sequences")
    if stop:
        request["stop"] = [as_string(s, f"stop_sequences[{i}]") for i, s in enumerate(stop)]
    for name in ("temperature", "top_p"):
        if (value := number_member(payload, name)) is not None:
            request[name] = value
    # `top_k` has no chat completions counterpart; it is left out rather than sent as an
    # extension some upstreams would reject.
    if tools := _chat_tools(payload):
        request["tools"] = tools
    if payload.get("tool_choice") is not None:
        _chat_tool_choice(request, payload["tool_choice"])
    if stream_member(payload):
        request["stream"] = True
        request["stream_options"] = {"include_usage": True}
    metadata = as_object(payload.get("metadata") or {}, "metadata")
    if metadata.get("user_id") is not None:
        request["user"] = as_string(metadata["user_id"], "metadata.user_id")
    return request


def count_tokens(payload: Mapping[str, Any]) -> int:
    """An estimate of a Messages request's input tokens: about 4 characters a token over the
    system, the messages' text and tool calls and the tool definitions, plus `IMAGE_TOKENS` an
    image; at least 1."""
    as_string(payload.get("model"), "model")
    chars, images = 0, 0
    for message in _chat_messages(payload):
        content = message.get("content")
        for part in [content] if isinstance(content, str) else content or []:
            if isinstance(part, str):
                chars += len(part)
            elif part["type"] == "text":
                chars += len(part["text"])
            else:
                images += 1
        for call in message.get("tool_calls", []):
            chars += len(call["function"]["name"]) + len(call["function"]["arguments"])
    chars += sum(len(json.dumps(tool["function"])) for tool in _chat_tools(payload))
    return max(1, math.ceil(chars / CHARS_PER_TOKEN) + images * IMAGE_TOKENS)


def _answer_text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    if not content and isinstance(message.get("refusal"), str):
        return str(message["refusal"])
    return content if isinstance(content, str) else ""


def parsed_input(arguments: Any) -> dict[str, Any]:
    try:
        parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
    except (ValueError, RecursionError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def message_from_chat(answer: Mapping[str, Any], model: str) -> dict[str, Any]:
    """A chat completion as a Message; whatever the upstream left out reads as empty."""
    choices = answer.get("choices")
    choice = read_object(choices[0] if isinstance(choices, list) and choices else None)
    message = read_object(choice.get("message"))
    content: list[dict[str, Any]] = []
    if text := _answer_text(message):
        content.append({"type": "text", "text": text})
    calls = message.get("tool_calls")
    for call in calls if isinstance(calls, list) else []:
        function = read_object(read_object(call).get("function"))
        if not function:
            continue
        call_id = call.get("id")
        content.append(
            {
                "type": "tool_use",
                "id": call_id if isinstance(call_id, str) else f"toolu_{uuid.uuid4().hex[:24]}",
                "name": str(function.get("name") or ""),
                "input": parsed_input(function.get("arguments")),
            }
        )
    stop_reason = STOP_REASONS.get(str(choice.get("finish_reason")), "end_turn")
    # Some servers finish a turn of tool calls with "stop"; the client must still run them.
    if stop_reason == "end_turn" and any(block["type"] == "tool_use" for block in content):
        stop_reason = "tool_use"
    usage = read_object(answer.get("usage"))
    completion_id = answer.get("id")
    return {
        "id": f"msg_{completion_id if isinstance(completion_id, str) else uuid.uuid4().hex}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,  # a chat completion does not say which stop sequence it met
        "usage": {
            "input_tokens": token_count(usage.get("prompt_tokens")),
            "output_tokens": token_count(usage.get("completion_tokens")),
        },
    }


def error_type(status: int) -> str:
    """Anthropic's error type for an HTTP status."""
    return _ERROR_TYPES.get(status) or ("api_error" if status >= 500 else "invalid_request_error")


def error_body(status: int, message: str) -> bytes:
    """An error in Anthropic's shape."""
    error = {"type": error_type(status), "message": message}
    return json.dumps({"type": "error", "error": error}).encode()


def error_from_openai(status: int, body: bytes) -> bytes:
    """An OpenAI-shaped error (or any body at all) in Anthropic's shape, its message kept."""
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):
        answer = None
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error_body(status, error["message"])
    if isinstance(error, str):
        return error_body(status, error)
    text = body.decode("utf-8", "replace").strip()[:2000]
    return error_body(status, text or f"The upstream answered with status {status}.")
