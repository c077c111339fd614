"""The JWT blacklist: which token ids (`jti`) are revoked, answered fast and never wrongly "allowed".

The database (`IssuedToken.status`) is the source of truth. The shared state holds the revoked ids as a
set, so every worker answers from one Redis round trip. When the shared state fails, the answer comes
from the database instead, and the process remembers to rebuild the set once the state answers again.
A marker key holds the database's *revocation watermark* (how many revoked rows, the latest
`revoked_at`) the set was last brought up to, followed like a generation (`routerproject.generations`).
About once a second a process compares it with the database's: when Redis lost its data (restart
without persistence, flush) the marker is gone and the set is rebuilt; when a revocation happened
since (in particular one whose addition to the set failed because Redis was unreachable, noticed by
no other worker) the ids revoked since the marker's time are added. A worker that was idle during an
outage therefore never trusts a set that misses a token revoked during it.

Each check is measured (duration, answered by the state or by the database) for `/blacklist/stats`.
"""

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Max
from django.utils import timezone

from routerproject.generations import follow
from routerproject.state import STATE_ERRORS, get_state, log_degraded

from .models import IssuedToken, TokenStatus

logger = logging.getLogger(__name__)

REVOKED_SET_KEY = "auth:jwt:revoked"
LOADED_MARKER_KEY = "auth:jwt:revoked:loaded"
STATS_KEYS = {
    "validations": "auth:jwt:stats:validations",
    "hits": "auth:jwt:stats:hits",
    "micros": "auth:jwt:stats:micros",
}
# How often a process checks the set against the database (a Redis restart loses it, an outage may
# have kept a revocation out of it).
MARKER_CHECK_SECONDS = 1.0
# Ids revoked up to this long before the marker's latest are added again when it moves: a revocation
# stamped earlier than another may commit after it.
CATCH_UP_SLACK = timedelta(minutes=5)
METER_FLUSH_SECONDS = 1.0


class _Process:
    """What this process knows about the shared set: whether it must be rebuilt (the follower of
    its marker says when it was last confirmed loaded)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.needs_rebuild = False
        self.last_fallback_at: float | None = None

    def forget(self) -> None:
        with self.lock:
            self.needs_rebuild = False
            self.last_fallback_at = None


_process = _Process()
_marker = follow(
    LOADED_MARKER_KEY, interval=lambda: MARKER_CHECK_SECONDS, on_forget=_process.forget
)


def _revoked_jtis_in_database() -> list[str]:
    return list(
        IssuedToken.objects.filter(
            status=TokenStatus.REVOKED, expires_at__gt=timezone.now()
        ).values_list("jti", flat=True)
    )


def _watermark() -> str:
    """`count|latest revoked_at (Unix µs)` of the revoked rows: moves with every revocation."""
    figures = IssuedToken.objects.filter(status=TokenStatus.REVOKED).aggregate(
        count=Count("pk"), latest=Max("revoked_at")
    )
    latest = figures["latest"]
    return f"{figures['count']}|{round(latest.timestamp() * 1e6) if latest else 0}"


def _catch_up(since_micros: int) -> list[str]:
    since = datetime.fromtimestamp(since_micros / 1e6, tz=UTC)
    return list(
        IssuedToken.objects.filter(
            status=TokenStatus.REVOKED,
            expires_at__gt=timezone.now(),
            revoked_at__gte=since - CATCH_UP_SLACK,
        ).values_list("jti", flat=True)
    )


def blacklist_rebuild(*, marker: str | None = None) -> int:
    """Bring the shared set up to the database: every revoked, unexpired token id, or with the
    `marker` the set was last brought up to, the ids revoked since; returns how many were added."""
    state = get_state()
    state.get(LOADED_MARKER_KEY)  # fails fast while the state is down, before the database read
    watermark = _watermark()  # before the ids: a revocation committed meanwhile moves it again
    jtis = _revoked_jtis_in_database() if marker is None else _catch_up(int(marker.split("|")[1]))
    for start in range(0, len(jtis), 1000):
        state.set_add(REVOKED_SET_KEY, *jtis[start : start + 1000])
    state.set(LOADED_MARKER_KEY, watermark)
    with _process.lock:
        _process.needs_rebuild = False
    _marker.postpone()
    return len(jtis)


def _ensure_loaded() -> None:
    if _process.needs_rebuild:
        blacklist_rebuild()
        return
    if not _marker.due():
        return
    reading = _marker.read()
    if reading.error is not None:
        raise reading.error.with_traceback(None)
    marker = reading.get(LOADED_MARKER_KEY)
    if marker is None or "|" not in marker:
        blacklist_rebuild()
    elif marker != _watermark():
        blacklist_rebuild(marker=marker)


def _note_state_failure(exc: Exception) -> None:
    with _process.lock:
        _process.needs_rebuild = True
        _process.last_fallback_at = time.monotonic()
    log_degraded(
        logger,
        exc,
        "JWT blacklist: shared state unavailable (%s); answering from the database",
        exc,
    )


def blacklist_add(jtis: list[str]) -> bool:
    """Put revoked ids in the shared set (after the database says so); False if the state failed."""
    if not jtis:
        return True
    try:
        get_state().set_add(REVOKED_SET_KEY, *jtis)
    except STATE_ERRORS as exc:
        _note_state_failure(exc)
        return False
    return True


def blacklist_remove(jtis: list[str]) -> None:
    if not jtis:
        return
    try:
        get_state().set_remove(REVOKED_SET_KEY, *jtis)
    except STATE_ERRORS as exc:  # stale members only cost memory: they can never be presented again
        logger.warning("JWT blacklist: could not remove %d expired ids (%s)", len(jtis), exc)


def is_revoked(jti: str) -> bool:
    """True when the token must be refused: revoked, or unknown to the database on the fallback path."""
    started = time.perf_counter()
    try:
        _ensure_loaded()
        revoked = get_state().set_contains(REVOKED_SET_KEY, jti)
        from_state = True
    except STATE_ERRORS as exc:
        _note_state_failure(exc)
        status = IssuedToken.objects.filter(jti=jti).values_list("status", flat=True).first()
        revoked = status != TokenStatus.ACTIVE
        from_state = False
    meter.record(time.perf_counter() - started, from_state=from_state)
    return revoked


@dataclass(frozen=True)
class ValidationFigures:
    validations: int
    hits: int
    micros: int

    @property
    def average_ms(self) -> float:
        return self.micros / self.validations / 1000 if self.validations else 0.0

    @property
    def hit_rate(self) -> float:
        return self.hits / self.validations if self.validations else 0.0


class ValidationMeter:
    """Counts checks in-process and adds them to fleet-wide counters about once a second, so measuring
    costs no extra round trip per request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending = {"validations": 0, "hits": 0, "micros": 0}
        self._flushed_at = time.monotonic()

    def record(self, seconds: float, *, from_state: bool) -> None:
        with self._lock:
            self._pending["validations"] += 1
            self._pending["hits"] += int(from_state)
            self._pending["micros"] += round(seconds * 1_000_000)
            due = time.monotonic() - self._flushed_at >= METER_FLUSH_SECONDS
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {"validations": 0, "hits": 0, "micros": 0}
            self._flushed_at = time.monotonic()
        if not pending["validations"]:
            return
        state = get_state()
        try:
            for name, amount in pending.items():
                state.incr(STATS_KEYS[name], amount)
        except STATE_ERRORS:
            # Keep the figures for the next flush rather than lose them.
            with self._lock:
                for name, amount in pending.items():
                    self._pending[name] += amount

    def figures(self) -> ValidationFigures:
        """Fleet-wide figures (this process's unflushed checks included)."""
        self.flush()
        with self._lock:
            totals = dict(self._pending)
        try:
            state = get_state()
            for name, key in STATS_KEYS.items():
                totals[name] += int(state.get(key) or 0)
        except STATE_ERRORS:
            pass
        return ValidationFigures(totals["validations"], totals["hits"], totals["micros"])


meter = ValidationMeter()


def last_fallback_seconds_ago() -> float | None:
    at = _process.last_fallback_at
    return None if at is None else time.monotonic() - at
