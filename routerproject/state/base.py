"""The shared-state interface: what every worker of the fleet must agree on.

Limiters, breakers, balancer cursors, in-flight counts, health bits, the token blacklist and the
configuration generation live behind this interface. Two implementations:
- `MemoryState`: one process (the embedded default and unit tests);
- `RedisState`: any number of workers and hosts.
Sync methods serve the management API, Celery and admin; the `a`-prefixed ones serve the async
`/v1` hot path without blocking its event loop. Keys are namespaced by `STATE_KEY_PREFIX`.
"""

import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

GENERATION_KEY = "config:generation"

# A process's leases (`incr_least`) count only while it proved itself alive this recently: a worker
# killed mid-request stops refreshing, and its share of every count is dropped within this time.
LEASE_OWNER_TTL_SECONDS = 15.0
_owner: tuple[int, str] | None = None


def lease_owner() -> str:
    """This process's name as a lease owner, unique across hosts and restarts (a forked worker
    gets its own: the pid is checked)."""
    global _owner
    pid = os.getpid()
    if _owner is None or _owner[0] != pid:
        _owner = (pid, f"{socket.gethostname()}:{pid}:{uuid.uuid4().hex[:8]}")
    return _owner[1]


def lease_owner_key(owner: str) -> str:
    """Present (with LEASE_OWNER_TTL_SECONDS) while `owner` is alive."""
    return f"lease-owner:{owner}"


# The memory side of an AtomicScript: (current values of its keys, the caller's args, now) ->
# (result, new values (None deletes the key), TTL in seconds for the keys written or None, or one
# such TTL per key).
MemoryStep = Callable[
    [list[Any], Sequence[Any], float],
    tuple[list[str], list[Any], float | list[float | None] | None],
]


@dataclass(frozen=True, slots=True)
class AtomicScript:
    """One atomic read-modify-write over a few keys, for algorithms that are no single command
    (limiters, breakers). Apps define these next to the pure functions they apply; the kernel only
    runs them. Both sides return a list of strings.

    - `lua` runs in Redis as one script: KEYS are the keys (prefixed), ARGV[1] is `now` in seconds
      ('' means the Redis server's clock, shared by every host), ARGV[2..] the caller's args.
    - `memory` runs in MemoryState under its lock with the same args; `now` is the caller's or the
      state's clock. Values it stores may be any Python object (they are never read by another
      process), but values other code reads with `get` must be strings.
    """

    name: str
    lua: str
    memory: MemoryStep


@runtime_checkable
class SharedState(Protocol):
    backend_name: str

    def ping(self) -> bool: ...

    def get(self, key: str) -> str | None: ...
    async def aget(self, key: str) -> str | None: ...

    def get_many(self, keys: Sequence[str]) -> list[str | None]: ...
    async def aget_many(self, keys: Sequence[str]) -> list[str | None]:
        """Several keys in one round trip (MGET)."""
        ...

    def run_script(
        self,
        script: AtomicScript,
        keys: Sequence[str],
        args: Sequence[Any],
        now: float | None = None,
    ) -> list[str]:
        """Run an `AtomicScript` atomically; `now` None uses the backend's clock."""
        ...

    async def arun_script(
        self,
        script: AtomicScript,
        keys: Sequence[str],
        args: Sequence[Any],
        now: float | None = None,
    ) -> list[str]: ...

    def set(self, key: str, value: str, ttl_seconds: float | None = None) -> None: ...
    async def aset(self, key: str, value: str, ttl_seconds: float | None = None) -> None: ...

    def delete(self, *keys: str) -> int: ...
    async def adelete(self, *keys: str) -> int: ...

    def incr(self, key: str, amount: int = 1, ttl_seconds: float | None = None) -> int: ...
    async def aincr(self, key: str, amount: int = 1, ttl_seconds: float | None = None) -> int: ...

    def incr_least(
        self,
        keys: Sequence[str],
        weights: Sequence[float],
        start: int = 0,
        ttl_seconds: float | None = None,
        *,
        owner: str | None = None,
    ) -> int:
        """Atomically pick the lease count with the lowest value ÷ weight (ties go to the first
        from index `start`, cyclically), take one lease on it for `owner` (this process by
        default), refresh its TTL and return its index: least-connections selection and the
        in-flight count in one step. A lease count is kept per owner; it counts the leases of
        owners alive (see `refresh_lease_owner`), and the shares of dead owners are dropped."""
        ...

    async def aincr_least(
        self,
        keys: Sequence[str],
        weights: Sequence[float],
        start: int = 0,
        ttl_seconds: float | None = None,
        *,
        owner: str | None = None,
    ) -> int: ...

    def release_lease(self, key: str, *, owner: str | None = None) -> None:
        """Give back one of `owner`'s leases on `key` (none left, e.g. dropped as dead: nothing)."""
        ...

    async def arelease_lease(self, key: str, *, owner: str | None = None) -> None: ...

    def lease_count(self, key: str) -> int:
        """The leases held on `key` by owners alive."""
        ...

    def refresh_lease_owner(self, owner: str | None = None) -> None:
        """`owner` (this process by default) is alive for LEASE_OWNER_TTL_SECONDS more; taking a
        lease refreshes it too, so only a process holding long leases needs to call this."""
        ...

    def set_add(self, key: str, *members: str) -> int: ...
    def set_remove(self, key: str, *members: str) -> int: ...
    def set_contains(self, key: str, member: str) -> bool: ...
    async def aset_contains(self, key: str, member: str) -> bool: ...
    def set_size(self, key: str) -> int: ...

    def list_push(self, key: str, *values: str) -> int: ...
    async def alist_push(self, key: str, *values: str) -> int: ...
    def list_drain(self, key: str, limit: int) -> list[str]:
        """Remove and return up to `limit` values from the head, atomically (one consumer wins)."""
        ...

    def list_range(self, key: str, count: int) -> list[str]:
        """The last `count` values, oldest first, without removing them (LRANGE -count -1)."""
        ...

    def list_trim(self, key: str, keep: int) -> None:
        """Keep only the last `keep` values (LTRIM -keep -1): a capped list with `list_push`."""
        ...

    def list_remove(self, key: str, value: str) -> int:
        """Remove every occurrence of `value` (LREM key 0 value); returns how many."""
        ...

    def clear(self) -> None:
        """Remove every key under this state's prefix (tests, `cache/clear`)."""
        ...
