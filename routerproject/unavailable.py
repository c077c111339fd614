"""Pages outside /api and /v1 (the dashboard, Django's admin) when the database cannot be reached:
a 503 page that says so, with `Retry-After`, instead of the generic server error.

/api has its own mapping to the envelope (routerproject.exceptions) and /v1 never queries the
database. Only `process_exception` is defined, so under ASGI this middleware costs nothing until a
view raises.
"""

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.deprecation import MiddlewareMixin

from .exceptions import RETRY_AFTER_SECONDS


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        # No request context: the page must not touch the session or the user (the database).
        return HttpResponse(
            render_to_string("dashboard/unavailable.html"),
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
