"""The process's shared state, chosen by settings: Redis when REDIS_URL is set, memory otherwise
(announcing its generation moves through the database, `announced.py`, outside the test suite)."""

from functools import lru_cache

from django.conf import settings

from .announced import AnnouncingState, announce_generations
from .base import GENERATION_KEY, AtomicScript, SharedState
from .memory import MemoryState
from .outage import OutageGate, StateUnavailable, log_degraded
from .redis import STATE_ERRORS, RedisState

__all__ = [
    "GENERATION_KEY",
    "STATE_ERRORS",
    "AnnouncingState",
    "AtomicScript",
    "MemoryState",
    "OutageGate",
    "RedisState",
    "SharedState",
    "StateUnavailable",
    "announce_generations",
    "get_state",
    "log_degraded",
]


@lru_cache(maxsize=1)
def get_state() -> SharedState:
    if settings.STATE_BACKEND == "redis":
        return RedisState(settings.REDIS_URL, prefix=settings.STATE_KEY_PREFIX)
    if settings.STATE_ANNOUNCES_GENERATIONS:
        return AnnouncingState()
    return MemoryState()
