"""The gateway's caches, as `/api/monitoring/cache/*` shows and clears them.

- liveConfig: the live configuration snapshot of the /v1 data plane (service types + instances);
  a lookup is one check of the shared generation: hit when the snapshot was current, miss on rebuild;
- apiKeys: API keys of /v1 clients (authjwt.keys), hit when a key was served without the database;
- routingExemplars: the exemplar bank of the neural router's scorer (loaded with the model), hit when
  a decision could search it; clearing reloads the scorer and its bank on every worker.

Sizes are this worker's (each worker holds its own copy); hits and misses are the fleet's, from the
metrics. `cache_clear` reaches every worker through the generations in shared state.
"""

from typing import Any

from authjwt.keys import MAX_CACHE_ENTRIES, cache_size, invalidate_cache
from configversions.services import bump_generation
from routerproject.state import get_state
from routing.live import live_config_size
from routing.router_runtime import RELOAD_KEY, runtime

from .exposition import recorded_families

CACHES = ("liveConfig", "apiKeys", "routingExemplars")


def _lookups() -> dict[tuple[str, str], float]:
    counts: dict[tuple[str, str], float] = {}
    for family in recorded_families():
        if family.name == "gateway_cache_lookups":
            for sample in family.samples:
                key = (sample.labels["cache"], sample.labels["result"])
                counts[key] = counts.get(key, 0.0) + sample.value
    return counts


def _bank_size() -> int:
    """Prompts in the exemplar bank of this worker's scorer (the neighbours it decides with)."""
    router = runtime.router
    prompt = router.prompt_model if router is not None else None
    return len(prompt.bank) if prompt is not None else 0


def cache_stats() -> dict[str, Any]:
    lookups = _lookups()
    sizes: dict[str, tuple[int, int | None]] = {
        "liveConfig": (live_config_size(), None),
        "apiKeys": (cache_size(), MAX_CACHE_ENTRIES),
        "routingExemplars": (_bank_size(), None),
    }
    caches: dict[str, Any] = {}
    for name in CACHES:
        size, capacity = sizes[name]
        hits, misses = lookups.get((name, "hit"), 0.0), lookups.get((name, "miss"), 0.0)
        caches[name] = {
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
    """Empty every cache on every worker: new API-key and configuration generations make each
    worker drop its keys and rebuild its snapshot; the router's reload generation makes each one
    load its scorer and exemplar bank again."""
    invalidate_cache()
    bump_generation()
    get_state().incr(RELOAD_KEY)
    return list(CACHES)
