"""The live configuration as the data plane sees it: immutable, fully resolved, no ORM.

`routing.live_config` builds a `LiveConfig` from the database and swaps it in when the configuration
generation changes; request handling only ever reads these frozen objects.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# The neural router's settings are the reference router's config (its field names and defaults).
from routing.neural.router import RouterConfig as RouterSpec


@dataclass(frozen=True, slots=True)
class RateLimitSpec:
    algorithm: str  # RateLimitAlgorithm
    capacity: int  # bucket size / requests per window
    refill_rate: float  # tokens (or leaks) per second
    scope: str  # RateLimitScope
    window_seconds: float  # sliding_window length
    warmup_seconds: float  # warm_up ramp from a cold start to full refill rate


@dataclass(frozen=True, slots=True)
class BreakerSpec:
    enabled: bool
    failure_threshold: int
    recovery_timeout_ms: int
    success_threshold: int


@dataclass(frozen=True, slots=True)
class FallbackSpec:
    models: tuple[str, ...]  # tried in order after the retries failed
    response: Mapping[str, object] | None  # fixed answer (status + body) when nothing else works
    response_status: int


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    instance_id: str  # "name@baseUrl", as in the management API
    service_type: str
    name: str  # the model name clients send
    base_url: str  # without trailing slash
    api_key: str  # in clear: the data plane needs it; never rendered
    weight: int
    enabled: bool
    adapter: str  # Adapter
    path: str  # explicit upstream path, "" for the adapter's default
    headers: Mapping[str, str]
    tier: str  # Tier value, or "" when not part of neural routing
    rate_limit: RateLimitSpec | None  # the instance's own limit, None when it has none
    breaker: BreakerSpec  # the instance's override, else its service's
    connect_timeout_s: float
    request_timeout_s: float
    created: int = 0  # Unix seconds it was added: the `created` of its model in /v1/models
    upstream_model: str = ""  # the model name sent upstream, "" for `name`
    responses_api: bool = False  # serves OpenAI's Responses API itself (passed through)
    # USD per million prompt and completion tokens, None when the instance is not priced.
    prices: tuple[float, float] | None = None

    @property
    def sent_model(self) -> str:
        """The model an upstream request names: what the instance is asked for upstream."""
        return self.upstream_model or self.name


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    service_type: str
    load_balancer: str  # LoadBalancer
    rate_limit: RateLimitSpec | None
    breaker: BreakerSpec
    fallback: FallbackSpec | None
    retries: int  # extra attempts on a different instance before the first byte
    connect_timeout_s: float
    request_timeout_s: float
    instances: tuple[InstanceSpec, ...]  # every instance, enabled or not, in a stable order
    by_model: Mapping[str, tuple[InstanceSpec, ...]]  # enabled instances per model name or alias
    # Enabled instances per tier (lightweight/powerful), for `neural` services.
    by_tier: Mapping[str, tuple[InstanceSpec, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def candidates(self, model: str) -> tuple[InstanceSpec, ...]:
        return self.by_model.get(model, ())

    def created(self, model: str) -> int:
        """When the model's first enabled instance was added (what /api/models reports too)."""
        return min((i.created for i in self.by_model.get(model, ())), default=0)


@dataclass(frozen=True, slots=True)
class LiveConfig:
    generation: int
    version: int | None
    services: Mapping[str, ServiceSpec] = field(default_factory=lambda: MappingProxyType({}))
    router: RouterSpec = field(default_factory=RouterSpec)

    def service(self, service_type: str) -> ServiceSpec | None:
        return self.services.get(service_type)

    def models(self) -> list[tuple[str, str, str]]:
        """(model, service type, adapter) of every enabled instance, deduplicated per service."""
        seen: list[tuple[str, str, str]] = []
        for service in self.services.values():
            for model, instances in service.by_model.items():
                seen.append((model, service.service_type, instances[0].adapter))
        return seen
