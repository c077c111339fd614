"""Which tool a request has the simulated backend call, and with what arguments.

The call is deterministic so tests can compare: the first tool (or the one the request's tool choice
names), with arguments that fill the tool's schema (`arguments_for`). Requests are any JSON a client
sent, so every member is checked before use.
"""

import json
from typing import Any

CHAT_CALL_ID = "call_fake_1"
MESSAGES_CALL_ID = "toolu_fake_1"
_SCALARS = {"number": 1, "integer": 1, "boolean": True}


def arguments_for(schema: Any) -> dict[str, Any]:
    """An object filling `schema`'s properties: the first string "Paris", later ones "x", numbers
    1, booleans true, anything else null."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return {}
    arguments: dict[str, Any] = {}
    strings = 0
    for name, prop in properties.items():
        kind = _type_of(prop)
        if kind == "string":
            arguments[name] = "Paris" if strings == 0 else "x"
            strings += 1
        else:
            arguments[name] = _SCALARS.get(kind or "")
    return arguments


def halves(text: str) -> list[str]:
    """`text` in two pieces, as a streamed tool call's arguments arrive."""
    middle = len(text) // 2
    return [text[:middle], text[middle:]]


def chat_call(request: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The (name, arguments) a chat completion request is answered with, or None for text.

    Text when there are no function tools, `tool_choice` is "none", or the last message is a tool
    result (the turn after a call).
    """
    tools: dict[str, Any] = {}
    for tool in _list(request.get("tools")):
        function = _member(tool, "function")
        name = _member(function, "name")
        if _member(tool, "type") == "function" and isinstance(name, str) and name:
            tools.setdefault(name, function.get("parameters"))
    if not tools:
        return None
    choice = request.get("tool_choice")
    if choice == "none":
        return None
    messages = _list(request.get("messages"))
    if messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "tool":
        return None
    named = _member(_member(choice, "function"), "name")
    name = named if isinstance(named, str) and named else next(iter(tools))
    return name, arguments_for(tools.get(name))


def messages_call(request: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The (name, arguments) an Anthropic Messages request is answered with, or None for text.

    Text when there are no client tools, `tool_choice` is `{"type": "none"}`, or the last user
    message holds a `tool_result` block.
    """
    tools: dict[str, Any] = {}
    for tool in _list(request.get("tools")):
        name = _member(tool, "name")
        # Server tools (web search, code execution) run at Anthropic; only client tools are called.
        if _member(tool, "type") in (None, "custom") and isinstance(name, str) and name:
            tools.setdefault(name, tool.get("input_schema"))
    if not tools:
        return None
    choice = request.get("tool_choice")
    if _member(choice, "type") == "none":
        return None
    users = [m for m in _list(request.get("messages")) if _member(m, "role") == "user"]
    if users and any(_member(block, "type") == "tool_result" for block in _blocks(users[-1])):
        return None
    named = _member(choice, "name") if _member(choice, "type") == "tool" else None
    name = named if isinstance(named, str) and named else next(iter(tools))
    return name, arguments_for(tools.get(name))


def serialised(arguments: dict[str, Any]) -> str:
    return json.dumps(arguments)


def _type_of(prop: Any) -> str | None:
    kind = _member(prop, "type")
    if isinstance(kind, list):
        # ["string", "null"] is how schemas spell an optional string.
        kind = next((k for k in kind if isinstance(k, str) and k != "null"), None)
    return kind if isinstance(kind, str) else None


def _blocks(message: Any) -> list[Any]:
    return _list(_member(message, "content"))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _member(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, dict) else None
