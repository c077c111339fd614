import json
from typing import Any

from django import template

register = template.Library()


@register.filter
def as_json(value: Any) -> str:
    """A configuration value as the API writes it (autoescaped by the template)."""
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None or value == "" else f"{100 * value:.0f}%"


@register.filter
def file_size(value: int | None) -> str:
    if value is None:
        return "—"
    if value < 1024 * 1024:
        return f"{value / 1024:.1f} KiB"
    return f"{value / (1024 * 1024):.2f} MiB"


@register.filter
def ms(seconds: float | None) -> str:
    """A latency in seconds as milliseconds (as overview.js writes it)."""
    return "—" if seconds is None or seconds == "" else f"{1000 * seconds:.1f} ms"


@register.filter
def per_minute(value: float | None) -> str:
    return "—" if value is None or value == "" else f"{value:.1f}/min"


@register.filter
def uptime(seconds: int | None) -> str:
    """3 d 4 h 5 min; under a minute, seconds (as overview.js writes it)."""
    if seconds is None:
        return "—"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if not (days or hours or minutes):
        return f"{secs} s"
    parts = [f"{days} d" if days else "", f"{hours} h" if days or hours else "", f"{minutes} min"]
    return " ".join(p for p in parts if p)
