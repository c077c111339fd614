"""Reading the members of another API's request (a 400 naming the member when it has the wrong
type) and of an upstream's answer (anything unexpected reads as empty), for every dialect."""

from collections.abc import Mapping
from typing import Any

from .. import errors


def as_object(value: Any, param: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise errors.bad_request(f"'{param}' must be an object.", param=param)
    return value


def as_list(value: Any, param: str) -> list[Any]:
    if not isinstance(value, list):
        raise errors.bad_request(f"'{param}' must be a list.", param=param)
    return value


def as_string(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise errors.bad_request(f"'{param}' must be a string.", param=param)
    return value


def as_positive_int(value: Any, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise errors.bad_request(f"'{param}' must be a positive integer.", param=param)
    return value


def number_member(payload: Mapping[str, Any], name: str) -> float | None:
    value = payload.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise errors.bad_request(f"'{name}' must be a number.", param=name)
    return value


def stream_member(payload: Mapping[str, Any]) -> bool:
    stream = payload.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise errors.bad_request("'stream' must be a boolean.", param="stream")
    return bool(stream)


def read_object(value: Any) -> Mapping[str, Any]:
    """A member of an upstream answer that should be an object; anything else reads as empty."""
    return value if isinstance(value, dict) else {}


def token_count(value: Any) -> int:
    """A token count from an upstream answer; anything but a count reads as 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
