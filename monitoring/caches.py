"""The gateway's caches, as `/api/monitoring/cache/*` shows and clears them.

The apps that own a cache register it in their `ready()` (as config sections are registered): this
app sits below them and names none. Sizes are this worker's (each worker holds its own copy); hits
and misses are the fleet's, from the `gateway_cache_lookups` metric under the cache's name. A clear
reaches every worker through the generations in shared state.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .exposition import recorded_families


@dataclass(frozen=True)
class Cache:
    name: str
    # Where the cache is listed: in the order a /v1 request consults them.
    position: int
    size: Callable[[], int]  # entries held by this worker
    clear: Callable[[], object]  # empties it on every worker
    capacity: int | None = None  # None: unbounded


_caches: dict[str, Cache] = {}


def register_cache(cache: Cache) -> None:
    _caches[cache.name] = cache


def registered_caches() -> list[Cache]:
    return sorted(_caches.values(), key=lambda cache: cache.position)


def _lookups() -> dict[tuple[str, str], float]:
    counts: dict[tuple[str, str], float] = {}
    for family in recorded_families():
        if family.name == "gateway_cache_lookups":
            for sample in family.samples:
                key = (sample.labels["cache"], sample.labels["result"])
                counts[key] = counts.get(key, 0.0) + sample.value
    return counts


def cache_stats() -> dict[str, Any]:
    lookups = _lookups()
    caches: dict[str, Any] = {}
    for cache in registered_caches():
        size, capacity = cache.size(), cache.capacity
        hits = lookups.get((cache.name, "hit"), 0.0)
        misses = lookups.get((cache.name, "miss"), 0.0)
        caches[cache.name] = {
            "size": size,
            "capacity": capacity,
            "usageRatio": round(size / capacity, 4) if capacity else None,
            "hits": int(hits),
            "misses": int(misses),
            "hitRatio": round(hits / (hits + misses), 4) if hits + misses else None,
        }
    bounded = [c for c in caches.values() if c["capacity"]]
    total_hits = sum(c["hits"] for c in caches.values())
    total = total_hits + sum(c["misses"] for c in caches.values())
    return {
        "caches": caches,
        "totalSize": sum(c["size"] for c in caches.values()),
        "usageRatio": round(
            sum(c["size"] for c in bounded) / sum(c["capacity"] for c in bounded), 4
        )
        if bounded
        else 0.0,
        "hitRatio": round(total_hits / total, 4) if total else None,
    }


def cache_clear() -> list[str]:
    """Empty every cache on every worker; the names of the caches cleared."""
    caches = registered_caches()
    for cache in caches:
        cache.clear()
    return [cache.name for cache in caches]
