"""The unified response format of the management API (`/api/*`).

Success: {"success": true, "message", "data", "timestamp"}
Error:   {"success": false, "message", "data", "errorCode", "timestamp"}
"""

from typing import Any

from django.utils import timezone
from rest_framework.response import Response


def timestamp() -> str:
    return timezone.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def success_body(data: Any = None, message: str = "OK") -> dict[str, Any]:
    return {"success": True, "message": message, "data": data, "timestamp": timestamp()}


def error_body(message: str, error_code: str, data: Any = None) -> dict[str, Any]:
    return {
        "success": False,
        "message": message,
        "data": data,
        "errorCode": error_code,
        "timestamp": timestamp(),
    }


def envelope(
    data: Any = None,
    *,
    message: str = "OK",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(success_body(data, message), status=status, headers=headers)
