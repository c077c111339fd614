"""The live configuration of this process: built from the database, swapped when it changes.

Every configuration write bumps a generation counter in shared state after commit. Each worker
compares the counter with the generation its snapshot was built at, at most every
`LIVE_CONFIG_CHECK_INTERVAL` seconds (`routerproject.generations`: the reading is shared with the
other caches), and rebuilds in a thread when they differ; between checks a request costs no database
query and no Redis round trip. A change on any worker is therefore visible on every worker within
that interval plus one rebuild.

Degraded modes: while the shared state cannot be read the snapshot is kept (a worker starting then
builds one from the database); the first check that reads it again rebuilds, and if the database's
configuration version moved meanwhile (a change whose generation bump could not get through), bumps
the generation for the workers that did not notice the outage. While the database cannot be read
a due rebuild is skipped and the snapshot kept: `/v1` never needs the database to answer.
"""

import asyncio
import dataclasses
import logging
from types import MappingProxyType
from typing import Any

from asgiref.sync import sync_to_async
from django.db import Error as DatabaseError

from configversions.selectors import current_version_number
from monitoring import metrics
from routerproject.generations import Reading, check_interval, follow
from routerproject.state import GENERATION_KEY, STATE_ERRORS, get_state, log_degraded

from .models import RouterSettings, ServiceInstance, ServiceType
from .selectors import service_type_list
from .snapshot import (
    BreakerSpec,
    FallbackSpec,
    InstanceSpec,
    LiveConfig,
    RateLimitSpec,
    RouterSpec,
    ServiceSpec,
)


def _rate_limit(content: dict[str, Any] | None) -> RateLimitSpec | None:
    if not content:
        return None
    return RateLimitSpec(
        algorithm=content["algorithm"],
        capacity=int(content["capacity"]),
        refill_rate=float(content["refillRate"]),
        scope=content["scope"],
        window_seconds=float(content["windowSeconds"]),
        warmup_seconds=float(content["warmUpSeconds"]),
    )


def _breaker(content: dict[str, Any]) -> BreakerSpec:
    return BreakerSpec(
        enabled=bool(content["enabled"]),
        failure_threshold=int(content["failureThreshold"]),
        recovery_timeout_ms=int(content["recoveryTimeout"]),
        success_threshold=int(content["successThreshold"]),
    )


def _fallback(content: dict[str, Any] | None) -> FallbackSpec | None:
    if not content:
        return None
    response = content.get("response")
    return FallbackSpec(
        models=tuple(content.get("models", ())),
        response=MappingProxyType(dict(response["body"]))
        if response and isinstance(response["body"], dict)
        else None,
        response_status=int(response["status"]) if response else 200,
    )


def _instance(
    service: ServiceType, instance: ServiceInstance, breaker: BreakerSpec
) -> InstanceSpec:
    return InstanceSpec(
        instance_id=instance.instance_id,
        service_type=service.name,
        name=instance.name,
        base_url=instance.base_url.rstrip("/"),
        api_key=instance.api_key,
        weight=instance.weight,
        enabled=instance.enabled,
        adapter=instance.adapter,
        path=instance.path,
        upstream_model=instance.upstream_model,
        responses_api=instance.responses_api,
        prices=_prices(instance),
        headers=MappingProxyType(dict(instance.headers or {})),
        tier=instance.tier,
        rate_limit=_rate_limit(instance.rate_limit),
        breaker=_breaker(instance.circuit_breaker) if instance.circuit_breaker else breaker,
        connect_timeout_s=service.connect_timeout_ms / 1000,
        request_timeout_s=service.request_timeout_ms / 1000,
        created=int(instance.created_at.timestamp()),
    )


def _prices(instance: ServiceInstance) -> tuple[float, float] | None:
    """An instance with either price is priced; the other counts as free."""
    given = (instance.input_cost_per_million, instance.output_cost_per_million)
    if given == (None, None):
        return None
    return (given[0] or 0.0, given[1] or 0.0)


def _service(service: ServiceType) -> ServiceSpec:
    breaker = _breaker(service.circuit_breaker)
    instances = tuple(_instance(service, i, breaker) for i in service.instances.all())
    by_model: dict[str, list[InstanceSpec]] = {}
    by_tier: dict[str, list[InstanceSpec]] = {}
    for instance in instances:
        if instance.enabled:
            by_model.setdefault(instance.name, []).append(instance)
            if instance.tier:
                by_tier.setdefault(instance.tier, []).append(instance)
    # An alias serves its model's instances; a model an instance itself serves keeps its own.
    for alias, model in (service.aliases or {}).items():
        if alias not in by_model and model in by_model:
            by_model[alias] = by_model[model]
    return ServiceSpec(
        service_type=service.name,
        load_balancer=service.load_balancer,
        rate_limit=_rate_limit(service.rate_limit),
        breaker=breaker,
        fallback=_fallback(service.fallback),
        retries=service.retries,
        connect_timeout_s=service.connect_timeout_ms / 1000,
        request_timeout_s=service.request_timeout_ms / 1000,
        instances=instances,
        by_model=MappingProxyType({m: tuple(group) for m, group in by_model.items()}),
        by_tier=MappingProxyType({t: tuple(group) for t, group in by_tier.items()}),
    )


def _router() -> RouterSpec:
    row = RouterSettings.objects.filter(pk=1).first() or RouterSettings(pk=1)
    return RouterSpec(
        model_path=row.model_path,
        confidence_threshold=row.confidence_threshold,
        max_uncertainty=row.max_uncertainty,
        enable_circuit_breaker=row.enable_circuit_breaker,
        circuit_breaker_threshold=row.circuit_breaker_threshold,
        enable_quantization=row.enable_quantization,
        target_powerful_share=row.target_powerful_share,
    )


def build_live_config(generation: int) -> LiveConfig:
    services = {s.name: _service(s) for s in service_type_list()}
    return LiveConfig(
        generation=generation,
        version=current_version_number(),
        services=MappingProxyType(services),
        router=_router(),
    )


def _generation(reading: Reading) -> int | None:
    """The shared generation, None when the shared state could not be read."""
    return reading.number(GENERATION_KEY) if reading.available else None


# The generation of a snapshot built while the shared state could not be read.
UNKNOWN_GENERATION = -1
logger = logging.getLogger(__name__)


class _LiveConfigHolder:
    def __init__(self) -> None:
        self.config: LiveConfig | None = None
        self.lock = asyncio.Lock()
        # The generation could not be read at the last check: changes may have gone unannounced.
        self.unsynced = False

    async def get(self) -> LiveConfig:
        config = self.config
        if config is not None and not _follower.due():
            return config
        async with self.lock:
            if self.config is not None and not _follower.due():
                return self.config
            generation = _generation(await _follower.aread())
            current = self.config
            if generation is not None:
                metrics.cache_lookup(
                    "liveConfig", hit=current is not None and current.generation == generation
                )
            if self._stale(current, generation):
                try:
                    current = await sync_to_async(self._rebuild)(current, generation)
                except DatabaseError as exc:
                    if current is None:
                        raise
                    logger.warning("Live configuration kept, database unavailable: %s", exc)
            assert current is not None
            return current

    def get_sync(self) -> LiveConfig:
        generation = _generation(_follower.read(fresh=True))
        current = self.config
        if current is None or generation is None or self._stale(current, generation):
            current = self._rebuild(current, generation)
        return current

    def _stale(self, current: LiveConfig | None, generation: int | None) -> bool:
        if current is None:
            return True
        if generation is None:
            self.unsynced = True
            return False
        return self.unsynced or current.generation != generation

    def _rebuild(self, current: LiveConfig | None, generation: int | None) -> LiveConfig:
        """A new snapshot; `generation` None when the shared state could not be read."""
        if generation is None:
            self.unsynced = True
            self.config = build_live_config(UNKNOWN_GENERATION)
            return self.config
        rebuilt = build_live_config(generation)
        if self.unsynced and current is not None and rebuilt.version != current.version:
            # Changed during the outage: the writer's bump may not have reached the other workers.
            try:
                rebuilt = dataclasses.replace(rebuilt, generation=get_state().incr(GENERATION_KEY))
            except STATE_ERRORS as exc:
                log_degraded(logger, exc, "Generation not bumped after the outage: %s", exc)
        self.unsynced = False
        self.config = rebuilt
        return rebuilt

    def forget(self) -> None:
        self.config = None
        self.unsynced = False


_holder = _LiveConfigHolder()
_follower = follow(GENERATION_KEY, interval=check_interval, on_forget=_holder.forget)


def live_config_size() -> int:
    """Service types plus instances held by this process's snapshot (0 before the first build)."""
    config = _holder.config
    if config is None:
        return 0
    return len(config.services) + sum(len(s.instances) for s in config.services.values())


def held_live_config() -> LiveConfig | None:
    """The snapshot this process holds now, without looking at the generation (None before the
    first build): for guesses that the real lookup confirms (`pipeline`'s ride-along keys)."""
    return _holder.config


async def aget_live_config() -> LiveConfig:
    return await _holder.get()


def get_live_config() -> LiveConfig:
    """For sync callers (management API, jobs): always compares the generation first."""
    return _holder.get_sync()


def install_live_config(config: LiveConfig) -> None:
    """Replace this process's snapshot (tests that run the data plane without database rows)."""
    _holder.config = config
    _follower.postpone()
