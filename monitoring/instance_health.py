"""Instance health as the monitoring system reads it: the ONE place it does.

The app that owns the instances registers how to read their health (`read_health_with`, from its
`ready()`): from the ORM, read at scrape time only, never on the /v1 hot path.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class InstanceHealth:
    service_type: str
    instance_id: str
    status: str  # healthy, unhealthy, unknown


HealthReader = Callable[[], list[InstanceHealth]]


def _no_instances() -> list[InstanceHealth]:
    return []


_reader: HealthReader = _no_instances


def read_health_with(reader: HealthReader) -> None:
    global _reader
    _reader = reader


def instance_health() -> list[InstanceHealth]:
    """Every configured instance, by service type then id."""
    return _reader()
