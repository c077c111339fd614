"""What the gateway records about credentials: issued JWTs (never the token itself), cleanup runs,
and the API keys of `/v1` clients (stored as a digest, shown in clear once)."""

import json
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models


class TokenStatus(models.TextChoices):
    ACTIVE = "ACTIVE"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"


class TokenType(models.TextChoices):
    ACCESS = "ACCESS"
    REFRESH = "REFRESH"


class IssuedToken(models.Model):
    """One JWT the gateway signed. A login session (`session_id`) holds an access and a refresh token;
    rotation adds a new pair to the same session. A revoked row is a blacklist entry until it expires."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="issued_tokens"
    )
    jti = models.CharField(max_length=64, unique=True)
    session_id = models.UUIDField(db_index=True)
    token_type = models.CharField(max_length=16, choices=TokenType.choices)
    token_hash = models.CharField(max_length=64)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    status = models.CharField(
        max_length=16, choices=TokenStatus.choices, default=TokenStatus.ACTIVE, db_index=True
    )
    device_info = models.CharField(max_length=512, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=255, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="revoked_tokens",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-issued_at", "id"]
        indexes = [models.Index(fields=["status", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.token_type} token {self.id} of user {self.user_id}"


class CleanupType(models.TextChoices):
    EXPIRED_TOKENS = "EXPIRED_TOKENS"
    EXPIRED_BLACKLIST = "EXPIRED_BLACKLIST"
    ALL = "ALL"


class TokenCleanup(models.Model):
    """One run of the cleanup (scheduled or manual): what it removed and how long it took."""

    cleanup_type = models.CharField(max_length=32, choices=CleanupType.choices)
    expired_tokens_removed = models.PositiveIntegerField(default=0)
    expired_blacklist_entries_removed = models.PositiveIntegerField(default=0)
    duration_seconds = models.FloatField(default=0.0)
    completed_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-completed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.cleanup_type} cleanup at {self.completed_at:%Y-%m-%d %H:%M:%S}"


class ApiKey(models.Model):
    """A `/v1` client's key. Only its SHA-256 digest and a short display prefix are stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    allowed_service_types = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    requests_per_minute = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    tokens_per_minute = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    max_budget = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0)],
        help_text="USD the key may spend per budget period (all time without one).",
    )
    budget_duration = models.CharField(
        max_length=16,
        blank=True,
        validators=[
            RegexValidator(r"^[1-9][0-9]{0,5}[smhd]$", "A duration such as 30d, 12h, 15m.")
        ],
        help_text="The budget's period, from the key's creation; blank: no reset.",
    )
    allowed_models = models.JSONField(
        default=list, blank=True, help_text="Model names; empty: any."
    )
    metadata = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="revoked_api_keys",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="created_api_keys",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        models_given = self.allowed_models
        if not isinstance(models_given, list) or not all(
            isinstance(m, str) and 0 < len(m) <= 200 and m == m.strip() for m in models_given
        ):
            errors["allowed_models"] = ["Must be a list of model names (1 to 200 characters)."]
        if not isinstance(self.metadata, dict):
            errors["metadata"] = ["Must be an object."]
        elif len(json.dumps(self.metadata)) > MAX_METADATA_BYTES:
            errors["metadata"] = [f"Must be at most {MAX_METADATA_BYTES} bytes of JSON."]
        if errors:
            raise ValidationError(errors)

    @property
    def budget_period_seconds(self) -> int | None:
        return duration_seconds(self.budget_duration)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_METADATA_BYTES = 16 * 1024


def duration_seconds(duration: str) -> int | None:
    """`30d` -> 2592000; blank -> None."""
    if not duration:
        return None
    return int(duration[:-1]) * _UNITS[duration[-1]]
