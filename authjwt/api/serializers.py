"""Input and output shapes of /api/auth (camelCase, as in the seed)."""

import datetime
import re
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from routerproject.serializers import StrictSerializer
from routerproject.state import STATE_ERRORS, get_state

from .. import key_usage
from ..keys import display_prefix, principal_of
from ..models import ApiKey, CleanupType, IssuedToken
from ..selectors import effective_status

SERVICE_TYPE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


# Tokens


class TokenOutput(serializers.ModelSerializer):
    userId = serializers.SerializerMethodField()
    username = serializers.CharField(source="user.get_username", read_only=True)
    tokenType = serializers.CharField(source="token_type")
    tokenHash = serializers.CharField(source="token_hash")
    issuedAt = serializers.DateTimeField(source="issued_at")
    expiresAt = serializers.DateTimeField(source="expires_at")
    status = serializers.SerializerMethodField()
    deviceInfo = serializers.CharField(source="device_info")
    ipAddress = serializers.CharField(source="ip_address", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = IssuedToken
        fields = [
            "id",
            "userId",
            "username",
            "tokenType",
            "tokenHash",
            "issuedAt",
            "expiresAt",
            "status",
            "deviceInfo",
            "ipAddress",
            "createdAt",
            "updatedAt",
        ]

    def get_userId(self, token: IssuedToken) -> str:
        return str(token.user_id)

    @extend_schema_field(serializers.ChoiceField(choices=["ACTIVE", "REVOKED", "EXPIRED"]))
    def get_status(self, token: IssuedToken) -> str:
        return effective_status(token)


class TokenDetailOutput(TokenOutput):
    revokeReason = serializers.SerializerMethodField()
    revokedAt = serializers.DateTimeField(source="revoked_at", allow_null=True)
    revokedBy = serializers.SerializerMethodField()

    class Meta(TokenOutput.Meta):
        fields = [*TokenOutput.Meta.fields, "revokeReason", "revokedAt", "revokedBy"]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_revokeReason(self, token: IssuedToken) -> str | None:
        return token.revoke_reason or None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_revokedBy(self, token: IssuedToken) -> str | None:
        return token.revoked_by.get_username() if token.revoked_by else None


class TokenListQuery(serializers.Serializer):
    userId = serializers.CharField(required=False, allow_blank=True)
    status = serializers.ChoiceField(choices=["ACTIVE", "REVOKED", "EXPIRED"], required=False)


class RevokeInput(StrictSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")


class RevokeOutput(serializers.Serializer):
    tokenId = serializers.CharField()
    revokedAt = serializers.DateTimeField()
    reason = serializers.CharField(allow_null=True)


class RevokeBatchInput(StrictSerializer):
    tokenIds = serializers.ListField(
        child=serializers.CharField(max_length=64), min_length=1, max_length=1000
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")


class RevokeBatchOutput(serializers.Serializer):
    successCount = serializers.IntegerField()
    failureCount = serializers.IntegerField()
    revokedTokens = serializers.ListField(child=serializers.CharField())
    failedTokens = serializers.ListField(child=serializers.CharField())


class CleanupInput(StrictSerializer):
    cleanupType = serializers.ChoiceField(choices=CleanupType.choices, default=CleanupType.ALL)


class CleanupOutput(serializers.Serializer):
    cleanupType = serializers.CharField()
    expiredTokensRemoved = serializers.IntegerField()
    expiredBlacklistEntriesRemoved = serializers.IntegerField()
    cleanupDuration = serializers.CharField()
    completedAt = serializers.DateTimeField()


class BlacklistStatsOutput(serializers.Serializer):
    blacklistSize = serializers.IntegerField()
    sharedStateEntries = serializers.IntegerField(allow_null=True)
    memoryUsage = serializers.DictField()
    lastCleanup = serializers.DateTimeField(allow_null=True)
    nextScheduledCleanup = serializers.DateTimeField(allow_null=True)
    configurationStatus = serializers.DictField()
    performanceMetrics = serializers.DictField()


# Login, refresh, logout, validate


class LoginInput(StrictSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class TokenPairOutput(serializers.Serializer):
    token = serializers.CharField()
    tokenType = serializers.CharField()
    expiresIn = serializers.IntegerField()
    refreshToken = serializers.CharField()
    tokenId = serializers.CharField()


class RefreshInput(StrictSerializer):
    refreshToken = serializers.CharField(max_length=4096)


class LogoutInput(StrictSerializer):
    allSessions = serializers.BooleanField(required=False, default=False)


class LogoutOutput(serializers.Serializer):
    revokedTokens = serializers.IntegerField()


class ValidateInput(StrictSerializer):
    token = serializers.CharField(max_length=4096)


class ValidateOutput(serializers.Serializer):
    valid = serializers.BooleanField()
    reason = serializers.CharField()
    tokenId = serializers.CharField(allow_null=True)
    tokenType = serializers.CharField(allow_null=True)
    userId = serializers.CharField(allow_null=True)
    username = serializers.CharField(allow_null=True)
    expiresAt = serializers.DateTimeField(allow_null=True)
    status = serializers.CharField(allow_null=True)


# API keys


def _service_types(value: list[str]) -> list[str]:
    bad = [v for v in value if not SERVICE_TYPE.match(v)]
    if bad:
        raise serializers.ValidationError(f"Not a service type name: {bad[0]!r}")
    return value


class _GovernanceInput(StrictSerializer):
    """What a key may use and spend, on create and update alike."""

    tokensPerMinute = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=1_000_000_000
    )
    maxBudget = serializers.FloatField(
        required=False, allow_null=True, min_value=0.0, max_value=1e12, help_text="USD."
    )
    budgetDuration = serializers.RegexField(
        r"^([1-9][0-9]{0,5}[smhd])?$",
        required=False,
        allow_blank=True,
        help_text="The budget's period, such as 30d, 12h or 15m; blank: it never resets.",
    )
    models = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        max_length=1000,
        help_text="Model names the key may use; empty: any.",
    )
    metadata = serializers.DictField(required=False)


class ApiKeyCreateInput(_GovernanceInput):
    name = serializers.CharField(max_length=100)
    allowedServiceTypes = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, default=list, max_length=100
    )
    expiresAt = serializers.DateTimeField(required=False, allow_null=True, default=None)
    requestsPerMinute = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=1_000_000
    )

    def validate_allowedServiceTypes(self, value: list[str]) -> list[str]:
        return _service_types(value)

    def governance(self) -> dict[str, Any]:
        return {GOVERNANCE[k]: v for k, v in self.validated_data.items() if k in GOVERNANCE}


GOVERNANCE = {
    "tokensPerMinute": "tokens_per_minute",
    "maxBudget": "max_budget",
    "budgetDuration": "budget_duration",
    "models": "allowed_models",
    "metadata": "metadata",
}


class ApiKeyUpdateInput(_GovernanceInput):
    name = serializers.CharField(max_length=100, required=False)
    allowedServiceTypes = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=100
    )
    expiresAt = serializers.DateTimeField(required=False, allow_null=True)
    requestsPerMinute = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=1_000_000
    )
    enabled = serializers.BooleanField(required=False)

    FIELDS = {
        "name": "name",
        "allowedServiceTypes": "allowed_service_types",
        "expiresAt": "expires_at",
        "requestsPerMinute": "requests_per_minute",
        "enabled": "enabled",
        **GOVERNANCE,
    }

    def validate_allowedServiceTypes(self, value: list[str]) -> list[str]:
        return _service_types(value)

    def changes(self) -> dict[str, Any]:
        return {self.FIELDS[k]: v for k, v in self.validated_data.items()}


class KeyUsageOutput(serializers.Serializer):
    requests = serializers.IntegerField()
    promptTokens = serializers.IntegerField()
    completionTokens = serializers.IntegerField()
    spend = serializers.FloatField(help_text="USD, all time.")
    periodSpend = serializers.FloatField(help_text="USD, this budget period.")
    lastUsedAt = serializers.DateTimeField(allow_null=True)


class ApiKeyOutput(serializers.ModelSerializer):
    keyPrefix = serializers.SerializerMethodField()
    allowedServiceTypes = serializers.ListField(
        source="allowed_service_types", child=serializers.CharField()
    )
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)
    requestsPerMinute = serializers.IntegerField(source="requests_per_minute", allow_null=True)
    tokensPerMinute = serializers.IntegerField(source="tokens_per_minute", allow_null=True)
    maxBudget = serializers.FloatField(source="max_budget", allow_null=True)
    budgetDuration = serializers.CharField(source="budget_duration")
    models = serializers.ListField(source="allowed_models", child=serializers.CharField())
    metadata = serializers.DictField()
    usage = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    revokedAt = serializers.DateTimeField(source="revoked_at", allow_null=True)
    createdBy = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "keyPrefix",
            "allowedServiceTypes",
            "expiresAt",
            "requestsPerMinute",
            "tokensPerMinute",
            "maxBudget",
            "budgetDuration",
            "models",
            "metadata",
            "usage",
            "enabled",
            "status",
            "revokedAt",
            "createdBy",
            "createdAt",
            "updatedAt",
        ]

    def get_keyPrefix(self, api_key: ApiKey) -> str:
        return display_prefix(api_key.prefix)

    @extend_schema_field(KeyUsageOutput())
    def get_usage(self, api_key: ApiKey) -> dict[str, Any] | None:
        """The key's usage to date, from shared state (None when it cannot be read)."""
        try:
            usage = key_usage.usage_of([principal_of(api_key)], get_state())[str(api_key.pk)]
        except STATE_ERRORS:
            return None
        last = usage.last_used_at
        return {
            "requests": usage.requests,
            "promptTokens": usage.prompt_tokens,
            "completionTokens": usage.completion_tokens,
            "spend": usage.spend,
            "periodSpend": usage.period_spend,
            "lastUsedAt": (
                datetime.datetime.fromtimestamp(last, tz=datetime.UTC).isoformat() if last else None
            ),
        }

    @extend_schema_field(serializers.CharField(help_text="ACTIVE, DISABLED, EXPIRED or REVOKED"))
    def get_status(self, api_key: ApiKey) -> str:
        if api_key.revoked_at is not None:
            return "REVOKED"
        if not api_key.enabled:
            return "DISABLED"
        if api_key.expires_at is not None and api_key.expires_at <= timezone.now():
            return "EXPIRED"
        return "ACTIVE"

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_createdBy(self, api_key: ApiKey) -> str | None:
        return api_key.created_by.get_username() if api_key.created_by else None


class ApiKeyCreatedOutput(ApiKeyOutput):
    key = serializers.SerializerMethodField()

    class Meta(ApiKeyOutput.Meta):
        fields = [*ApiKeyOutput.Meta.fields, "key"]

    def get_key(self, api_key: ApiKey) -> str:
        return str(self.context["raw_key"])
