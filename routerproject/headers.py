"""Browser security headers Django does not send itself: Content-Security-Policy on the pages that
are built for it, Permissions-Policy everywhere. (X-Content-Type-Options, Referrer-Policy and
X-Frame-Options come from Django's SecurityMiddleware and XFrameOptionsMiddleware.)

Async-native, unlike a `MiddlewareMixin`, so it adds no thread hop under ASGI.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase


class SecurityHeadersMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
        self.policy = settings.CONTENT_SECURITY_POLICY
        self.policy_paths = tuple(settings.CONTENT_SECURITY_POLICY_PATHS)
        self.permissions = settings.PERMISSIONS_POLICY

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self._acall(request)
        return self._add_headers(request, self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        response: Awaitable[HttpResponseBase] = self.get_response(request)
        return self._add_headers(request, await response)

    def _add_headers(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if self.policy and request.path.startswith(self.policy_paths):
            response.headers.setdefault("Content-Security-Policy", self.policy)
        if self.permissions:
            response.headers.setdefault("Permissions-Policy", self.permissions)
        return response
