"""Throttling of credential checks that holds across workers: counters live in the shared state, per
client address and per user name, in fixed one-minute windows.

Passwords: every way of presenting one (the JWT login, HTTP Basic on /api and /admin/*, the sign-in
forms of the dashboard, the Django admin and the browsable API) goes through Django's `authenticate`
and so through `backends.ThrottledModelBackend`, which takes a `PasswordAttempt` first. An attempt
is counted before the password is checked (an atomic increment, so parallel guesses cannot all slip
under the limit) and given back when the password is right: what remains are the failures. Once the
user name or the address has used up `JWT_LOGIN_ATTEMPTS_PER_MINUTE`, every password for it is
refused, the right one included, until the window ends. Scripts that call /api with the right Basic
credentials are therefore never throttled. Refresh calls, which present no password, are limited per
address by `RefreshRateThrottle`.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from monitoring import metrics
from routerproject.client_address import client_ip, parse_networks
from routerproject.state import MemoryState, get_state

from .blacklist import STATE_ERRORS
from .errors import TooManyAttempts

logger = logging.getLogger(__name__)
_local = MemoryState()

WINDOW_SECONDS = 60
MAX_USER_NAME = 150
# The wall clock (windows are shared by every worker); tests move it.
clock: Callable[[], float] = time.time


def client_address(request: Any) -> str:
    """The address a credential came from: the peer, or behind a proxy of
    `GATEWAY_TRUSTED_PROXIES` the client it forwarded for (as the data plane reads it)."""
    return client_ip(
        request.META.get("REMOTE_ADDR", ""),
        request.META.get("HTTP_X_FORWARDED_FOR"),
        parse_networks(settings.GATEWAY_TRUSTED_PROXIES),
    )


def _window() -> tuple[int, float]:
    """The current window's number and the seconds until it ends (at least 1, for Retry-After)."""
    now = clock()
    return int(now // WINDOW_SECONDS), max(1.0, WINDOW_SECONDS - now % WINDOW_SECONDS)


def _add(keys: list[str], amount: int) -> list[int]:
    try:
        state = get_state()
        return [state.incr(key, amount, ttl_seconds=WINDOW_SECONDS) for key in keys]
    except STATE_ERRORS as exc:
        # Still throttled while Redis is down, per process rather than fleet-wide.
        logger.warning("Sign-in throttle counted per process, shared state unavailable: %s", exc)
        return [_local.incr(key, amount, ttl_seconds=WINDOW_SECONDS) for key in keys]


class PasswordAttempt:
    """One password check, counted against its user name and its address until it succeeds."""

    def __init__(self, username: str, address: str) -> None:
        self.username = username[:MAX_USER_NAME]
        self.address = address
        window, self.wait = _window()
        self.keys = [
            f"auth:throttle:password:user:{self.username.lower()}:{window}",
            f"auth:throttle:password:ip:{address}:{window}",
        ]

    def begin(self) -> None:
        """Count the attempt; TooManyAttempts (nothing checked) once its user or address is over."""
        if max(_add(self.keys, 1)) > settings.JWT_LOGIN_ATTEMPTS_PER_MINUTE:
            metrics.password_failed(throttled=True)
            logger.warning(
                "Password attempt for user %r from %s refused: too many failures, %d s left",
                self.username,
                self.address,
                self.wait,
            )
            raise TooManyAttempts(self.wait)

    def succeeded(self) -> None:
        """The right password: the attempt is given back."""
        _add(self.keys, -1)

    def failed(self) -> None:
        metrics.password_failed(throttled=False)
        logger.warning("Wrong password for user %r from %s", self.username, self.address)


class RefreshRateThrottle(BaseThrottle):
    """Refresh calls per client address per window (they present a token, not a password)."""

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        window, wait = _window()
        key = f"auth:throttle:refresh:ip:{client_address(request)}:{window}"
        if _add([key], 1)[0] > settings.JWT_LOGIN_ATTEMPTS_PER_MINUTE:
            self._wait = wait
            return False
        return True

    def wait(self) -> float | None:
        return self._wait
