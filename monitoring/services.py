"""Writes of the monitoring app: settings (versioned), error stats and degradation (shared state)."""

from typing import Any

from django.core.exceptions import ValidationError

from configversions.services import Actor, config_change
from routerproject.exceptions import InvalidInput

from .models import MonitoringSettings
from .selectors import monitoring_settings
from .settings_schema import FIELDS, validate_monitoring


def monitoring_settings_update(*, actor: Actor, **changes: Any) -> list[str]:
    """Change some monitoring settings (camelCase keys); returns the fields whose value changed.
    A change records a configuration version and reaches every worker through the generation."""
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise InvalidInput(errors={unknown[0]: ["Unknown field."]})
    with config_change(actor=actor, operation="update monitoring settings"):
        current = monitoring_settings()
        try:
            # Nested objects (sampling, performance) may be sent in part.
            merged = {
                **current,
                **{
                    key: {**current[key], **value}
                    if isinstance(value, dict) and key in ("sampling", "performance")
                    else value
                    for key, value in changes.items()
                },
            }
            canonical = validate_monitoring(merged)
        except ValidationError as exc:
            raise InvalidInput(errors=exc.message_dict) from None
        updated = [key for key in changes if canonical[key] != current[key]]
        MonitoringSettings.objects.update_or_create(pk=1, defaults={"content": canonical})
    return updated
