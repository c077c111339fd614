"""Numbered, immutable snapshots of the whole configuration, and the pointer to the live one."""

from django.conf import settings
from django.db import models


class ConfigVersion(models.Model):
    number = models.PositiveIntegerField(unique=True)
    snapshot = models.JSONField()
    operation = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"v{self.number} ({self.operation})"


class ConfigPointer(models.Model):
    """The single row saying which version is live; locking it serialises configuration writes."""

    current_number = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"current: v{self.current_number}"
