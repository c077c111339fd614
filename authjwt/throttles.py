"""Login throttling that holds across workers: counters live in the shared state, per client address
and per user name, in fixed one-minute windows."""

import logging
import time
from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from routerproject.state import MemoryState, get_state

from .blacklist import STATE_ERRORS

logger = logging.getLogger(__name__)
_local = MemoryState()

WINDOW_SECONDS = 60


class LoginRateThrottle(BaseThrottle):
    scope = "login"

    def __init__(self) -> None:
        self._wait: float | None = None

    def _keys(self, request: Request) -> list[str]:
        window = int(time.time() // WINDOW_SECONDS)
        keys = [f"auth:throttle:{self.scope}:ip:{self.get_ident(request)}:{window}"]
        username = request.data.get("username") if hasattr(request.data, "get") else None
        if isinstance(username, str) and username:
            keys.append(f"auth:throttle:{self.scope}:user:{username.lower()[:150]}:{window}")
        return keys

    def allow_request(self, request: Request, view: Any) -> bool:
        limit = settings.JWT_LOGIN_ATTEMPTS_PER_MINUTE
        keys = self._keys(request)
        try:
            state = get_state()
            counts = [state.incr(key, ttl_seconds=WINDOW_SECONDS) for key in keys]
        except STATE_ERRORS as exc:
            # Still throttled while Redis is down, per process rather than fleet-wide.
            logger.warning("Login throttle counted per process, shared state unavailable: %s", exc)
            counts = [_local.incr(key, ttl_seconds=WINDOW_SECONDS) for key in keys]
        if max(counts) > limit:
            self._wait = WINDOW_SECONDS - (time.time() % WINDOW_SECONDS)
            return False
        return True

    def wait(self) -> float | None:
        return None if self._wait is None else max(1.0, self._wait)
