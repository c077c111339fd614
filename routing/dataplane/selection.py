"""Picking the one instance of an attempt: eligibility, then the service's balancer over shared state.

`choose` is the only place the balancers meet shared state: the round-robin cursor and the
in-flight counts live in `SharedState`, so every worker of the fleet follows the same sequence.
While the shared state is unreachable each worker balances on its own: round robin follows a
counter of the process, least connections becomes a weighted random pick (no count is leased), and
a lease whose release fails is dropped (its increment fades after IN_FLIGHT_TTL_SECONDS).

In-flight counts are leases held per worker process (`SharedState.incr_least`): each worker keeps
its liveness key fresh (every request that leases does, and a daemon thread every
LEASE_REFRESH_SECONDS, for a worker busy with long streams), and the leases of a worker that stopped
(killed, crashed) stop counting within LEASE_OWNER_TTL_SECONDS.
"""

import itertools
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from routerproject.state import STATE_ERRORS, SharedState, log_degraded
from routerproject.state.base import LEASE_OWNER_TTL_SECONDS
from routing.service_types import LoadBalancer
from routing.snapshot import InstanceSpec, ServiceSpec

from .balancers import Pool, pick_ip_hash, pick_random, pick_round_robin

# An in-flight count nobody leased from for this long is removed (leases of live workers included:
# no request lasts that long).
IN_FLIGHT_TTL_SECONDS = 600.0
LEASE_REFRESH_SECONDS = LEASE_OWNER_TTL_SECONDS / 3
_POOL_CACHE_LIMIT = 512

_rng = random.Random()
_local_turns = itertools.count(1)  # round robin of this process while the shared state is down
logger = logging.getLogger(__name__)
_pools: dict[int, tuple[tuple[InstanceSpec, ...], Pool]] = {}
_keeper_lock = threading.Lock()
_keeper_pid: int | None = None  # the process whose liveness thread runs (a fork starts its own)


class NoInstanceAvailable(Exception):
    """Every candidate of the model is disabled or drained (weight 0)."""


def in_flight_key(instance: InstanceSpec) -> str:
    return f"lb:inflight:{instance.instance_id}"


def round_robin_key(service_type: str, model: str) -> str:
    return f"lb:rr:{service_type}:{model}"


def is_eligible(instance: InstanceSpec) -> bool:
    # The static part of eligibility; health and breakers are read from shared state beforehand
    # (routing.resilience.shared_breakers.eligible), in one round trip for every candidate.
    return instance.enabled and instance.weight > 0


def eligible(candidates: tuple[InstanceSpec, ...]) -> tuple[InstanceSpec, ...]:
    kept = tuple(instance for instance in candidates if is_eligible(instance))
    # Same object when nothing was filtered out, so the prepared pool is found again.
    return candidates if len(kept) == len(candidates) else kept


def pool_of(instances: tuple[InstanceSpec, ...]) -> Pool:
    cached = _pools.get(id(instances))
    if cached is not None and cached[0] is instances:
        return cached[1]
    if len(_pools) >= _POOL_CACHE_LIMIT:
        _pools.clear()
    pool = Pool([i.instance_id for i in instances], [i.weight for i in instances])
    # Keeping the tuple alive keeps its id from being reused by another tuple.
    _pools[id(instances)] = (instances, pool)
    return pool


@dataclass(slots=True)
class Lease:
    """What an attempt holds on its instance; released exactly once, whatever the outcome."""

    instance: InstanceSpec
    state: SharedState
    in_flight_key: str | None = None
    released: bool = False

    async def arelease(self) -> None:
        if self.released:
            return
        self.released = True
        if self.in_flight_key is not None:
            try:
                await self.state.arelease_lease(self.in_flight_key)
            except STATE_ERRORS as exc:
                _release_failed(self.in_flight_key, exc)

    def release(self) -> None:
        """For sync teardown paths (a response closed before its body was ever iterated)."""
        if self.released:
            return
        self.released = True
        if self.in_flight_key is not None:
            try:
                self.state.release_lease(self.in_flight_key)
            except STATE_ERRORS as exc:
                _release_failed(self.in_flight_key, exc)


def _release_failed(key: str, error: BaseException) -> None:
    log_degraded(logger, error, "In-flight count %s not released, shared state unavailable", key)


def _keep_alive(state: SharedState) -> None:
    """Start this process's liveness thread once: its leases keep counting while it lives."""
    global _keeper_pid
    with _keeper_lock:
        if _keeper_pid == os.getpid():
            return
        _keeper_pid = os.getpid()
    threading.Thread(
        target=_refresh_forever, args=(state,), name="lease-owner", daemon=True
    ).start()


def _refresh_forever(state: SharedState) -> None:
    while True:
        time.sleep(LEASE_REFRESH_SECONDS)
        try:
            state.refresh_lease_owner()
        except STATE_ERRORS as exc:
            log_degraded(logger, exc, "Lease owner not refreshed, shared state unavailable")


async def choose(
    service: ServiceSpec,
    model: str,
    candidates: tuple[InstanceSpec, ...],
    *,
    client_ip: str,
    state: SharedState,
    draw: Callable[[], float] = _rng.random,
) -> Lease:
    instances = eligible(candidates)
    if not instances:
        raise NoInstanceAvailable(model)
    if len(instances) == 1 and service.load_balancer != LoadBalancer.LEAST_CONNECTIONS:
        return Lease(instances[0], state)
    pool = pool_of(instances)
    balancer = service.load_balancer
    if balancer == LoadBalancer.ROUND_ROBIN:
        try:
            counter = await state.aincr(round_robin_key(service.service_type, model))
        except STATE_ERRORS as exc:
            log_degraded(logger, exc, "Round robin of this worker only, shared state unavailable")
            counter = next(_local_turns)
        return Lease(instances[pick_round_robin(pool, counter - 1)], state)
    if balancer == LoadBalancer.LEAST_CONNECTIONS:
        keys = [in_flight_key(i) for i in instances]
        start = int(draw() * len(instances))
        try:
            index = await state.aincr_least(keys, pool.weights, start, IN_FLIGHT_TTL_SECONDS)
        except STATE_ERRORS as exc:
            log_degraded(logger, exc, "Least connections as random, shared state unavailable")
            return Lease(instances[pick_random(pool, draw())], state)
        _keep_alive(state)
        return Lease(instances[index], state, keys[index])
    if balancer == LoadBalancer.IP_HASH:
        return Lease(instances[pick_ip_hash(pool, client_ip)], state)
    # `random`; and `neural`, whose candidates the neural router has already narrowed to one tier.
    return Lease(instances[pick_random(pool, draw())], state)
