"""OpenAI's Responses API (`POST /v1/responses`) served by a chat completions upstream: the request
becomes a chat completions request, the chat answer becomes a Response object (streams: see
`responses_stream`), and `conversation_after` gives the chat messages to keep for a follow-up that
names this response as its `previous_response_id`.

Only function tools cross over: built-in tools (web search, file search, computer use...) would need
the gateway to run them. Refused with a 400: any other tool, input items other than messages,
function calls and their outputs, images by `file_id`, files other than inline `file_data`,
`conversation` and `prompt` (the gateway keeps no conversations or prompts under those names).

Dropped from the request, because a chat upstream has no counterpart or the caller handles them:
`store`, `metadata`, `reasoning`, `truncation`, `include`, `background`, `previous_response_id` (the
caller turns it into `history`), `text.verbosity`, `top_logprobs`, `max_tool_calls`,
`stream_options`, and any member not named here. The Response object still echoes what the SDK
types expect (`metadata`, `store`, `text`, `tools`...)."""

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from .. import errors
from .members import as_object, as_string
from .responses_stream import (
    ChatStreamAsResponses,
    fallback_call_id,
    function_call_id,
    function_call_item,
    message_id,
    message_item,
    outcome,
    output_part,
    response_object,
    response_usage,
)

# Members with the same name and meaning in both APIs, with what each must be.
_KEPT: dict[str, tuple[tuple[type, ...], str]] = {
    "temperature": ((int, float), "a number"),
    "top_p": ((int, float), "a number"),
    "parallel_tool_calls": ((bool,), "a boolean"),
    "user": ((str,), "a string"),
    "prompt_cache_key": ((str,), "a string"),
    "safety_identifier": ((str,), "a string"),
    "service_tier": ((str,), "a string"),
}
# Members not sent upstream but echoed in the Response object, so they must parse there too.
_ECHOED: dict[str, tuple[tuple[type, ...], str]] = {
    "instructions": ((str,), "a string"),
    "previous_response_id": ((str,), "a string"),
    "store": ((bool,), "a boolean"),
    "stream": ((bool,), "a boolean"),
}
_REFUSED = ("conversation", "prompt")
# Chat upstreams other than OpenAI's rarely know the `developer` role; `system` means the same.
_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
_IMAGE_DETAILS = ("auto", "low", "high")
_TOOL_CHOICES = ("auto", "none", "required")
_VERBOSITIES = ("low", "medium", "high")


def new_response_id() -> str:
    return f"resp_{uuid.uuid4().hex}"


def _check(payload: Mapping[str, Any], name: str, kinds: tuple[type, ...], what: str) -> None:
    value = payload.get(name)
    if value is None:
        return
    # bool is an int to Python, never a number to a client.
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise errors.bad_request(f"'{name}' must be {what}.", param=name)


def _part(part: Any, param: str) -> dict[str, Any]:
    part = as_object(part, param)
    kind = part.get("type")
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": as_string(part.get("text"), f"{param}.text")}
    if kind == "refusal":
        return {"type": "refusal", "refusal": as_string(part.get("refusal"), f"{param}.refusal")}
    if kind == "input_image":
        if part.get("file_id") is not None:
            raise errors.bad_request(
                "Images by file_id are not supported here; send image_url (a URL or a data URL).",
                param=f"{param}.file_id",
            )
        image = {"url": as_string(part.get("image_url"), f"{param}.image_url")}
        detail = part.get("detail")
        if isinstance(detail, str) and detail in _IMAGE_DETAILS:
            image["detail"] = detail
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        if part.get("file_data") is None:
            raise errors.bad_request(
                "Files are supported here only inline, as file_data.", param=f"{param}.file_data"
            )
        file = {"file_data": as_string(part.get("file_data"), f"{param}.file_data")}
        if part.get("filename") is not None:
            file["filename"] = as_string(part.get("filename"), f"{param}.filename")
        return {"type": "file", "file": file}
    raise errors.bad_request(
        f"'{param}.type' must be input_text, output_text, refusal, input_image or input_file.",
        param=f"{param}.type",
    )


def _content(content: Any, param: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise errors.bad_request(
            f"'{param}' must be a string or a list of content parts.", param=param
        )
    parts = [_part(part, f"{param}[{index}]") for index, part in enumerate(content)]
    # A lone text part as a plain string: the shape every chat upstream reads.
    if len(parts) == 1 and parts[0]["type"] == "text":
        return str(parts[0]["text"])
    return parts


def _tool_output(output: Any, param: str) -> str | list[dict[str, Any]]:
    content = _content(output, param)
    if isinstance(content, list) and any(part["type"] != "text" for part in content):
        raise errors.bad_request(
            f"'{param}' may hold only text for this model (a chat tool message).", param=param
        )
    return content


def _function_call(item: Mapping[str, Any], param: str) -> dict[str, Any]:
    return {
        "id": as_string(item.get("call_id"), f"{param}.call_id"),
        "type": "function",
        "function": {
            "name": as_string(item.get("name"), f"{param}.name"),
            "arguments": as_string(item.get("arguments"), f"{param}.arguments"),
        },
    }


def _input_messages(items: Any) -> list[dict[str, Any]]:
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    if not isinstance(items, list):
        raise errors.bad_request("'input' must be a string or a list of items.", param="input")
    messages: list[dict[str, Any]] = []
    for index, raw in enumerate(items):
        param = f"input[{index}]"
        item = as_object(raw, param)
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if not isinstance(role, str) or role not in _ROLES:
                raise errors.bad_request(
                    f"'{param}.role' must be user, assistant, system or developer.",
                    param=f"{param}.role",
                )
            content = _content(item.get("content"), f"{param}.content")
            messages.append({"role": _ROLES[role], "content": content})
        elif kind == "function_call":
            call = _function_call(item, param)
            # Chat carries a turn's text and its tool calls in one assistant message.
            if messages and messages[-1]["role"] == "assistant":
                messages[-1].setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": as_string(item.get("call_id"), f"{param}.call_id"),
                    "content": _tool_output(item.get("output"), f"{param}.output"),
                }
            )
        else:
            raise errors.bad_request(
                f"Input items of type {kind!r} are not supported here: only messages, "
                "function_call and function_call_output items.",
                param="input",
            )
    return messages


def _tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise errors.bad_request("'tools' must be a list.", param="tools")
    translated = []
    for index, raw in enumerate(tools):
        param = f"tools[{index}]"
        tool = as_object(raw, param)
        if tool.get("type") != "function":
            raise errors.bad_request(
                f"Only function tools can be used with this model; {tool.get('type')!r} is a "
                "built-in tool this gateway cannot run.",
                param="tools",
            )
        function: dict[str, Any] = {"name": as_string(tool.get("name"), f"{param}.name")}
        if tool.get("description") is not None:
            function["description"] = as_string(tool["description"], f"{param}.description")
        if tool.get("parameters") is not None:
            function["parameters"] = as_object(tool["parameters"], f"{param}.parameters")
        if tool.get("strict") is not None:
            if not isinstance(tool["strict"], bool):
                raise errors.bad_request(
                    f"'{param}.strict' must be a boolean.", param=f"{param}.strict"
                )
            function["strict"] = tool["strict"]
        translated.append({"type": "function", "function": function})
    return translated


def _tool_choice(choice: Any) -> str | dict[str, Any]:
    if isinstance(choice, str) and choice in _TOOL_CHOICES:
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {
            "type": "function",
            "function": {"name": as_string(choice.get("name"), "tool_choice.name")},
        }
    raise errors.bad_request(
        '\'tool_choice\' must be auto, none, required or {"type": "function", "name": ...}.',
        param="tool_choice",
    )


def _response_format(text: Any) -> dict[str, Any] | None:
    text = as_object(text, "text")
    verbosity = text.get("verbosity")
    if verbosity is not None and not (isinstance(verbosity, str) and verbosity in _VERBOSITIES):
        raise errors.bad_request("'text.verbosity' must be low, medium or high.", param="text")
    if text.get("format") is None:
        return None
    form = as_object(text["format"], "text.format")
    kind = form.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema: dict[str, Any] = {
            "name": as_string(form.get("name"), "text.format.name"),
            "schema": as_object(form.get("schema"), "text.format.schema"),
        }
        if form.get("description") is not None:
            schema["description"] = as_string(form["description"], "text.format.description")
        if form.get("strict") is not None:
            if not isinstance(form["strict"], bool):
                raise errors.bad_request(
                    "'text.format.strict' must be a boolean.", param="text.format.strict"
                )
            schema["strict"] = form["strict"]
        return {"type": "json_schema", "json_schema": schema}
    raise errors.bad_request(
        "'text.format.type' must be text, json_schema or json_object.", param="text.format.type"
    )


def _check_request(payload: Mapping[str, Any]) -> None:
    for name in _REFUSED:
        if payload.get(name) is not None:
            raise errors.bad_request(f"'{name}' is not supported by this gateway.", param=name)
    as_string(payload.get("model"), "model")
    for name, (kinds, what) in (_KEPT | _ECHOED).items():
        _check(payload, name, kinds, what)
    limit = payload.get("max_output_tokens")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise errors.bad_request(
            "'max_output_tokens' must be a positive integer.", param="max_output_tokens"
        )
    metadata = payload.get("metadata")
    if metadata is not None and not (
        isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())
    ):
        raise errors.bad_request("'metadata' must be an object of strings.", param="metadata")


def responses_to_chat(
    payload: Mapping[str, Any], history: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """A Responses create request as a chat completions request. `history` (chat messages of the
    previous response chain) goes after the instructions and before the new input."""
    if not isinstance(payload, Mapping):
        raise errors.bad_request("The request body must be a JSON object.")
    _check_request(payload)
    messages: list[dict[str, Any]] = []
    if has_instructions(payload.get("instructions")):
        messages.append({"role": "system", "content": payload["instructions"]})
    messages.extend(dict(message) for message in history)
    new = _input_messages(payload.get("input"))
    if not new:
        raise errors.bad_request("'input' must hold at least one item.", param="input")
    messages.extend(new)
    chat: dict[str, Any] = {"model": payload["model"], "messages": messages}
    if payload.get("tools"):
        chat["tools"] = _tools(payload["tools"])
    if payload.get("tool_choice") is not None:
        chat["tool_choice"] = _tool_choice(payload["tool_choice"])
    if payload.get("text") is not None:
        response_format = _response_format(payload["text"])
        if response_format is not None:
            chat["response_format"] = response_format
    if payload.get("max_output_tokens") is not None:
        chat["max_completion_tokens"] = payload["max_output_tokens"]
    for name in _KEPT:
        if payload.get(name) is not None:
            chat[name] = payload[name]
    if payload.get("stream"):
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def has_instructions(instructions: Any) -> bool:
    """Whether `instructions` became the chat request's first (system) message."""
    return isinstance(instructions, str) and bool(instructions)


def conversation_after(
    chat_request: Mapping[str, Any], response: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The chat messages to keep for a follow-up naming `response` as its previous response: the
    request's messages without the instructions (which a follow-up does not inherit; the response
    echoes them, which is how they are recognised), then the response's assistant message."""
    messages = [dict(m) for m in chat_request.get("messages") or () if isinstance(m, Mapping)]
    instructions = response.get("instructions")
    if has_instructions(instructions) and messages[:1] == [
        {"role": "system", "content": instructions}
    ]:
        messages = messages[1:]
    messages.append(_assistant_message(response.get("output") or ()))
    return messages


def _assistant_message(output: Sequence[Any]) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in output:
        if not isinstance(item, Mapping):
            continue
        if item.get("type") == "message":
            texts.extend(
                part["text"]
                for part in item.get("content") or ()
                if isinstance(part, Mapping) and part.get("type") == "output_text"
            )
        elif item.get("type") == "function_call":
            function = {"name": item.get("name"), "arguments": item.get("arguments")}
            calls.append({"id": item.get("call_id"), "type": "function", "function": function})
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    elif message["content"] is None:
        message["content"] = ""
    return message


def _answer_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # some upstreams answer in content parts
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    return ""


def response_from_chat(
    answer: Mapping[str, Any], request: Mapping[str, Any], *, response_id: str, created_at: int
) -> dict[str, Any]:
    """A chat completion as the Response object of `request` (the Responses request)."""
    choices = answer.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else {}
    choice = choice if isinstance(choice, Mapping) else {}
    message = choice.get("message")
    message = message if isinstance(message, Mapping) else {}
    parts = []
    if text := _answer_text(message.get("content")):
        parts.append(output_part("output_text", text))
    if isinstance(refusal := message.get("refusal"), str) and refusal:
        parts.append(output_part("refusal", refusal))
    output = [message_item(message_id(response_id), parts, "completed")] if parts else []
    calls = message.get("tool_calls")
    for index, call in enumerate(calls if isinstance(calls, list) else ()):
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping):
            continue
        call_id, arguments = call.get("id"), function.get("arguments", "")
        output.append(
            function_call_item(
                function_call_id(response_id, index),
                call_id if isinstance(call_id, str) else fallback_call_id(response_id, index),
                str(function.get("name") or ""),
                arguments if isinstance(arguments, str) else json.dumps(arguments),
                "completed",
            )
        )
    status, incomplete = outcome(choice.get("finish_reason"))
    if incomplete and output:
        output[-1]["status"] = "incomplete"
    model = answer.get("model")
    return response_object(
        request,
        response_id=response_id,
        created_at=created_at,
        model=model if isinstance(model, str) else str(request.get("model", "")),
        status=status,
        output=output,
        usage=response_usage(answer.get("usage")),
        incomplete_details=incomplete,
    )


__all__ = [
    "ChatStreamAsResponses",
    "conversation_after",
    "new_response_id",
    "response_from_chat",
    "responses_to_chat",
]
