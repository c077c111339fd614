"""Validation and canonical form of the nested parts of a service's configuration.

Each `clean_*` takes what a client (or a snapshot file, or the admin) sent and returns the canonical
dict stored in the database, every key present with its default, so that two equal configurations
compare equal and "nothing changed" is detectable. Errors are Django ValidationErrors keyed by the
API's field path (`rateLimit.capacity`), which the envelope reports field by field.
"""

import math
import re
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from . import destinations
from .service_types import RateLimitAlgorithm, RateLimitScope, ServiceKind

DEFAULT_BREAKER = {
    "enabled": True,
    "failureThreshold": 5,
    "recoveryTimeout": 30000,
    "successThreshold": 2,
}
# Header names whose values are credentials: stored, sent upstream, only ever shown masked.
SECRET_HEADER = re.compile(r"(?i)(auth|key|token|secret|cookie|passw|credential|session|signature)")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# C0 and C1 controls, DEL and the Unicode line separators: they would split a header or a log line.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# A header value may hold a tab, nothing else below the space.
_HEADER_VALUE_FORBIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def _choice(value: Any, allowed: type, field: str) -> str:
    options = [member.value for member in allowed]  # type: ignore[attr-defined]
    if value not in options:
        raise ValidationError({field: [f"Must be one of {', '.join(options)}; got {value!r}."]})
    return str(value)


def _number(
    data: dict[str, Any], key: str, prefix: str, *, default: Any, minimum: float, integer: bool
) -> Any:
    value = data.get(key, default)
    field = f"{prefix}.{key}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError({field: ["Must be a number."]})
    if integer and not float(value).is_integer():
        raise ValidationError({field: ["Must be a whole number."]})
    if not math.isfinite(value) or value < minimum:
        raise ValidationError({field: [f"Must be at least {minimum:g}."]})
    return int(value) if integer else float(value)


def _has_nul(value: Any) -> bool:
    """PostgreSQL cannot store U+0000 in text or jsonb: a NUL anywhere is refused up front."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _object(value: Any, field: str, known: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError({field: ["Must be an object."]})
    unknown = sorted(set(value) - known)
    if unknown:
        raise ValidationError({f"{field}.{unknown[0]}": ["Unknown field."]})
    return value


def service_type_name(value: Any) -> str:
    return _choice(value, ServiceKind, "serviceType")


def clean_rate_limit(value: Any, field: str = "rateLimit") -> dict[str, Any] | None:
    if value is None:
        return None
    data = _object(
        value,
        field,
        {"algorithm", "capacity", "refillRate", "scope", "windowSeconds", "warmUpSeconds"},
    )
    if "algorithm" not in data:
        raise ValidationError({f"{field}.algorithm": ["This field is required."]})
    algorithm = _choice(data["algorithm"], RateLimitAlgorithm, f"{field}.algorithm")
    if "capacity" not in data:
        raise ValidationError({f"{field}.capacity": ["This field is required."]})
    capacity = _number(data, "capacity", field, default=None, minimum=1, integer=True)
    return {
        "algorithm": algorithm,
        "capacity": capacity,
        "refillRate": _number(
            data, "refillRate", field, default=capacity, minimum=1e-9, integer=False
        ),
        "scope": _choice(data.get("scope", "service"), RateLimitScope, f"{field}.scope"),
        "windowSeconds": _number(
            data, "windowSeconds", field, default=1.0, minimum=0.001, integer=False
        ),
        "warmUpSeconds": _number(
            data, "warmUpSeconds", field, default=10.0, minimum=0.001, integer=False
        ),
    }


def clean_breaker(value: Any, field: str = "circuitBreaker") -> dict[str, Any]:
    data = _object({} if value is None else value, field, set(DEFAULT_BREAKER))
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ValidationError({f"{field}.enabled": ["Must be true or false."]})
    numbers = {
        key: _number(data, key, field, default=DEFAULT_BREAKER[key], minimum=1, integer=True)
        for key in ("failureThreshold", "recoveryTimeout", "successThreshold")
    }
    return {"enabled": enabled, **numbers}


def clean_fallback(value: Any, field: str = "fallback") -> dict[str, Any] | None:
    if value is None:
        return None
    data = _object(value, field, {"models", "response"})
    models = data.get("models", [])
    if not isinstance(models, list) or not all(
        isinstance(m, str) and m.strip() and not _has_nul(m) for m in models
    ):
        raise ValidationError({f"{field}.models": ["Must be a list of model names."]})
    response = data.get("response")
    if response is not None:
        response = _object(response, f"{field}.response", {"status", "body"})
        status = _number(
            response, "status", f"{field}.response", default=200, minimum=200, integer=True
        )
        if status > 599:
            raise ValidationError(
                {f"{field}.response.status": ["Must be an HTTP status (200-599)."]}
            )
        if "body" not in response:
            raise ValidationError({f"{field}.response.body": ["This field is required."]})
        if _has_nul(response["body"]):
            raise ValidationError({f"{field}.response.body": ["Null characters are not allowed."]})
        response = {"status": status, "body": response["body"]}
    if not models and response is None:
        raise ValidationError({field: ["Give fallback models, a fixed response, or null."]})
    return {"models": [m.strip() for m in models], "response": response}


def clean_headers(value: Any, field: str = "headers") -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError({field: ["Must be an object of header names to values."]})
    for name, header_value in value.items():
        if not _HEADER_NAME.match(str(name)):
            raise ValidationError({f"{field}.{name}": ["Not a valid header name."]})
        if not isinstance(header_value, str) or _HEADER_VALUE_FORBIDDEN.search(header_value):
            raise ValidationError(
                {f"{field}.{name}": ["Must be a single-line string without control characters."]}
            )
    return {str(k): v for k, v in value.items()}


MAX_MODEL_NAME = 200


def clean_aliases(value: Any, field: str = "aliases") -> dict[str, str]:
    """Client-facing model names and the model each stands for: non-empty single-line names, an
    alias never naming itself."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError({field: ["Must be an object of alias names to model names."]})
    for alias, model in value.items():
        for name in (alias, model):
            if (
                not isinstance(name, str)
                or not name.strip()
                or name != name.strip()
                or len(name) > MAX_MODEL_NAME
                or CONTROL_CHARACTERS.search(name)
            ):
                raise ValidationError(
                    {
                        f"{field}.{alias}": [
                            f"Alias and model must be model names (1 to {MAX_MODEL_NAME} "
                            "characters, no surrounding spaces or control characters)."
                        ]
                    }
                )
        if alias == model:
            raise ValidationError({f"{field}.{alias}": ["An alias cannot name itself."]})
    return dict(value)


def clean_single_line(value: Any, field: str) -> Any:
    """Names, keys and paths that end up in headers, URLs and logs: no control characters."""
    if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
        raise ValidationError({field: ["Must not contain control characters or line breaks."]})
    return value


def clean_base_url(value: Any, field: str = "baseUrl") -> str:
    """http(s) URLs, single-label hosts included (`http://ollama:11434`), stored without a trailing /,
    pointing nowhere the destination policy denies (`routing.destinations`)."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError({field: ["This field is required."]})
    url = value.strip()
    if any(c.isspace() for c in url) or CONTROL_CHARACTERS.search(url):
        # urlsplit would silently drop tabs and line breaks, which the stored value would keep.
        raise ValidationError({field: ["Must not contain spaces or control characters."]})
    try:
        parts = urlsplit(url)
    except ValueError:  # an unbalanced IPv6 bracket: `http://[::1`
        raise ValidationError(
            {field: ["Must be an http:// or https:// URL with a host."]}
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({field: ["Must be an http:// or https:// URL with a host."]})
    if parts.query or parts.fragment:
        raise ValidationError({field: ["Must not carry a query string or fragment."]})
    if "@" in parts.netloc:
        # It would show in clear in every instance id; credentials go in apiKey or headers.
        raise ValidationError({field: ["Must not carry credentials; use apiKey or headers."]})
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValidationError({field: ["Has an invalid port."]}) from None
    reason = destinations.refusal(
        parts.hostname, port, destinations.DestinationPolicy.from_settings()
    )
    if reason is not None:
        raise ValidationError({field: [f"Not an allowed destination: {reason}."]})
    return url.rstrip("/")
