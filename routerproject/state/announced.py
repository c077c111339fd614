"""Generation counters across processes that share the database but not the shared state.

Every per-process cache follows generation counters in shared state (`routerproject.generations`:
the live configuration and monitoring settings `config:generation`, the API-key cache, the neural
router's reload and breaker-reset counters). With Redis every process reads and moves the same counters. Without it (the
embedded default, `make run`) each process has its own `MemoryState`, so a change made by another
process (`manage.py import_config`, any `manage.py` command) moved a counter nobody else reads.

There, `get_state()` returns an `AnnouncingState`: each move of a registered counter is also counted
in the database (`AnnouncedGeneration`). The serving process runs an `AnnouncementFollower` in a daemon
thread (`follow_in_background`) that reads those counts every `LIVE_CONFIG_CHECK_INTERVAL` and moves
its own counter for every count that moved, without announcing that move again; every cache then
notices the change as it would a fleet's, off the request path. Its own changes are counted too, and
cost one extra rebuild. Apps register the counters they own with `announce_generations` in their
`AppConfig.ready()`.
"""

import logging
import threading
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.db import Error as DatabaseError
from django.db import IntegrityError, close_old_connections, transaction
from django.db.models import F

from .base import GENERATION_KEY
from .memory import MemoryState

logger = logging.getLogger(__name__)

ANNOUNCED_KEYS: set[str] = {GENERATION_KEY}


def announce_generations(*keys: str) -> None:
    """Announce the moves of these counters through the database (see the module docstring)."""
    ANNOUNCED_KEYS.update(keys)


def announced_moves() -> dict[str, int]:
    from routerproject.models import AnnouncedGeneration

    return dict(AnnouncedGeneration.objects.values_list("key", "moves"))


def _count_move(key: str) -> None:
    from routerproject.models import AnnouncedGeneration

    rows = AnnouncedGeneration.objects.filter(key=key)
    if rows.update(moves=F("moves") + 1):
        return
    try:
        with transaction.atomic():
            AnnouncedGeneration.objects.create(key=key, moves=1)
    except IntegrityError:  # another process created it meanwhile
        rows.update(moves=F("moves") + 1)


def announce(key: str) -> None:
    """Count one move of `key`; a database failure is logged (the local move stands)."""
    try:
        _count_move(key)
    except DatabaseError as exc:
        logger.warning("Generation %s moved here but could not be announced: %s", key, exc)


class AnnouncingState(MemoryState):
    """This process's state, announcing the moves of registered generation counters."""

    def set(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        super().set(key, value, ttl_seconds)
        if key in ANNOUNCED_KEYS:
            announce(key)

    def incr(self, key: str, amount: int = 1, ttl_seconds: float | None = None) -> int:
        value = super().incr(key, amount, ttl_seconds)
        if key in ANNOUNCED_KEYS:
            announce(key)
        return value

    def follow(self, key: str) -> None:
        """Move `key` here, unannounced, because another process moved it: a counter goes up by
        one, a random token (the API-key generation) is replaced by a new one."""
        current = super().get(key)
        if current is None or current.lstrip("-").isdigit():
            super().incr(key)
        else:
            super().set(key, uuid.uuid4().hex)


class AnnouncementFollower:
    """Moves `state`'s counters when the database says another process moved them."""

    def __init__(self, state: AnnouncingState) -> None:
        self.state = state
        # None until the counts could be read: everything is then moved once, to be safe.
        self.seen: dict[str, int] | None = self._read()

    def _read(self) -> dict[str, int] | None:
        try:
            return announced_moves()
        except DatabaseError as exc:
            logger.warning("Announced generations unreadable, changes wait: %s", exc)
            return None

    def poll(self) -> list[str]:
        """One check; returns the keys moved here."""
        counts = self._read()
        if counts is None:
            return []
        moved = sorted(_changed(self.seen, counts))
        for key in moved:
            self.state.follow(key)
        self.seen = counts
        return moved


def _changed(seen: dict[str, int] | None, counts: dict[str, int]) -> Iterable[str]:
    if seen is None:
        return counts.keys()
    return (key for key, moves in counts.items() if moves != seen.get(key, 0))


def follow_in_background(state: AnnouncingState) -> threading.Thread:
    """Start following the announced generations in a daemon thread of this process."""
    follower = AnnouncementFollower(state)
    interval = settings.LIVE_CONFIG_CHECK_INTERVAL

    def loop() -> None:
        stop = threading.Event()
        while not stop.wait(interval):
            close_old_connections()
            try:
                follower.poll()
            except Exception:  # the thread must outlive any one failure
                logger.exception("Announced generations not followed")

    thread = threading.Thread(target=loop, name="announcement-follower", daemon=True)
    thread.start()
    return thread
