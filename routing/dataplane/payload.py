"""Reading a client request: the model name and the JSON payload, checked, without altering it.

What is refused here never reaches an upstream, with a 400 in OpenAI's shape naming the member:
a body that is not UTF-8 JSON (NaN and Infinity included, which are not JSON), a payload that is not
an object or nests more than MAX_DEPTH levels, and the members the gateway itself reads or that no
upstream could take:
- `model` (required): a non-empty string of at most 256 characters, without control characters;
- when present: `stream` a boolean (or null), `stream_options` and `response_format` objects, chat
  `messages` a list of objects, `max_tokens` / `max_completion_tokens` integers in range.
Every other member belongs to the upstream and is passed on unchecked and unchanged, as are the
bytes of the body, unless the instance is asked for another model name upstream (`for_instance`).
"""

import json
from collections.abc import Callable
from typing import Any, NoReturn

from django.conf import settings
from django.http import HttpRequest

from routing.config_schema import CONTROL_CHARACTERS
from routing.snapshot import InstanceSpec

from . import errors, multipart
from .endpoints import Endpoint

MAX_MODEL_LENGTH = 256
# Far deeper than any request schema, far shallower than where Python's JSON encoder (the neural
# router's and the fallbacks' rewritten bodies, Ollama's translation) would run out of stack.
MAX_DEPTH = 128


def _not_json(constant: str) -> NoReturn:
    raise ValueError(f"{constant} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_not_json)

Check = Callable[[str, Any], None]


def _wrong_type(member: str, expected: str) -> errors.GatewayError:
    return errors.bad_request(
        f"The member '{member}' must be {expected}.", param=member, code="invalid_type"
    )


def _boolean(member: str, value: Any) -> None:
    if value is not None and not isinstance(value, bool):
        raise _wrong_type(member, "true or false")


def _object(member: str, value: Any) -> None:
    if value is not None and not isinstance(value, dict):
        raise _wrong_type(member, "an object")


def _messages(member: str, value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(m, dict) for m in value):
        raise _wrong_type(member, "a list of message objects")


def _token_count(minimum: int) -> Check:
    def check(member: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong_type(member, "an integer")
        ceiling = settings.GATEWAY_MAX_OUTPUT_TOKENS
        if not minimum <= value <= ceiling:
            raise errors.bad_request(
                f"The member '{member}' must be between {minimum} and {ceiling}; got {value}.",
                param=member,
                code="invalid_value",
            )

    return check


_COMMON: dict[str, Check] = {"stream": _boolean, "stream_options": _object}
# Members checked per route (beyond `model`) when present; their absence is the upstream's business.
_MEMBERS: dict[str, dict[str, Check]] = {
    "chat/completions": {
        **_COMMON,
        "messages": _messages,
        "response_format": _object,
        "max_tokens": _token_count(1),
        "max_completion_tokens": _token_count(1),
    },
    # 0 is meaningful for legacy completions: with `echo`, it scores a prompt.
    "completions": {**_COMMON, "max_tokens": _token_count(0)},
}


def checked_model(model: Any) -> str:
    if not isinstance(model, str):
        raise _wrong_type("model", "a string")
    if not model:
        raise errors.bad_request("The member 'model' is required.", param="model")
    if len(model) > MAX_MODEL_LENGTH:
        raise errors.bad_request(
            f"The model name is longer than {MAX_MODEL_LENGTH} characters.", param="model"
        )
    if CONTROL_CHARACTERS.search(model):
        raise errors.bad_request("The model name contains control characters.", param="model")
    return model


def _nested_deeper_than(payload: Any, limit: int) -> bool:
    pending = [(payload, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > limit:
            return True
        for child in value.values() if isinstance(value, dict) else value:
            if isinstance(child, dict | list):
                pending.append((child, depth + 1))
    return False


def _too_deep() -> errors.GatewayError:
    return errors.bad_request(f"The request body is nested more than {MAX_DEPTH} levels deep.")


def parse_json(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.bad_request("The request body is not valid UTF-8.") from None
    try:
        payload = _DECODER.decode(text)
    except ValueError:
        raise errors.bad_request("The request body is not valid JSON.") from None
    except RecursionError:
        raise _too_deep() from None
    if not isinstance(payload, dict):
        raise errors.bad_request("The request body must be a JSON object.")
    # Counting brackets (C speed) spares nearly every request the walk.
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and _nested_deeper_than(payload, MAX_DEPTH):
        raise _too_deep()
    return payload


def _check_members(route: str, payload: dict[str, Any]) -> None:
    for member, check in _MEMBERS.get(route, _COMMON).items():
        if member in payload:
            check(member, payload[member])


def _multipart_model(request: HttpRequest, body: bytes) -> str:
    boundary = multipart.boundary_of(request.headers.get("content-type", ""))
    parts = multipart.parse_parts(body, boundary)
    model = multipart.text_field(body, parts, "model")
    if model is None or not model.strip():
        raise errors.bad_request("The form field 'model' is required.", param="model")
    return checked_model(model.strip())


def parse_model(
    endpoint: Endpoint, request: HttpRequest, body: bytes
) -> tuple[str, dict[str, Any] | None]:
    """(model, JSON payload or None for multipart). The bytes sent upstream stay the client's."""
    if endpoint.multipart:
        return _multipart_model(request, body), None
    payload = parse_json(body)
    if "model" not in payload:
        raise errors.bad_request("The member 'model' is required.", param="model")
    model = checked_model(payload["model"])
    _check_members(endpoint.route, payload)
    return model, payload


def for_instance(
    body: bytes, payload: dict[str, Any] | None, instance: InstanceSpec
) -> tuple[bytes, dict[str, Any] | None]:
    """The request as the instance must read it, naming the model it is asked for upstream: the
    one the router chose, the model an alias stands for, the instance's `upstreamModel`. A form
    body (multipart) goes as sent."""
    model = instance.sent_model
    if payload is None or payload.get("model") == model:
        return body, payload
    renamed = {**payload, "model": model}
    return json.dumps(renamed, separators=(",", ":")).encode(), renamed
