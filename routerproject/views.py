"""Project-level pages: the landing page and the error pages, JSON envelope under /api/."""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found, server_error

from .envelope import error_body


def _wants_envelope(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_envelope(request):
        return JsonResponse(
            error_body(f"No such endpoint: {request.path}", "NOT_FOUND"), status=404
        )
    return page_not_found(request, exception)


def internal_error(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    if _wants_envelope(request):
        return JsonResponse(error_body("Internal server error", "INTERNAL_ERROR"), status=500)
    return server_error(request)
