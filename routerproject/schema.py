"""OpenAPI descriptions of enveloped answers, so every endpoint documents its real shape."""

from typing import Any

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ERROR_ENVELOPE = inline_serializer(
    name="ErrorEnvelope",
    fields={
        "success": serializers.BooleanField(default=False),
        "message": serializers.CharField(),
        "data": serializers.JSONField(allow_null=True, help_text="{errors: {field: [messages]}}"),
        "errorCode": serializers.CharField(),
        "timestamp": serializers.DateTimeField(),
    },
)


def enveloped(name: str, data: serializers.Field | None = None) -> serializers.Serializer:
    return inline_serializer(
        name=f"{name}Envelope",
        fields={
            "success": serializers.BooleanField(default=True),
            "message": serializers.CharField(),
            "data": data if data is not None else serializers.JSONField(allow_null=True),
            "timestamp": serializers.DateTimeField(),
        },
    )


def responses(
    name: str,
    data: serializers.Field | None = None,
    *,
    status: int = 200,
    errors: tuple[int, ...] = (400, 404),
) -> dict[int, Any]:
    described: dict[int, Any] = {status: enveloped(name, data)}
    for code in (*errors, 401, 403):
        described[code] = OpenApiResponse(ERROR_ENVELOPE)
    return described
