"""Generation counters: how the caches of every process follow the fleet.

A process caches what it would otherwise read on every request (the live configuration, the
monitoring settings and degradation level, API keys, the neural router, the JWT revocation set's
marker). Whoever changes what a cache holds moves a counter in shared state (an `incr`, or a new
random token), and every process compares the counters with the values its caches were built at.
Caches `follow` their counters here, and a check reads every counter this process follows in one
round trip (MGET): a `/v1` request pays at most one round trip for all its freshness checks
together (one it pays anyway when it sends an API key, whose generation is followed on every
request), whichever checks are due.

- A follower has an interval: it looks at the counters at most that often, and any reading younger
  than its interval serves it (`check_interval`, `LIVE_CONFIG_CHECK_INTERVAL`, for most). A follower
  whose interval is 0 looks on every request (`every_request`: the API-key cache, so that a revoked
  key is refused by every worker on its very next request).
- Within one request (`one_reading_per_request`, around the ASGI application) the first reading
  serves every later check of that request, whatever the intervals.
- Sync callers that may follow a write of their own (the management API, jobs) ask for a `fresh`
  reading: always one round trip, never shared.
- Keys that a request reads anyway before it is sent (its candidates' breakers and health bits) can
  `ride_along` with the request's first reading, in the same MGET, and are handed out once by
  `ridden`: a plain `/v1` request makes one round trip before it is sent.

One outage policy: when the counters cannot be read, the check returns a reading that says so
(`Reading.available` False, logged as degraded; the outage gate logs the outage itself once). It
serves the followers like any other reading, so the state is tried again by the next due check,
not by every cache in turn. A follower keeps what it holds and says what that means for it: the
live configuration and the neural router serve their snapshot, the monitoring view stays as it
was, API keys and JWT revocations are read from the database.

`forget()` is the tests' one reset: every follower is due again and drops what it caches.
"""

import contextvars
import logging
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from .state import STATE_ERRORS, SharedState, get_state, log_degraded

logger = logging.getLogger(__name__)

Interval = Callable[[], float]
ASGIApp = Callable[..., Awaitable[None]]


def check_interval() -> float:
    """`LIVE_CONFIG_CHECK_INTERVAL`, read when a check is made (tests change it)."""
    return float(settings.LIVE_CONFIG_CHECK_INTERVAL)


def every_request() -> float:
    return 0.0


@dataclass(frozen=True)
class Reading:
    """The counters as one check found them; `at` is when the check began (the registry's clock)."""

    values: Mapping[str, str | None]
    at: float
    error: BaseException | None = None

    @property
    def available(self) -> bool:
        return self.error is None

    def covers(self, keys: Iterable[str]) -> bool:
        return self.error is not None or all(key in self.values for key in keys)

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def number(self, key: str) -> int:
        """A counter moved by `incr` (0 when it was never moved)."""
        raw = self.values.get(key)
        return int(raw) if raw else 0


class _Request:
    """The reading of the request under way (shared by the tasks the request starts), and the keys
    that ride along with its first check (`ride_along`)."""

    __slots__ = ("reading", "rider_values", "riders")

    def __init__(self) -> None:
        self.reading: Reading | None = None
        self.riders: tuple[str, ...] = ()
        self.rider_values: dict[str, str | None] | None = None


_request: contextvars.ContextVar[_Request | None] = contextvars.ContextVar(
    "generations_request", default=None
)


class Follower:
    """One cache's hold on its counters. `due()` says whether it should look again; `aread()` /
    `read()` give it a reading and count as its look."""

    def __init__(
        self,
        registry: "Generations",
        keys: tuple[str, ...],
        interval: Interval,
        on_forget: Callable[[], None] | None,
    ) -> None:
        self.registry = registry
        self.keys = keys
        self.interval = interval
        self.on_forget = on_forget
        self.checked_at = float("-inf")

    def due(self) -> bool:
        return self.registry.clock() - self.checked_at >= self.interval()

    async def aread(self) -> Reading:
        """The request's reading, one younger than the interval, or a new one (one round trip)."""
        reading = await self.registry.aread(self.keys, self.interval())
        self.checked_at = reading.at
        return reading

    def read(self, *, fresh: bool = False) -> Reading:
        """For sync callers; `fresh` reads the counters now whatever the interval."""
        reading = self.registry.read(self.keys, 0.0 if fresh else self.interval())
        self.checked_at = reading.at
        return reading

    def postpone(self) -> None:
        """The cache was just brought up to the fleet: the next look waits a whole interval."""
        self.checked_at = self.registry.clock()

    def forget(self) -> None:
        self.checked_at = float("-inf")
        if self.on_forget is not None:
            self.on_forget()


class Generations:
    """The counters this process follows, and the latest reading of them. The state and the clock
    are injectable for tests."""

    def __init__(
        self,
        *,
        state: Callable[[], SharedState] = get_state,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.state = state
        self.clock = clock
        self._keys: dict[str, None] = {}
        self._followers: weakref.WeakSet[Follower] = weakref.WeakSet()
        self._latest: Reading | None = None
        self._lock = threading.Lock()

    def follow(
        self, *keys: str, interval: Interval, on_forget: Callable[[], None] | None = None
    ) -> Follower:
        follower = Follower(self, keys, interval, on_forget)
        with self._lock:
            self._keys.update(dict.fromkeys(keys))
            self._followers.add(follower)
        return follower

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def _serving(
        self, keys: tuple[str, ...], max_age: float, request: _Request | None
    ) -> Reading | None:
        if request is not None and request.reading is not None and request.reading.covers(keys):
            return request.reading
        latest = self._latest
        if latest is not None and latest.covers(keys) and self.clock() - latest.at < max_age:
            return latest
        return None

    def _unavailable(self, error: BaseException, at: float) -> Reading:
        log_degraded(
            logger, error, "Generations unread, every cache keeps what it holds: %s", error
        )
        return Reading({}, at, error)

    async def aread(self, keys: tuple[str, ...], max_age: float) -> Reading:
        request = _request.get()
        reading = self._serving(keys, max_age, request)
        if reading is not None:
            return reading
        names, at = self.keys, self.clock()
        riders = request.riders if request is not None else ()
        try:
            values = await self.state().aget_many(names + riders)
        except STATE_ERRORS as exc:
            reading = self._unavailable(exc, at)
        else:
            reading = Reading(dict(zip(names, values[: len(names)], strict=True)), at)
            if request is not None and riders:
                request.rider_values = dict(zip(riders, values[len(names) :], strict=True))
        self._latest = reading
        if request is not None:
            request.reading = reading
        return reading

    def read(self, keys: tuple[str, ...], max_age: float) -> Reading:
        reading = self._serving(keys, max_age, None)
        if reading is not None:
            return reading
        names, at = self.keys, self.clock()
        try:
            values = self.state().get_many(names)
        except STATE_ERRORS as exc:
            reading = self._unavailable(exc, at)
        else:
            reading = Reading(dict(zip(names, values, strict=True)), at)
        self._latest = reading
        return reading

    def forget(self) -> None:
        self._latest = None
        for follower in list(self._followers):
            follower.forget()


_generations = Generations()


def follow(*keys: str, interval: Interval, on_forget: Callable[[], None] | None = None) -> Follower:
    """Follow these counters at most every `interval()` seconds; `on_forget` drops the cache that
    follows them (tests, through `forget`)."""
    return _generations.follow(*keys, interval=interval, on_forget=on_forget)


def followed_keys() -> tuple[str, ...]:
    """Every counter one check reads in this process."""
    return _generations.keys


def forget() -> None:
    """Tests: forget every reading, and every follower drops its cache and is due again."""
    _generations.forget()


def ride_along(keys: tuple[str, ...]) -> None:
    """Keys (not counters) the request under way will read anyway: if its first check of the
    counters is still to come, they are read in the same MGET, and `ridden` hands them out."""
    request = _request.get()
    if request is not None and request.reading is None:
        request.riders = keys


def ridden(keys: Sequence[str]) -> list[str | None] | None:
    """The values of `keys` read with this request's check of the counters, once (a retry reads
    again), or None when they were not: the caller reads them itself."""
    request = _request.get()
    if request is None or request.rider_values is None:
        return None
    values = request.rider_values
    if any(key not in values for key in keys):
        return None
    request.rider_values = None
    return [values[key] for key in keys]


def one_reading_per_request(application: ASGIApp) -> ASGIApp:
    """Wrap an ASGI application so that one HTTP request reads the counters at most once."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await application(scope, receive, send)
            return
        token = _request.set(_Request())
        try:
            await application(scope, receive, send)
        finally:
            _request.reset(token)

    return app
