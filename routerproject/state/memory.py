"""Process-local shared state: exact for one process, with the same semantics as Redis."""

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from .base import LEASE_OWNER_TTL_SECONDS, AtomicScript, lease_owner, lease_owner_key

Clock = Callable[[], float]


def least_loaded(in_flight: Sequence[int], weights: Sequence[float], start: int = 0) -> int:
    """The least-connections rule: the lowest in-flight count per unit of weight; ties go to the
    first from `start`, cyclically, so an idle pool is not all sent to the first instance. The
    Redis state runs this same rule in Lua (`lease_scripts.py`)."""
    count = len(in_flight)
    order = [(start + offset) % count for offset in range(count)]
    return min(order, key=lambda i: max(in_flight[i], 0) / weights[i])


# Expiring writes between two sweeps of the expired keys.
SWEEP_EVERY = 1024


class MemoryState:
    backend_name = "memory"

    def __init__(self, *, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._values: dict[str, Any] = {}
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()
        self._expiring_writes = 0

    def _live(self, key: str) -> Any:
        deadline = self._expiry.get(key)
        if deadline is not None and self._clock() >= deadline:
            self._values.pop(key, None)
            self._expiry.pop(key, None)
        return self._values.get(key)

    def _expire(self, key: str, ttl_seconds: float | None) -> None:
        if ttl_seconds is None:
            self._expiry.pop(key, None)
            return
        now = self._clock()
        self._expiry[key] = now + ttl_seconds
        # Keys written once and never read again (stored responses, request ids) would otherwise
        # stay until the process ends: every so many expiring writes, the expired ones go.
        self._expiring_writes += 1
        if self._expiring_writes >= SWEEP_EVERY:
            self._expiring_writes = 0
            for expired in [k for k, deadline in self._expiry.items() if deadline <= now]:
                self._values.pop(expired, None)
                del self._expiry[expired]

    def ping(self) -> bool:
        return True

    def get(self, key: str) -> str | None:
        with self._lock:
            value = self._live(key)
        return None if value is None else str(value)

    async def aget(self, key: str) -> str | None:
        return self.get(key)

    def get_many(self, keys: Sequence[str]) -> list[str | None]:
        with self._lock:
            values = [self._live(key) for key in keys]
        return [None if value is None else str(value) for value in values]

    async def aget_many(self, keys: Sequence[str]) -> list[str | None]:
        return self.get_many(keys)

    def run_script(
        self,
        script: AtomicScript,
        keys: Sequence[str],
        args: Sequence[Any],
        now: float | None = None,
    ) -> list[str]:
        with self._lock:
            moment = self._clock() if now is None else now
            result, values, ttl_seconds = script.memory([self._live(k) for k in keys], args, moment)
            ttls = ttl_seconds if isinstance(ttl_seconds, list) else [ttl_seconds] * len(keys)
            for key, value, ttl in zip(keys, values, ttls, strict=True):
                if value is None:
                    self._values.pop(key, None)
                    self._expiry.pop(key, None)
                else:
                    self._values[key] = value
                    self._expire(key, ttl)
        return result

    async def arun_script(
        self,
        script: AtomicScript,
        keys: Sequence[str],
        args: Sequence[Any],
        now: float | None = None,
    ) -> list[str]:
        return self.run_script(script, keys, args, now)

    def set(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        with self._lock:
            self._values[key] = value
            self._expire(key, ttl_seconds)

    async def aset(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        self.set(key, value, ttl_seconds)

    def delete(self, *keys: str) -> int:
        with self._lock:
            removed = sum(1 for key in keys if self._live(key) is not None)
            for key in keys:
                self._values.pop(key, None)
                self._expiry.pop(key, None)
        return removed

    async def adelete(self, *keys: str) -> int:
        return self.delete(*keys)

    def incr(self, key: str, amount: int = 1, ttl_seconds: float | None = None) -> int:
        with self._lock:
            current = self._live(key)
            value = int(current or 0) + amount
            self._values[key] = value
            # Like INCR followed by EXPIRE NX: the first increment starts the window.
            if ttl_seconds is not None and key not in self._expiry:
                self._expire(key, ttl_seconds)
        return value

    async def aincr(self, key: str, amount: int = 1, ttl_seconds: float | None = None) -> int:
        return self.incr(key, amount, ttl_seconds)

    def _leases(self, key: str) -> dict[str, int]:
        """`key`'s leases per owner alive; the shares of owners no longer alive are dropped."""
        current = self._live(key)
        leases: dict[str, int] = current if isinstance(current, dict) else {}
        for dead in [o for o in leases if self._live(lease_owner_key(o)) is None]:
            del leases[dead]
        return leases

    def _refresh_owner(self, owner: str) -> None:
        self._values[lease_owner_key(owner)] = "1"
        self._expire(lease_owner_key(owner), LEASE_OWNER_TTL_SECONDS)

    def incr_least(
        self,
        keys: Sequence[str],
        weights: Sequence[float],
        start: int = 0,
        ttl_seconds: float | None = None,
        *,
        owner: str | None = None,
    ) -> int:
        owner = owner or lease_owner()
        with self._lock:
            self._refresh_owner(owner)
            chosen = least_loaded([sum(self._leases(k).values()) for k in keys], weights, start)
            key = keys[chosen]
            leases = self._leases(key)
            leases[owner] = leases.get(owner, 0) + 1
            self._values[key] = leases
            if ttl_seconds is not None:
                self._expire(key, ttl_seconds)
        return chosen

    async def aincr_least(
        self,
        keys: Sequence[str],
        weights: Sequence[float],
        start: int = 0,
        ttl_seconds: float | None = None,
        *,
        owner: str | None = None,
    ) -> int:
        return self.incr_least(keys, weights, start, ttl_seconds, owner=owner)

    def release_lease(self, key: str, *, owner: str | None = None) -> None:
        owner = owner or lease_owner()
        with self._lock:
            leases = self._leases(key)
            held = leases.get(owner, 0) - 1
            if held > 0:
                leases[owner] = held
            else:
                leases.pop(owner, None)

    async def arelease_lease(self, key: str, *, owner: str | None = None) -> None:
        self.release_lease(key, owner=owner)

    def lease_count(self, key: str) -> int:
        with self._lock:
            return sum(self._leases(key).values())

    def refresh_lease_owner(self, owner: str | None = None) -> None:
        with self._lock:
            self._refresh_owner(owner or lease_owner())

    def set_add(self, key: str, *members: str) -> int:
        with self._lock:
            current = self._live(key)
            members_set: set[str] = current if isinstance(current, set) else set()
            before = len(members_set)
            members_set.update(members)
            self._values[key] = members_set
        return len(members_set) - before

    def set_remove(self, key: str, *members: str) -> int:
        with self._lock:
            current = self._live(key)
            if not isinstance(current, set):
                return 0
            before = len(current)
            current.difference_update(members)
        return before - len(current)

    def set_contains(self, key: str, member: str) -> bool:
        with self._lock:
            current = self._live(key)
        return isinstance(current, set) and member in current

    async def aset_contains(self, key: str, member: str) -> bool:
        return self.set_contains(key, member)

    def set_size(self, key: str) -> int:
        with self._lock:
            current = self._live(key)
        return len(current) if isinstance(current, set) else 0

    def list_push(self, key: str, *values: str) -> int:
        with self._lock:
            current = self._live(key)
            items: list[str] = current if isinstance(current, list) else []
            items.extend(values)
            self._values[key] = items
            return len(items)

    async def alist_push(self, key: str, *values: str) -> int:
        return self.list_push(key, *values)

    def list_drain(self, key: str, limit: int) -> list[str]:
        with self._lock:
            current = self._live(key)
            if not isinstance(current, list):
                return []
            taken, rest = current[:limit], current[limit:]
            self._values[key] = rest
            return taken

    def list_range(self, key: str, count: int) -> list[str]:
        with self._lock:
            current = self._live(key)
            return list(current[-count:]) if isinstance(current, list) and count > 0 else []

    def list_trim(self, key: str, keep: int) -> None:
        with self._lock:
            current = self._live(key)
            if isinstance(current, list):
                self._values[key] = current[-keep:] if keep > 0 else []

    def list_remove(self, key: str, value: str) -> int:
        with self._lock:
            current = self._live(key)
            if not isinstance(current, list):
                return 0
            kept = [item for item in current if item != value]
            self._values[key] = kept
            return len(current) - len(kept)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._expiry.clear()
