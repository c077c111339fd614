"""Input and output shapes of the routing endpoints (camelCase, as in the management API document)."""

from typing import Any

from rest_framework import serializers

from ..service_types import Adapter, LoadBalancer, Tier


def _choices(enum: type) -> list[str]:
    return [member.value for member in enum]  # type: ignore[attr-defined]


class ServiceTypeInputSerializer(serializers.Serializer):
    loadBalancer = serializers.ChoiceField(choices=_choices(LoadBalancer), source="load_balancer")
    rateLimit = serializers.JSONField(source="rate_limit", allow_null=True)
    circuitBreaker = serializers.JSONField(source="circuit_breaker")
    fallback = serializers.JSONField(allow_null=True)
    retries = serializers.IntegerField(min_value=0, max_value=10)
    connectTimeout = serializers.IntegerField(
        source="connect_timeout_ms", min_value=1, max_value=600_000, help_text="Milliseconds."
    )
    requestTimeout = serializers.IntegerField(
        source="request_timeout_ms", min_value=1, max_value=3_600_000, help_text="Milliseconds."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "instances" in self.initial_data:
            raise serializers.ValidationError(
                {"instances": ["Instances are managed at /api/config/instance/…/{serviceType}."]}
            )
        return attrs


class InstanceInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    baseUrl = serializers.CharField(source="base_url", max_length=500)
    apiKey = serializers.CharField(
        source="api_key", max_length=500, allow_blank=True, required=False
    )
    weight = serializers.IntegerField(min_value=1, max_value=10_000, required=False)
    enabled = serializers.BooleanField(required=False)
    adapter = serializers.ChoiceField(choices=_choices(Adapter), required=False)
    path = serializers.CharField(max_length=300, allow_blank=True, required=False)
    headers = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    tier = serializers.ChoiceField(choices=_choices(Tier), allow_blank=True, required=False)
    rateLimit = serializers.JSONField(source="rate_limit", allow_null=True, required=False)
    circuitBreaker = serializers.JSONField(
        source="circuit_breaker", allow_null=True, required=False
    )


class InstanceUpdateSerializer(serializers.Serializer):
    """Validated with partial=True so `instance` may carry only the fields that change."""

    instanceId = serializers.CharField(help_text="'name@baseUrl' of the instance to change.")
    instance = InstanceInputSerializer()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        missing = {
            f: ["This field is required."] for f in ("instanceId", "instance") if f not in attrs
        }
        if missing:
            raise serializers.ValidationError(missing)
        return attrs


class InstanceQuerySerializer(serializers.Serializer):
    modelName = serializers.CharField()
    baseUrl = serializers.CharField()


class InstanceOutputSerializer(serializers.Serializer):
    """Documents the shape; the data comes from `routing.representation` (secrets masked)."""

    instanceId = serializers.CharField()
    name = serializers.CharField()
    baseUrl = serializers.CharField()
    apiKey = serializers.CharField(help_text="Masked, e.g. sk-…f3a9.")
    weight = serializers.IntegerField()
    enabled = serializers.BooleanField()
    adapter = serializers.CharField()
    path = serializers.CharField()
    headers = serializers.DictField(child=serializers.CharField())
    tier = serializers.CharField()
    rateLimit = serializers.JSONField(allow_null=True)
    circuitBreaker = serializers.JSONField(allow_null=True)


class InstanceInfoSerializer(InstanceOutputSerializer):
    healthStatus = serializers.CharField()
    lastHealthCheck = serializers.DateTimeField(allow_null=True)


class ServiceTypeOutputSerializer(serializers.Serializer):
    loadBalancer = serializers.CharField()
    rateLimit = serializers.JSONField(allow_null=True)
    circuitBreaker = serializers.JSONField()
    fallback = serializers.JSONField(allow_null=True)
    retries = serializers.IntegerField()
    connectTimeout = serializers.IntegerField()
    requestTimeout = serializers.IntegerField()
    instances = InstanceOutputSerializer(many=True)


class ModelSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    created = serializers.IntegerField()
    owned_by = serializers.CharField()
    service_type = serializers.CharField()
    adapter = serializers.CharField()
