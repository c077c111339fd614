"""The redis-py clients of a REDIS_URL (`routerproject.redis_urls`): one server, a Redis Cluster, or
a primary followed through Sentinel, each as a sync client (management API, Celery) and an asyncio
client per event loop (the hot path). `hash_tagged` gives the key prefix the hash tag that keeps
every key of one deployment in one cluster slot, so that every script and MGET stays atomic."""

from typing import Any

import redis
import redis.asyncio as aredis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.asyncio.retry import Retry as AsyncRetry
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.asyncio.sentinel import SentinelConnectionPool as AsyncSentinelPool
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

from routerproject import redis_urls
from routerproject.redis_urls import CLUSTER, SENTINEL, RedisTarget

# One immediate retry of a broken connection (a pooled connection that a Redis restart or a failover
# closed) and none of a timeout: redis-py's default of several retries with backoff would hold a
# request for seconds against a frozen server. Retrying later is the outage gate's business.
RETRIES = 1


def hash_tagged(prefix: str) -> str:
    """`router:` -> `{router}:`: Redis Cluster hashes only what is between the braces, so every key
    under the prefix lands in one slot. A prefix that already holds a hash tag is kept."""
    opening = prefix.find("{")
    if opening >= 0 and prefix.find("}", opening + 2) > opening:
        return prefix
    body = prefix.removesuffix(":")
    if not body:
        raise ValueError("STATE_KEY_PREFIX must not be empty")
    return "{" + body + "}" + prefix[len(body) :]


def _sync_retry() -> Retry:
    return Retry(NoBackoff(), RETRIES, supported_errors=(redis.ConnectionError,))


def _async_retry() -> AsyncRetry:
    return AsyncRetry(NoBackoff(), RETRIES, supported_errors=(redis.ConnectionError,))


def _options(target: RedisTarget, timeout: float) -> dict[str, Any]:
    options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    if target.username:
        options["username"] = target.username
    if target.password:
        options["password"] = target.password
    if target.tls:
        options["ssl"] = True
    return options


def _sentinel_options(target: RedisTarget, timeout: float) -> dict[str, Any]:
    options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    if target.sentinel_password:
        options["password"] = target.sentinel_password
    return options


def sync_client(url: str, *, timeout: float) -> Any:
    target = redis_urls.parse(url)
    if target.kind == CLUSTER:
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in target.nodes],
            retry=_sync_retry(),
            **_options(target, timeout),
        )
    if target.kind == SENTINEL:
        sentinel = Sentinel(list(target.nodes), sentinel_kwargs=_sentinel_options(target, timeout))
        pool = SentinelConnectionPool(
            target.primary,
            sentinel,
            is_master=True,
            db=target.db,
            retry=_sync_retry(),
            **_options(target, timeout),
        )
        return redis.Redis(connection_pool=pool, retry=_sync_retry())
    return redis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=_sync_retry()
    )


def async_client(url: str, *, timeout: float, pool_size: int) -> Any:
    """A client for the running event loop (a connection pool cannot cross loops)."""
    target = redis_urls.parse(url)
    retry = _async_retry()
    if target.kind == CLUSTER:
        return AsyncRedisCluster(
            startup_nodes=[AsyncClusterNode(host, port) for host, port in target.nodes],
            max_connections=pool_size,
            retry=retry,
            **_options(target, timeout),
        )
    if target.kind == SENTINEL:
        sentinel = AsyncSentinel(
            list(target.nodes), sentinel_kwargs=_sentinel_options(target, timeout)
        )
        pool = AsyncSentinelPool(
            target.primary,
            sentinel,
            is_master=True,
            db=target.db,
            max_connections=pool_size,
            retry=retry,
            **_options(target, timeout),
        )
        return aredis.Redis(connection_pool=pool, retry=retry)
    # A blocking pool: a burst of concurrent requests waits (up to the socket timeout) for a
    # connection instead of failing with "Too many connections" at redis-py's default 100.
    blocking = aredis.BlockingConnectionPool.from_url(
        url,
        max_connections=pool_size,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=retry,
    )
    return aredis.Redis(connection_pool=blocking, retry=retry)
