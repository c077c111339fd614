"""Input and output shapes of the request history endpoints, `/api/requests` and `/api/usage`."""

import re
from typing import Any

from rest_framework import serializers

from ..models import RequestRecord
from ..selectors import STATUS_CLASSES, USAGE_GROUPS

STATUS = re.compile(r"^[1-5][0-9][0-9]$")


class _RangeQuery(serializers.Serializer):
    """`from` (inclusive) and `to` (exclusive), ISO 8601; `from` being a keyword, it is added by
    name."""

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = serializers.DateTimeField(required=False, help_text="ISO 8601, inclusive.")
        fields["to"] = serializers.DateTimeField(required=False, help_text="ISO 8601, exclusive.")
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("from"), attrs.get("to")
        if start is not None and end is not None and end < start:
            raise serializers.ValidationError({"to": ["Must not be before from."]})
        return attrs


class RequestListQuery(_RangeQuery):
    requestId = serializers.CharField(required=False, max_length=128)
    key = serializers.CharField(required=False, max_length=200, help_text="Key id or name.")
    model = serializers.CharField(required=False, max_length=200, help_text="Asked or served.")
    instance = serializers.CharField(required=False, max_length=720)
    status = serializers.CharField(required=False, max_length=3)

    def validate_status(self, value: str) -> str:
        if value not in STATUS_CLASSES and not STATUS.match(value):
            raise serializers.ValidationError(
                "A status code (404) or a class (1xx, 2xx, 3xx, 4xx, 5xx)."
            )
        return value


class UsageQuery(_RangeQuery):
    groupBy = serializers.ChoiceField(choices=USAGE_GROUPS, required=False, default="day")


class RequestRecordOutput(serializers.ModelSerializer):
    requestId = serializers.CharField(source="request_id")
    receivedAt = serializers.DateTimeField(source="received_at")
    keyId = serializers.CharField(source="key_id")
    keyName = serializers.CharField(source="key_name")
    serviceType = serializers.CharField(source="service_type")
    servedModel = serializers.CharField(source="served_model")
    instanceId = serializers.CharField(source="instance_id")
    latencyMs = serializers.FloatField(source="latency_ms")
    overheadMs = serializers.FloatField(source="overhead_ms")
    firstByteMs = serializers.FloatField(source="first_byte_ms", allow_null=True)
    promptTokens = serializers.IntegerField(source="prompt_tokens")
    completionTokens = serializers.IntegerField(source="completion_tokens")
    usageEstimated = serializers.BooleanField(source="usage_estimated")
    cost = serializers.DecimalField(
        max_digits=18, decimal_places=8, coerce_to_string=False, allow_null=True
    )
    fallbackModel = serializers.CharField(source="fallback_model")

    class Meta:
        model = RequestRecord
        fields = [
            "requestId",
            "receivedAt",
            "keyId",
            "keyName",
            "serviceType",
            "model",
            "servedModel",
            "instanceId",
            "tier",
            "status",
            "latencyMs",
            "overheadMs",
            "firstByteMs",
            "promptTokens",
            "completionTokens",
            "usageEstimated",
            "cost",
            "retries",
            "fallbackModel",
            "error",
        ]


class UsageFigures(serializers.Serializer):
    requests = serializers.IntegerField()
    errors = serializers.IntegerField(help_text="Answers with a status of 400 or above.")
    promptTokens = serializers.IntegerField(source="prompt_tokens")
    completionTokens = serializers.IntegerField(source="completion_tokens")
    cost = serializers.DecimalField(
        max_digits=24, decimal_places=8, coerce_to_string=False, help_text="USD, known costs."
    )
    avgLatencyMs = serializers.FloatField(source="latency_ms", allow_null=True)


class UsageGroup(UsageFigures):
    group = serializers.CharField(help_text="The day (YYYY-MM-DD), the key id or the model.")
    name = serializers.CharField(help_text="The day, the key's name or the model.")

    def to_representation(self, instance: dict[str, Any]) -> dict[str, Any]:
        group = instance["group"]
        group = group.isoformat() if hasattr(group, "isoformat") else str(group or "")
        return super().to_representation(
            {**instance, "group": group, "name": instance.get("name", group) or ""}
        )


class UsageOutput(serializers.Serializer):
    groupBy = serializers.ChoiceField(choices=USAGE_GROUPS, source="group_by")
    totals = UsageFigures()
    groups = UsageGroup(many=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            "from": serializers.DateTimeField(source="start"),
            "to": serializers.DateTimeField(source="end"),
            **super().get_fields(),
        }
