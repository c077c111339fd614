"""Who may call the operations API's /admin/* endpoints, and CORS for the operations API.

With TINY_DANCER_AUTH_TOKEN set: `Authorization: Bearer <token>`, compared in constant time (the
seed's scheme). Without it, /admin/* is never open: a staff operator must authenticate with a JWT
bearer token or HTTP Basic. The session cookie is not accepted, these views being CSRF-exempt for
API clients. Every refusal is counted (`<prefix>_admin_auth_failures_total`) and logged. A Basic
password goes through the sign-in throttle (authjwt.throttles): too many failures answer 429 with
`Retry-After`.
"""

import functools
import hmac
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.authentication import BasicAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from authjwt.authentication import RevocableJWTAuthentication
from authjwt.errors import TooManyAttempts
from monitoring import metrics

logger = logging.getLogger(__name__)

UNAUTHORIZED = {"error": "Missing or invalid Authorization header"}
View = Callable[..., HttpResponse]


def _bearer(request: HttpRequest) -> str | None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


def admin_principal(request: HttpRequest) -> tuple[bool, Any]:
    """(allowed, the staff user or None for the shared token); TooManyAttempts from a throttled
    Basic password."""
    token = settings.TINY_DANCER_AUTH_TOKEN
    if token:
        presented = _bearer(request) or ""
        return hmac.compare_digest(presented.encode(), token.encode()), None
    drf_request = Request(request)
    for authenticator in (RevocableJWTAuthentication(), BasicAuthentication()):
        try:
            result = authenticator.authenticate(drf_request)
        except AuthenticationFailed:
            return False, None
        if result is not None:
            user = result[0]
            return bool(user.is_active and user.is_staff), user
    return False, None


def _cors_origin(request: HttpRequest) -> str | None:
    allowed = settings.TINY_DANCER_CORS_ORIGINS
    origin = request.headers.get("Origin")
    if not allowed or not origin:
        return None
    if "*" in allowed:
        return "*"
    return origin if origin in allowed else None


def with_cors(view: View) -> View:
    """CORS for the operations API when TINY_DANCER_CORS_ORIGINS allows the origin (off by default):
    answers preflights and adds the allow headers."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        origin = _cors_origin(request)
        if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
            response = HttpResponse(status=204 if origin else 403)
            if origin:
                response["Access-Control-Allow-Methods"] = "GET, POST, PUT, OPTIONS"
                response["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
                response["Access-Control-Max-Age"] = "600"
        else:
            response = view(request, *args, **kwargs)
        if origin:
            response["Access-Control-Allow-Origin"] = origin
            if origin != "*":
                response["Vary"] = "Origin"
        return response

    return wrapped


def admin_endpoint(methods: tuple[str, ...]) -> Callable[[View], View]:
    """Method check, then authentication, then the view with `request.admin_user` set."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = JsonResponse({"error": "Method not allowed"}, status=405)
                response["Allow"] = ", ".join(methods)
                return response
            try:
                allowed, user = admin_principal(request)
            except TooManyAttempts as refusal:
                metrics.admin_auth_failed()  # the throttle has logged it
                response = JsonResponse({"error": refusal.message}, status=429)
                response["Retry-After"] = str(refusal.wait)
                return response
            if not allowed:
                metrics.admin_auth_failed()
                logger.warning(
                    "Refused %s %s from %s",
                    request.method,
                    request.path,
                    request.META.get("REMOTE_ADDR", "?"),
                )
                response = JsonResponse(UNAUTHORIZED, status=401)
                response["WWW-Authenticate"] = 'Bearer realm="admin"'
                return response
            request.admin_user = user  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return csrf_exempt(with_cors(wrapped))

    return decorate
