"""What a process knows about its shared state being unreachable, so an outage costs one failed call
per retry interval instead of one per call.

A Redis that is down refuses connections at once, but one that hangs (a frozen server, a dropped
network path) makes every call wait for the socket timeout: with several state calls per request,
each request would wait seconds. After a connection failure the gate is *closed*: calls fail at once
with `StateUnavailable` (a `redis.ConnectionError`, so every `except STATE_ERRORS` handles it) until
`retry_after` seconds have passed; then exactly one call probes the server while the others keep
failing fast, and its outcome opens the gate or closes it for another interval. The transitions are
logged once each, so an outage does not log one line per request.
"""

import logging
import threading
import time
from collections.abc import Callable

import redis

logger = logging.getLogger("routerproject.state")

# How long a process trusts that its shared state is still down before trying it again.
OUTAGE_RETRY_SECONDS = 1.0


class StateUnavailable(redis.ConnectionError):
    """Raised without a network call while the shared state is known to be unreachable."""


class OutageGate:
    """Open (calls go through) until a connection failure; then closed for `retry_after` seconds,
    then one probe at a time. Thread-safe; `clock` is injectable for tests."""

    def __init__(
        self,
        retry_after: float = OUTAGE_RETRY_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        name: str = "shared state",
    ) -> None:
        self.retry_after = retry_after
        self.clock = clock
        self.name = name
        self.down_since: float | None = None
        self.retry_at = 0.0
        self.probing = False
        self.failures = 0  # connection failures seen (real ones, not the fast refusals)
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        return self.down_since is None

    def enter(self) -> None:
        """Let a call through, or raise StateUnavailable while the state is known to be down."""
        if self.down_since is None:
            return
        with self._lock:
            if self.down_since is None:
                return
            if not self.probing and self.clock() >= self.retry_at:
                self.probing = True  # this call is the probe
                return
        raise StateUnavailable(f"{self.name} unreachable (retrying every {self.retry_after:g}s)")

    def failed(self, error: BaseException) -> None:
        with self._lock:
            now = self.clock()
            self.failures += 1
            self.retry_at = now + self.retry_after
            self.probing = False
            if self.down_since is not None:
                return
            self.down_since = now
        logger.warning(
            "%s unreachable (%s): degraded mode until it answers, retried every %gs",
            self.name.capitalize(),
            error,
            self.retry_after,
        )

    def succeeded(self) -> None:
        if self.down_since is None:
            return
        with self._lock:
            if self.down_since is None:
                return
            outage = self.clock() - self.down_since
            self.down_since = None
            self.probing = False
        logger.warning("%s reachable again after %.1fs", self.name.capitalize(), outage)

    def abandoned(self) -> None:
        """The call ended without telling either way (cancelled, or failed before the network)."""
        with self._lock:
            self.probing = False


def log_degraded(log: logging.Logger, error: BaseException, message: str, *args: object) -> None:
    """Log what a call site did without its shared state: WARNING for a real failure, DEBUG for the
    fast refusals of a closed gate (the outage itself was logged once, when it began)."""
    level = logging.DEBUG if isinstance(error, StateUnavailable) else logging.WARNING
    log.log(level, message, *args)
