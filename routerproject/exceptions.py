"""Domain errors and the one exception handler that turns any error into the envelope.

Services raise the domain errors below (or Django's ValidationError from `full_clean()`); views never
build error responses themselves. User input never produces a 500: anything unexpected is logged with
its traceback and answered with a generic 500 envelope that carries none. A database that cannot be
reached (connection refused or lost: OperationalError, InterfaceError) is 503 with `Retry-After`;
services own their transactions, so a write it interrupted was rolled back as a whole.
"""

import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

from .envelope import error_body

logger = logging.getLogger(__name__)


class DomainError(Exception):
    status_code = 400
    error_code = "BAD_REQUEST"
    default_message = "The request cannot be processed"

    def __init__(self, message: str | None = None, *, errors: dict[str, list[str]] | None = None):
        self.message = message or self.default_message
        self.errors = errors
        super().__init__(self.message)


class InvalidInput(DomainError):
    status_code = 400
    error_code = "VALIDATION_ERROR"
    default_message = "Parameter validation failed"

    def __init__(self, message: str | None = None, *, errors: dict[str, list[str]] | None = None):
        # Without a message, name the first field at fault, as DRF's validation errors do.
        super().__init__(
            message or (_validation_message(errors) if errors else None), errors=errors
        )


class NotFound(DomainError):
    status_code = 404
    error_code = "NOT_FOUND"
    default_message = "Resource not found"


class Conflict(DomainError):
    status_code = 409
    error_code = "CONFLICT"
    default_message = "The resource already exists or was changed concurrently"


class ServiceUnavailable(DomainError):
    status_code = 503
    error_code = "SERVICE_UNAVAILABLE"
    default_message = "The database is unavailable; nothing was changed. Try again shortly"


# Seconds a client is asked to wait after a 503 (a database restart or failover takes a few).
RETRY_AFTER_SECONDS = 5


def validation_errors(detail: Any) -> dict[str, list[str]]:
    """DRF's nested error detail -> {"field.sub": ["message", ...]} with string messages."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        elif isinstance(node, list) and node and all(not isinstance(n, dict | list) for n in node):
            flat.setdefault(prefix or "nonFieldErrors", []).extend(str(n) for n in node)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(f"{prefix}[{index}]", value)
        else:
            flat.setdefault(prefix or "nonFieldErrors", []).append(str(node))

    walk("", detail)
    return flat


def _validation_message(errors: dict[str, list[str]]) -> str:
    first_field, messages = next(iter(errors.items()))
    if first_field == "nonFieldErrors":
        return f"Parameter validation failed: {messages[0]}"
    return f"Parameter validation failed: {first_field}: {messages[0]}"


_DRF_CODES: dict[type[drf.APIException], str] = {
    drf.ParseError: "MALFORMED_REQUEST",
    drf.AuthenticationFailed: "UNAUTHORIZED",
    drf.NotAuthenticated: "UNAUTHORIZED",
    drf.PermissionDenied: "FORBIDDEN",
    drf.NotFound: "NOT_FOUND",
    drf.MethodNotAllowed: "METHOD_NOT_ALLOWED",
    drf.NotAcceptable: "NOT_ACCEPTABLE",
    drf.UnsupportedMediaType: "UNSUPPORTED_MEDIA_TYPE",
    drf.Throttled: "RATE_LIMITED",
}


def _detail_message(detail: Any) -> str:
    """The readable text of an APIException's detail, which may be nested: simplejwt's InvalidToken
    carries {"detail", "code", "messages"}, whose str() is a Python repr."""
    if isinstance(detail, dict) and detail:
        return _detail_message(
            detail["detail"] if "detail" in detail else next(iter(detail.values()))
        )
    if isinstance(detail, list) and detail:
        return _detail_message(detail[0])
    return str(detail)


def envelope_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, DomainError):
        data = {"errors": exc.errors} if exc.errors else None
        return Response(error_body(exc.message, exc.error_code, data), status=exc.status_code)

    if isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "error_dict") else {"nonFieldErrors": exc.messages}
        )
        exc = drf.ValidationError(detail)
    elif isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = drf.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf.PermissionDenied()
    elif isinstance(exc, IntegrityError):
        return Response(
            error_body(Conflict.default_message, Conflict.error_code), status=Conflict.status_code
        )
    elif isinstance(exc, OperationalError | InterfaceError):
        view = context.get("view")
        # No traceback: the cause is outside the code, and one line per refused call is enough.
        logger.warning(
            "Database unavailable in %s: %s", type(view).__name__ if view else "view", exc
        )
        return Response(
            error_body(ServiceUnavailable.default_message, ServiceUnavailable.error_code),
            status=ServiceUnavailable.status_code,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    if isinstance(exc, drf.ValidationError):
        errors = validation_errors(exc.detail) or {"nonFieldErrors": ["Invalid input."]}
        return Response(
            error_body(_validation_message(errors), "VALIDATION_ERROR", {"errors": errors}),
            status=400,
        )

    if isinstance(exc, drf.APIException):
        headers: dict[str, str] = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "ERROR")
        return Response(
            error_body(_detail_message(exc.detail), code),
            status=exc.status_code,
            headers=headers or None,
        )

    view = context.get("view")
    logger.exception("Unhandled error in %s", type(view).__name__ if view else "view")
    return Response(error_body("Internal server error", "INTERNAL_ERROR"), status=500)
