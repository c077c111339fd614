"""Monitoring settings: one row, part of every configuration version (section `monitoring`)."""

from django.db import models

from .settings_schema import default_content


class MonitoringSettings(models.Model):
    """The seed's monitoring configuration object, stored whole: it is always read and versioned
    as one piece, and `settings_schema` is its single validator."""

    content = models.JSONField(default=default_content)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "monitoring settings"

    def __str__(self) -> str:
        return "Monitoring settings"
