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


class RequestRecord(models.Model):
    """One finished /v1 request, as the request history keeps it (written in batches off the
    request path by `monitoring.request_history`, deleted after the retention period). Times are
    in milliseconds; `cost` in USD when the instance that answered has prices."""

    request_id = models.CharField(max_length=128, db_index=True)
    received_at = models.DateTimeField(db_index=True)
    key_id = models.CharField(max_length=64, blank=True)
    key_name = models.CharField(max_length=200, blank=True)
    service_type = models.CharField(max_length=32, blank=True)
    model = models.CharField(max_length=200, blank=True, help_text="As the client asked for it.")
    served_model = models.CharField(max_length=200, blank=True)
    instance_id = models.CharField(max_length=720, blank=True)
    tier = models.CharField(max_length=16, blank=True, help_text="The neural router's tier.")
    status = models.PositiveSmallIntegerField()
    latency_ms = models.FloatField()
    overhead_ms = models.FloatField()
    first_byte_ms = models.FloatField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    usage_estimated = models.BooleanField(default=False)
    cost = models.DecimalField(max_digits=18, decimal_places=8, null=True, blank=True)
    retries = models.PositiveSmallIntegerField(default=0)
    fallback_model = models.CharField(max_length=200, blank=True)
    error = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [
            # The usage views group a time range by key and by model.
            models.Index(fields=["key_id", "received_at"], name="request_key_time"),
            models.Index(fields=["served_model", "received_at"], name="request_model_time"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.status}"
