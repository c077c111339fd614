"""The unified response format of the management API (`/api/*`).

Success: {"success": true, "message", "data", "timestamp"}
Error:   {"success": false, "message", "data", "errorCode", "timestamp"}
"""

from typing import Any

from django.utils import timezone
from rest_framework.metadata import SimpleMetadata
from rest_framework.request import Request
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


class EnvelopedMetadata(SimpleMetadata):
    """OPTIONS answers (DRF's description of a view) in the envelope like every other answer."""

    def determine_metadata(self, request: Request, view: Any) -> dict[str, Any]:
        return success_body(super().determine_metadata(request, view), "Options of this endpoint")
