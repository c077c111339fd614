"""Input and output shapes of the routing endpoints (camelCase, as in the management API document)."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from routerproject.serializers import StrictSerializer

from ..config_schema import DEFAULT_BREAKER
from ..service_types import Adapter, LoadBalancer, RateLimitAlgorithm, RateLimitScope, Tier


def _choices(enum: type) -> list[str]:
    return [member.value for member in enum]  # type: ignore[attr-defined]


# The nested settings as `routing.config_schema` accepts them (requests) and writes them with every
# default filled in (answers). The serializers keep them as JSON: config_schema is the one validator,
# these schemas only describe it.

RATE_LIMIT_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["algorithm", "capacity"],
    "properties": {
        "algorithm": {"type": "string", "enum": _choices(RateLimitAlgorithm)},
        "capacity": {"type": "integer", "minimum": 1},
        "refillRate": {
            "type": "number",
            "minimum": 1e-9,
            "description": "Per second; defaults to the capacity.",
        },
        "scope": {"type": "string", "enum": _choices(RateLimitScope), "default": "service"},
        "windowSeconds": {"type": "number", "minimum": 0.001, "default": 1.0},
        "warmUpSeconds": {"type": "number", "minimum": 0.001, "default": 10.0},
    },
}
BREAKER_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "description": "Missing keys take their defaults.",
    "properties": {
        "enabled": {"type": "boolean", "default": True},
        **{
            key: {"type": "integer", "minimum": 1, "default": DEFAULT_BREAKER[key]}
            for key in ("failureThreshold", "recoveryTimeout", "successThreshold")
        },
    },
}
FALLBACK_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "description": "Models to try next, a fixed response, or both.",
    "anyOf": [
        {"required": ["models"], "properties": {"models": {"minItems": 1}}},
        {"required": ["response"], "properties": {"response": {"type": "object"}}},
    ],
    "properties": {
        "models": {"type": "array", "items": {"type": "string", "pattern": r"\S"}},
        "response": {
            "type": "object",
            "nullable": True,
            "additionalProperties": False,
            "required": ["body"],
            "properties": {
                "status": {"type": "integer", "minimum": 200, "maximum": 599, "default": 200},
                "body": {"description": "Any JSON value, answered as is."},
            },
        },
    },
}


@extend_schema_field(RATE_LIMIT_SCHEMA)
class RateLimitField(serializers.JSONField):
    pass


@extend_schema_field(BREAKER_SCHEMA)
class CircuitBreakerField(serializers.JSONField):
    pass


# A service type's breaker is a required model field: `{}` is refused as blank (an instance's `{}`
# means every default).
@extend_schema_field({**BREAKER_SCHEMA, "minProperties": 1})
class ServiceCircuitBreakerField(serializers.JSONField):
    pass


@extend_schema_field(FALLBACK_SCHEMA)
class FallbackField(serializers.JSONField):
    pass


@extend_schema_field(
    {
        "type": "string",
        "maxLength": 500,
        "pattern": "^https?://[^/?#]",
        "description": "An http(s) URL with a host, without query string or fragment.",
    }
)
class BaseUrlField(serializers.CharField):
    pass


@extend_schema_field(
    {"type": "string", "maxLength": 300, "pattern": "^(/|$)", "description": "Starts with '/'."}
)
class UpstreamPathField(serializers.CharField):
    pass


class ServiceTypeInputSerializer(StrictSerializer):
    loadBalancer = serializers.ChoiceField(choices=_choices(LoadBalancer), source="load_balancer")
    rateLimit = RateLimitField(source="rate_limit", allow_null=True)
    circuitBreaker = ServiceCircuitBreakerField(source="circuit_breaker")
    fallback = FallbackField(allow_null=True)
    retries = serializers.IntegerField(min_value=0, max_value=10)
    connectTimeout = serializers.IntegerField(
        source="connect_timeout_ms", min_value=1, max_value=600_000, help_text="Milliseconds."
    )
    requestTimeout = serializers.IntegerField(
        source="request_timeout_ms", min_value=1, max_value=3_600_000, help_text="Milliseconds."
    )
    aliases = serializers.DictField(
        child=serializers.CharField(max_length=200),
        required=False,
        help_text="Client-facing model names -> the model each stands for.",
    )

    def unknown_field_message(self, name: str) -> str:
        if name == "instances":
            return "Instances are managed at /api/config/instance/…/{serviceType}."
        return super().unknown_field_message(name)


class InstanceInputSerializer(StrictSerializer):
    # Read-only: an instance as the API shows it may be sent back to update it.
    instanceId = serializers.CharField(read_only=True)
    name = serializers.CharField(max_length=200)
    baseUrl = BaseUrlField(source="base_url", max_length=500)
    apiKey = serializers.CharField(
        source="api_key", max_length=500, allow_blank=True, required=False
    )
    weight = serializers.IntegerField(min_value=1, max_value=10_000, required=False)
    enabled = serializers.BooleanField(required=False)
    adapter = serializers.ChoiceField(choices=_choices(Adapter), required=False)
    path = UpstreamPathField(max_length=300, allow_blank=True, required=False)
    upstreamModel = serializers.CharField(
        source="upstream_model",
        max_length=200,
        allow_blank=True,
        required=False,
        help_text="The model name sent upstream; blank: the name clients send.",
    )
    responsesApi = serializers.BooleanField(
        source="responses_api",
        required=False,
        help_text="The instance serves OpenAI's Responses API itself (passed through).",
    )
    inputCostPerMillionTokens = serializers.FloatField(
        source="input_cost_per_million",
        min_value=0.0,
        max_value=1_000_000.0,
        allow_null=True,
        required=False,
        help_text="USD per million prompt tokens; null: unpriced.",
    )
    outputCostPerMillionTokens = serializers.FloatField(
        source="output_cost_per_million",
        min_value=0.0,
        max_value=1_000_000.0,
        allow_null=True,
        required=False,
        help_text="USD per million completion tokens; null: unpriced.",
    )
    headers = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    tier = serializers.ChoiceField(choices=_choices(Tier), allow_blank=True, required=False)
    rateLimit = RateLimitField(source="rate_limit", allow_null=True, required=False)
    circuitBreaker = CircuitBreakerField(source="circuit_breaker", allow_null=True, required=False)


class InstanceUpdateSerializer(StrictSerializer):
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
    upstreamModel = serializers.CharField()
    responsesApi = serializers.BooleanField()
    inputCostPerMillionTokens = serializers.FloatField(allow_null=True)
    outputCostPerMillionTokens = serializers.FloatField(allow_null=True)
    headers = serializers.DictField(child=serializers.CharField())
    tier = serializers.CharField()
    rateLimit = RateLimitField(allow_null=True)
    circuitBreaker = CircuitBreakerField(allow_null=True)


class InstanceInfoSerializer(InstanceOutputSerializer):
    healthStatus = serializers.CharField()
    lastHealthCheck = serializers.DateTimeField(allow_null=True)


class ServiceTypeOutputSerializer(serializers.Serializer):
    loadBalancer = serializers.CharField()
    rateLimit = RateLimitField(allow_null=True)
    circuitBreaker = CircuitBreakerField()
    fallback = FallbackField(allow_null=True)
    retries = serializers.IntegerField()
    connectTimeout = serializers.IntegerField()
    requestTimeout = serializers.IntegerField()
    aliases = serializers.DictField(child=serializers.CharField())
    instances = InstanceOutputSerializer(many=True)


class ModelSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    created = serializers.IntegerField()
    owned_by = serializers.CharField()
    service_type = serializers.CharField()
    adapter = serializers.CharField()
