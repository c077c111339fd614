"""Reads of the monitoring app."""

from typing import Any

from .models import MonitoringSettings
from .settings_schema import default_content


def monitoring_settings_row() -> MonitoringSettings:
    return MonitoringSettings.objects.filter(pk=1).first() or MonitoringSettings(
        pk=1, content=default_content()
    )


def monitoring_settings() -> dict[str, Any]:
    """The stored settings in canonical form (missing fields take their defaults)."""
    return {**default_content(), **monitoring_settings_row().content}
