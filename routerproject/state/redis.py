"""Fleet-wide shared state in Redis: one server, a Redis Cluster or a primary behind Sentinel
(`connections`, by the REDIS_URL's scheme).

A sync client serves the management API and Celery; the hot path uses an asyncio client, one per
event loop (a connection pool cannot cross loops). Every key carries the configured prefix, made a
hash tag (`{router}:…`) so that every key of a deployment shares one cluster slot. Every
operation passes the process's `OutageGate`: while Redis is known to be unreachable, calls fail at
once with `StateUnavailable` instead of each waiting for a connection or a socket timeout.
"""

import asyncio
import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import redis

from . import connections, lease_scripts
from .base import LEASE_OWNER_TTL_SECONDS, AtomicScript, lease_owner, lease_owner_key
from .outage import OUTAGE_RETRY_SECONDS, OutageGate

# Connections per event loop (one loop per worker process) for the hot path.
ASYNC_POOL_SIZE = 256


# What a shared-state call raises when the state is unreachable (Redis down, socket errors).
STATE_ERRORS = (redis.RedisError, OSError)
# The failures that say the server is unreachable (not an error the server answered with).
_UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, OSError)

_Method = TypeVar("_Method", bound=Callable[..., Any])


def _gated(method: _Method) -> _Method:
    """Run a RedisState operation through its outage gate."""
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def run_async(self: "RedisState", *args: Any, **kwargs: Any) -> Any:
            self.gate.enter()
            try:
                result = await method(self, *args, **kwargs)
            except _UNREACHABLE as exc:
                self.gate.failed(exc)
                raise
            except BaseException:
                self.gate.abandoned()
                raise
            self.gate.succeeded()
            return result

        return run_async  # type: ignore[return-value]

    @functools.wraps(method)
    def run(self: "RedisState", *args: Any, **kwargs: Any) -> Any:
        self.gate.enter()
        try:
            result = method(self, *args, **kwargs)
        except _UNREACHABLE as exc:
            self.gate.failed(exc)
            raise
        except BaseException:
            self.gate.abandoned()
            raise
        self.gate.succeeded()
        return result

    return run  # type: ignore[return-value]


class RedisState:
    backend_name = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "router:",
        socket_timeout: float = 2.0,
        retry_after: float = OUTAGE_RETRY_SECONDS,
    ) -> None:
        self.url = url
        self.prefix = connections.hash_tagged(prefix)
        self._timeout = socket_timeout
        self.gate = OutageGate(retry_after)
        self.client = connections.sync_client(url, timeout=socket_timeout)
        self._async_clients: dict[int, Any] = {}
        self._incr_least = self.client.register_script(lease_scripts.INCR_LEAST)
        self._release_lease = self.client.register_script(lease_scripts.RELEASE_LEASE)
        self._lease_count = self.client.register_script(lease_scripts.LEASE_COUNT)
        self._async_scripts: dict[tuple[int, str], Any] = {}
        self._scripts: dict[tuple[int, str], Any] = {}

    def _k(self, key: str) -> str:
        return self.prefix + key

    @property
    def aclient(self) -> Any:
        loop_id = id(asyncio.get_running_loop())
        client = self._async_clients.get(loop_id)
        if client is None:
            client = connections.async_client(
                self.url, timeout=self._timeout, pool_size=ASYNC_POOL_SIZE
            )
            self._async_clients[loop_id] = client
        return client

    def ping(self) -> bool:
        """Asks the server even while the gate is closed (health checks want the truth now)."""
        try:
            answered = bool(self.client.ping())
        except _UNREACHABLE as exc:
            self.gate.failed(exc)
            return False
        except redis.RedisError:
            return False
        self.gate.succeeded()
        return answered

    @staticmethod
    def _text(value: bytes | str | None) -> str | None:
        return value.decode() if isinstance(value, bytes) else value

    @staticmethod
    def _px(ttl_seconds: float) -> int:
        return max(1, int(ttl_seconds * 1000))

    @_gated
    def get(self, key: str) -> str | None:
        return self._text(self.client.get(self._k(key)))

    @_gated
    async def aget(self, key: str) -> str | None:
        return self._text(await self.aclient.get(self._k(key)))

    @_gated
    def get_many(self, keys: Sequence[str]) -> list[str | None]:
        if not keys:
            return []
        return [self._text(v) for v in self.client.mget([self._k(k) for k in keys])]

    @_gated
    async def aget_many(self, keys: Sequence[str]) -> list[str | None]:
        if not keys:
            return []
        return [self._text(v) for v in await self.aclient.mget([self._k(k) for k in keys])]

    def _script_call(
        self,
        client: Any,
        script: AtomicScript,
        keys: Sequence[str],
        args: Sequence[Any],
        now: float | None,
    ) -> tuple[Any, list[str], list[Any]]:
        registered = self._scripts.get((id(client), script.name))
        if registered is None:
            registered = client.register_script(script.lua)
            self._scripts[(id(client), script.name)] = registered
        moment = "" if now is None else repr(float(now))
        return registered, [self._k(k) for k in keys], [moment, *args]

    @staticmethod
    def _strings(result: Any) -> list[str]:
        return [v.decode() if isinstance(v, bytes) else str(v) for v in result or []]

    @_gated
    def run_script(
        self,
        script: AtomicScript,
        keys: Sequence[str],
        args: Sequence[Any],
        now: float | None = None,
    ) -> list[str]:
        registered, script_keys, script_args = self._script_call(
            self.client, script, keys, args, now
        )
        return self._strings(registered(keys=script_keys, args=script_args))

    @_gated
    async def arun_script(
        self,
        script: AtomicScript,
        keys: Sequence[str],
        args: Sequence[Any],
        now: float | None = None,
    ) -> list[str]:
        registered, script_keys, script_args = self._script_call(
            self.aclient, script, keys, args, now
        )
        return self._strings(await registered(keys=script_keys, args=script_args))

    @_gated
    def set(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        self.client.set(
            self._k(key), value, px=None if ttl_seconds is None else self._px(ttl_seconds)
        )

    @_gated
    async def aset(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        await self.aclient.set(
            self._k(key), value, px=None if ttl_seconds is None else self._px(ttl_seconds)
        )

    @_gated
    def delete(self, *keys: str) -> int:
        return int(self.client.delete(*(self._k(k) for k in keys))) if keys else 0

    @_gated
    async def adelete(self, *keys: str) -> int:
        return int(await self.aclient.delete(*(self._k(k) for k in keys))) if keys else 0

    @_gated
    def incr(self, key: str, amount: int = 1, ttl_seconds: float | None = None) -> int:
        pipe = self.client.pipeline()
        pipe.incrby(self._k(key), amount)
        if ttl_seconds is not None:
            pipe.pexpire(self._k(key), self._px(ttl_seconds), nx=True)
        return int(pipe.execute()[0])

    @_gated
    async def aincr(self, key: str, amount: int = 1, ttl_seconds: float | None = None) -> int:
        pipe = self.aclient.pipeline()
        pipe.incrby(self._k(key), amount)
        if ttl_seconds is not None:
            pipe.pexpire(self._k(key), self._px(ttl_seconds), nx=True)
        return int((await pipe.execute())[0])

    def _least_args(
        self,
        keys: Sequence[str],
        weights: Sequence[float],
        start: int,
        ttl_seconds: float | None,
        owner: str | None,
    ) -> tuple[list[str], list[str | float | int]]:
        ttl = 0 if ttl_seconds is None else self._px(ttl_seconds)
        return [self._k(k) for k in keys], [
            self._k(lease_owner_key("")),
            owner or lease_owner(),
            self._px(LEASE_OWNER_TTL_SECONDS),
            start,
            ttl,
            *weights,
        ]

    def _async_script(self, source: str) -> Any:
        client = self.aclient
        script = self._async_scripts.get((id(client), source))
        if script is None:
            script = self._async_scripts[(id(client), source)] = client.register_script(source)
        return script

    @_gated
    def incr_least(
        self,
        keys: Sequence[str],
        weights: Sequence[float],
        start: int = 0,
        ttl_seconds: float | None = None,
        *,
        owner: str | None = None,
    ) -> int:
        script_keys, args = self._least_args(keys, weights, start, ttl_seconds, owner)
        return int(self._incr_least(keys=script_keys, args=args))

    @_gated
    async def aincr_least(
        self,
        keys: Sequence[str],
        weights: Sequence[float],
        start: int = 0,
        ttl_seconds: float | None = None,
        *,
        owner: str | None = None,
    ) -> int:
        script_keys, args = self._least_args(keys, weights, start, ttl_seconds, owner)
        return int(await self._async_script(lease_scripts.INCR_LEAST)(keys=script_keys, args=args))

    @_gated
    def release_lease(self, key: str, *, owner: str | None = None) -> None:
        self._release_lease(keys=[self._k(key)], args=["", owner or lease_owner()])

    @_gated
    async def arelease_lease(self, key: str, *, owner: str | None = None) -> None:
        script = self._async_script(lease_scripts.RELEASE_LEASE)
        await script(keys=[self._k(key)], args=["", owner or lease_owner()])

    @_gated
    def lease_count(self, key: str) -> int:
        return int(self._lease_count(keys=[self._k(key)], args=[self._k(lease_owner_key(""))]))

    @_gated
    def refresh_lease_owner(self, owner: str | None = None) -> None:
        key = self._k(lease_owner_key(owner or lease_owner()))
        self.client.set(key, "1", px=self._px(LEASE_OWNER_TTL_SECONDS))

    @_gated
    def set_add(self, key: str, *members: str) -> int:
        return int(self.client.sadd(self._k(key), *members)) if members else 0

    @_gated
    def set_remove(self, key: str, *members: str) -> int:
        return int(self.client.srem(self._k(key), *members)) if members else 0

    @_gated
    def set_contains(self, key: str, member: str) -> bool:
        return bool(self.client.sismember(self._k(key), member))

    @_gated
    async def aset_contains(self, key: str, member: str) -> bool:
        return bool(await self.aclient.sismember(self._k(key), member))

    @_gated
    def set_size(self, key: str) -> int:
        return int(self.client.scard(self._k(key)))

    @_gated
    def list_push(self, key: str, *values: str) -> int:
        return int(self.client.rpush(self._k(key), *values)) if values else 0

    @_gated
    async def alist_push(self, key: str, *values: str) -> int:
        return int(await self.aclient.rpush(self._k(key), *values)) if values else 0

    @_gated
    def list_drain(self, key: str, limit: int) -> list[str]:
        values = self.client.lpop(self._k(key), limit) or []
        return [v.decode() if isinstance(v, bytes) else str(v) for v in values]

    @_gated
    def list_range(self, key: str, count: int) -> list[str]:
        if count <= 0:
            return []
        values = self.client.lrange(self._k(key), -count, -1) or []
        return [v.decode() if isinstance(v, bytes) else str(v) for v in values]

    @_gated
    def list_trim(self, key: str, keep: int) -> None:
        if keep <= 0:
            self.client.delete(self._k(key))
        else:
            self.client.ltrim(self._k(key), -keep, -1)

    @_gated
    def list_remove(self, key: str, value: str) -> int:
        return int(self.client.lrem(self._k(key), 0, value))

    @_gated
    def clear(self) -> None:
        batch: list[bytes] = []
        for key in self.client.scan_iter(match=self.prefix + "*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                self.client.delete(*batch)
                batch.clear()
        if batch:
            self.client.delete(*batch)
