"""The browsable API is a convenience for staff signed in with a session; everyone else gets JSON."""

from collections.abc import Iterable
from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer
from rest_framework.request import Request


class StaffOnlyBrowsableNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> Any:
        # The session user set by Django's middleware: negotiation must not trigger API auth.
        session_user = getattr(request._request, "user", None)
        if not (session_user is not None and session_user.is_staff):
            renderers = [r for r in renderers if not isinstance(r, BrowsableAPIRenderer)]
        return super().select_renderer(request, renderers, format_suffix)
