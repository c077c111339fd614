"""Monitoring settings: their canonical form, defaults and validation, in the seed's camelCase.

One validator serves the API, configuration files, imports and the admin, so they share the rules.
"""

import copy
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_duration

# What each category exports at /metrics (see README "Observability"):
#   request  the gateway's per-request series (counts, durations, tokens, retries, rejections)
#   backend  per-instance breaker state, health and in-flight requests
#   router   the neural router's tiny_dancer_* series
#   system   django-prometheus (HTTP, database), process and Python runtime series
#   custom   the monitoring subsystem's own series (errors per component, degradation, caches)
CATEGORIES = ("request", "backend", "router", "system", "custom")

DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "prefix": "jairouter",
    "collectionInterval": "PT30S",
    "enabledCategories": list(CATEGORIES),
    "customTags": {},
    "sampling": {"enabled": False, "rate": 1.0},
    "performance": {"batchSize": 100, "flushInterval": "PT10S"},
}
FIELDS = tuple(DEFAULTS)

_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Labels the exported series already use, or that Prometheus reserves.
RESERVED_LABELS = frozenset(
    {
        "le",
        "quantile",
        "service",
        "model",
        "instance",
        "status",
        "scope",
        "direction",
        "cache",
        "result",
        "component",
        "level",
        "job",
    }
)
MAX_TAGS = 10


def default_content() -> dict[str, Any]:
    return copy.deepcopy(DEFAULTS)


def _duration(value: Any, where: str, errors: dict[str, list[str]]) -> str | None:
    parsed = parse_duration(value) if isinstance(value, str) and value.startswith("P") else None
    if parsed is None or parsed.total_seconds() <= 0:
        errors[where] = ["Must be a positive ISO-8601 duration such as PT30S."]
        return None
    return str(value)


def _clean(content: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    out = default_content()
    if "enabled" in content:
        if not isinstance(content["enabled"], bool):
            errors["enabled"] = ["Must be a boolean."]
        out["enabled"] = content["enabled"]
    if "prefix" in content:
        prefix = content["prefix"]
        if not isinstance(prefix, str) or not _NAME.match(prefix) or len(prefix) > 40:
            errors["prefix"] = [
                "Must be a Prometheus name: letters, digits and '_', not starting with a digit, "
                "at most 40 characters."
            ]
        elif prefix.startswith("__") or prefix in ("tiny_dancer", "django", "process", "python"):
            errors["prefix"] = ["This prefix is reserved."]
        out["prefix"] = prefix
    if "collectionInterval" in content:
        out["collectionInterval"] = _duration(
            content["collectionInterval"], "collectionInterval", errors
        )
    if "enabledCategories" in content:
        categories = content["enabledCategories"]
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            errors["enabledCategories"] = ["Must be a list of category names."]
        else:
            unknown = sorted(set(categories) - set(CATEGORIES))
            if unknown:
                errors["enabledCategories"] = [
                    f"Unknown category '{unknown[0]}'; expected some of {list(CATEGORIES)}."
                ]
            out["enabledCategories"] = [c for c in CATEGORIES if c in categories]
    if "customTags" in content:
        tags = content["customTags"]
        if not isinstance(tags, dict):
            errors["customTags"] = ["Must be an object of label name to value."]
        elif len(tags) > MAX_TAGS:
            errors["customTags"] = [f"At most {MAX_TAGS} tags."]
        else:
            for name, value in tags.items():
                if not _NAME.match(str(name)) or str(name).startswith("__"):
                    errors[f"customTags.{name}"] = ["Not a valid Prometheus label name."]
                elif name in RESERVED_LABELS:
                    errors[f"customTags.{name}"] = ["This label is used by the exported series."]
                elif not isinstance(value, str) or len(value) > 200:
                    errors[f"customTags.{name}"] = ["Must be a string of at most 200 characters."]
            out["customTags"] = {str(k): tags[k] for k in sorted(tags)}
    if "sampling" in content:
        sampling = content["sampling"]
        if not isinstance(sampling, dict) or set(sampling) - {"enabled", "rate"}:
            errors["sampling"] = ["Must be an object {enabled, rate}."]
        else:
            merged = {**DEFAULTS["sampling"], **sampling}
            if not isinstance(merged["enabled"], bool):
                errors["sampling.enabled"] = ["Must be a boolean."]
            rate = merged["rate"]
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                errors["sampling.rate"] = ["Must be a number between 0 and 1."]
            else:
                merged["rate"] = float(rate)
            out["sampling"] = merged
    if "performance" in content:
        performance = content["performance"]
        if not isinstance(performance, dict) or set(performance) - {"batchSize", "flushInterval"}:
            errors["performance"] = ["Must be an object {batchSize, flushInterval}."]
        else:
            merged = {**DEFAULTS["performance"], **performance}
            size = merged["batchSize"]
            if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 100_000:
                errors["performance.batchSize"] = ["Must be an integer between 1 and 100000."]
            merged["flushInterval"] = _duration(
                merged["flushInterval"], "performance.flushInterval", errors
            )
            out["performance"] = merged
    return out


def validate_monitoring(content: Any, *, where: str = "") -> dict[str, Any]:
    """Content from a client or a file -> canonical content (defaults filled in), or raise
    ValidationError with `field.sub` keys (prefixed by `where.` when given)."""
    if not isinstance(content, dict):
        raise ValidationError({where or "monitoring": ["Must be an object."]})
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(content) - set(FIELDS))
    if unknown:
        errors[unknown[0]] = ["Unknown field."]
    canonical = _clean(content, errors)
    if errors:
        raise ValidationError({(f"{where}.{k}" if where else k): v for k, v in errors.items()})
    return canonical
