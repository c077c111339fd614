"""Live-configuration snapshots built directly, for tests that need no ORM rows."""

from collections.abc import Iterable
from types import MappingProxyType

from routerproject.state import GENERATION_KEY, STATE_ERRORS, get_state
from routing.snapshot import BreakerSpec, InstanceSpec, LiveConfig, ServiceSpec

BREAKER = BreakerSpec(
    enabled=False, failure_threshold=5, recovery_timeout_ms=30_000, success_threshold=1
)


def instance(
    name: str = "fake-chat",
    base_url: str = "http://127.0.0.1:9",
    *,
    service_type: str = "chat",
    weight: int = 1,
    enabled: bool = True,
    adapter: str = "openai",
    api_key: str = "",
    headers: dict[str, str] | None = None,
    path: str = "",
    request_timeout_s: float = 30.0,
    upstream_model: str = "",
    responses_api: bool = False,
) -> InstanceSpec:
    return InstanceSpec(
        instance_id=f"{name}@{base_url}",
        service_type=service_type,
        name=name,
        base_url=base_url,
        api_key=api_key,
        weight=weight,
        enabled=enabled,
        adapter=adapter,
        path=path,
        headers=MappingProxyType(headers or {}),
        tier="",
        rate_limit=None,
        breaker=BREAKER,
        connect_timeout_s=2.0,
        request_timeout_s=request_timeout_s,
        upstream_model=upstream_model,
        responses_api=responses_api,
    )


def service(
    service_type: str, instances: Iterable[InstanceSpec], *, load_balancer: str = "random"
) -> ServiceSpec:
    instances = tuple(instances)
    by_model: dict[str, list[InstanceSpec]] = {}
    for spec in instances:
        if spec.enabled:
            by_model.setdefault(spec.name, []).append(spec)
    return ServiceSpec(
        service_type=service_type,
        load_balancer=load_balancer,
        rate_limit=None,
        breaker=BREAKER,
        fallback=None,
        retries=0,
        connect_timeout_s=2.0,
        request_timeout_s=30.0,
        instances=instances,
        by_model=MappingProxyType({k: tuple(v) for k, v in by_model.items()}),
    )


def live_config(*services: ServiceSpec, generation: int | None = None) -> LiveConfig:
    """A snapshot at the shared state's configuration generation unless told another: installed,
    it is not rebuilt from the (empty) database when the next check of the generation comes,
    whatever earlier tests of the process moved it to."""
    if generation is None:
        try:
            generation = int(get_state().get(GENERATION_KEY) or 0)
        except STATE_ERRORS:  # tests of a shared state that is down
            generation = 0
    return LiveConfig(
        generation=generation,
        version=None,
        services=MappingProxyType({s.service_type: s for s in services}),
    )
