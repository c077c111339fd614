"""The one authentication backend: Django's ModelBackend behind the password throttle.

Django's `authenticate` is what every password goes through (DRF's HTTP Basic, the sign-in forms,
`services.user_login`), so throttling here covers each of them, and any added later, with one
counter per user name and per address (`throttles`)."""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from .throttles import PasswordAttempt, client_address


class ThrottledModelBackend(ModelBackend):
    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        address: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """`address` is for callers without a request (the JWT login service); raises
        TooManyAttempts when the user name or the address has no attempt left."""
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        if request is not None:
            address = client_address(request)
        attempt = PasswordAttempt(str(username), address or "unknown")
        attempt.begin()
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            attempt.failed()
        else:
            attempt.succeeded()
        return user
