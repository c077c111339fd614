"""The `monitoring` section of a configuration snapshot."""

from typing import Any

from configversions.sections import ConfigSection

from .models import MonitoringSettings
from .selectors import monitoring_settings
from .settings_schema import default_content, validate_monitoring


def monitoring_load(content: dict[str, Any]) -> None:
    MonitoringSettings.objects.update_or_create(pk=1, defaults={"content": content})


MONITORING_SECTION = ConfigSection(
    key="monitoring",
    export=monitoring_settings,
    load=monitoring_load,
    default=default_content,
    validate=lambda content: validate_monitoring(content, where="monitoring"),
    mask=lambda content: content,
)
