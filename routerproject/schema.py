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


def error_responses(*codes: int) -> dict[int, Any]:
    """The error envelope under each status code (for list views, whose 200 the paginator shapes)."""
    return {code: OpenApiResponse(ERROR_ENVELOPE) for code in codes}


def responses(
    name: str,
    data: serializers.Field | None = None,
    *,
    status: int = 200,
    errors: tuple[int, ...] = (400, 404),
    auth_errors: tuple[int, ...] = (401, 403),
) -> dict[int, Any]:
    """The enveloped answer and its error answers. `auth_errors` are those of the default
    authentication and IsOperator; views that sign nobody in (login) or only need a user pass less."""
    return {status: enveloped(name, data), **error_responses(*errors, *auth_errors)}


_METHODS = {"get", "put", "post", "delete", "patch", "options", "head"}
UNAVAILABLE = {
    "description": "The database is unreachable; nothing was changed. `Retry-After` says when to "
    "try again.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
}


def document_database_outage(
    result: dict[str, Any], generator: Any, request: Any, public: bool, **kwargs: Any
) -> dict[str, Any]:
    """A drf-spectacular postprocessing hook: any /api operation may answer 503 while the database
    cannot be reached (routerproject.exceptions maps that error for every view)."""
    if "ErrorEnvelope" not in result.get("components", {}).get("schemas", {}):
        return result
    for path, item in result.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in item.items():
            if method in _METHODS:
                operation.setdefault("responses", {}).setdefault("503", UNAVAILABLE)
    return result
