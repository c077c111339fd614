"""Rate limits on the /v1 path: which limits apply to a request, and their shared-state keys.

A service's `rateLimit` applies at its `scope`: `service` (one limiter for the whole service),
`client_ip` (one per client address) or `instance` (one per instance of the service); an instance's
own `rateLimit` applies to that instance. Service and client-IP limits are checked before an
instance is chosen (`admit_request`), instance limits once one is (`admit_instance`: a refusing
instance is passed over for another). Keys embed the algorithm so that switching algorithms starts
a fresh limiter; a changed capacity or rate applies from the next request (the live snapshot is
re-read per request, and the stored state is clamped to the new capacity).
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass

from routerproject.state import SharedState
from routing.service_types import RateLimitScope
from routing.snapshot import InstanceSpec, RateLimitSpec, ServiceSpec

from . import scripts
from .limiters import Decision, LimiterConfig


class RateLimited(Exception):
    def __init__(self, scope: str, decision: Decision) -> None:
        super().__init__(f"rate limited at scope {scope}")
        self.scope = scope
        self.decision = decision


def limiter_config(spec: RateLimitSpec) -> LimiterConfig:
    return LimiterConfig(
        algorithm=spec.algorithm,
        capacity=spec.capacity,
        refill_rate=spec.refill_rate,
        window_seconds=spec.window_seconds,
        warmup_seconds=spec.warmup_seconds,
    )


def limit_key(spec: RateLimitSpec, scope: str, service_type: str, subject: str = "") -> str:
    key = f"rl:{spec.algorithm}:{scope}:{service_type}"
    return f"{key}:{subject}" if subject else key


async def acheck(state: SharedState, spec: RateLimitSpec, key: str) -> Decision:
    config = limiter_config(spec)
    result = await state.arun_script(
        scripts.LIMITER_SCRIPTS[config.algorithm],
        scripts.limiter_keys(config, key),
        scripts.limiter_args(config),
    )
    return scripts.decision_of(result, config.capacity)


API_KEY_SCOPE = "api_key"


async def admit_key(key_id: str, requests_per_minute: int, state: SharedState) -> Decision:
    """An API key's requests-per-minute: a sliding window of 60 s, exact across the fleet (one
    atomic script, like every other scope); raises `RateLimited` to refuse."""
    spec = RateLimitSpec(
        algorithm="sliding_window",
        capacity=requests_per_minute,
        refill_rate=requests_per_minute / 60,
        scope=API_KEY_SCOPE,
        window_seconds=60.0,
        warmup_seconds=1.0,
    )
    decision = await acheck(state, spec, f"rl:sliding_window:{API_KEY_SCOPE}:{key_id}")
    if not decision.allowed:
        raise RateLimited(API_KEY_SCOPE, decision)
    return decision


async def admit_request(
    service: ServiceSpec, client_ip: str, state: SharedState
) -> Decision | None:
    """The service-wide or per-client limit of the service; raises `RateLimited` to refuse."""
    spec = service.rate_limit
    if spec is None or spec.scope == RateLimitScope.INSTANCE:
        return None
    if spec.scope == RateLimitScope.CLIENT_IP:
        key = limit_key(spec, RateLimitScope.CLIENT_IP, service.service_type, client_ip)
    else:
        key = limit_key(spec, RateLimitScope.SERVICE, service.service_type)
    decision = await acheck(state, spec, key)
    if not decision.allowed:
        raise RateLimited(spec.scope, decision)
    return decision


async def admit_instance(
    service: ServiceSpec, instance: InstanceSpec, state: SharedState
) -> list[Decision]:
    """The instance's own limit and the service's per-instance limit; raises `RateLimited`."""
    decisions = []
    specs = [instance.rate_limit]
    if service.rate_limit is not None and service.rate_limit.scope == RateLimitScope.INSTANCE:
        specs.append(service.rate_limit)
    for spec in specs:
        if spec is None:
            continue
        key = limit_key(spec, RateLimitScope.INSTANCE, service.service_type, instance.instance_id)
        decision = await acheck(state, spec, key)
        if not decision.allowed:
            raise RateLimited(RateLimitScope.INSTANCE, decision)
        decisions.append(decision)
    return decisions


@dataclass(frozen=True, slots=True)
class LimitHeaders:
    limit: int
    remaining: int
    reset: int  # whole seconds until back to full capacity

    def items(self) -> dict[str, str]:
        """The management API's names, then OpenAI's for the same request limit (its SDKs and
        clients read `-requests`; the reset is a duration such as `1s` or `6m0s`)."""
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(self.reset),
            "x-ratelimit-limit-requests": str(self.limit),
            "x-ratelimit-remaining-requests": str(self.remaining),
            "x-ratelimit-reset-requests": openai_duration(self.reset),
        }


def openai_duration(seconds: int) -> str:
    """Whole seconds as OpenAI writes a reset: `45s`, `6m0s`, `1h2m3s`."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def headers_of(decision: Decision) -> dict[str, str]:
    return LimitHeaders(decision.limit, decision.remaining, math.ceil(decision.reset_after)).items()


def tightest(decisions: Iterable[Decision]) -> Decision | None:
    """The limit closest to refusing: fewest admissions left, relative to its size."""
    return min(decisions, key=lambda d: (d.remaining / d.limit, d.remaining), default=None)


def retry_after_seconds(decision: Decision) -> int:
    return max(1, math.ceil(decision.retry_after))
