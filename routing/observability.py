"""What the monitoring system sees of routing, registered from `RoutingConfig.ready` (the monitoring
app sits below routing and reads it only through what is registered here).

Caches (`/api/monitoring/cache/*`):
- liveConfig: the live configuration snapshot of the /v1 data plane (service types + instances);
  a lookup is one check of the shared generation: hit when the snapshot was current, miss on
  rebuild. Clearing moves the configuration generation, so every worker rebuilds its snapshot.
- routingExemplars: the exemplar bank of the neural router's scorer (loaded with the model), hit
  when a decision could search it. Clearing moves the router's reload generation, so every worker
  loads its scorer and bank again.

Instances: their health from the ORM (written by the `routing.probe_instances` job) and their
breakers from shared state, for `/metrics` and the overviews. And the `router` family of `/metrics`
gains this worker's router breaker.

The access log (`monitoring.access_log`, GATEWAY_ACCESS_LOG) listens to the end of each /v1 request.
"""

from django.conf import settings
from prometheus_client.metrics_core import Metric

from configversions.services import bump_generation
from monitoring import instance_breakers
from monitoring.access_log import log_exchange
from monitoring.caches import Cache, register_cache
from monitoring.exposition import gauge, register_collector
from monitoring.instance_health import InstanceHealth, read_health_with
from routerproject.state import get_state

from .dataplane.ended import on_exchange_end
from .live_config import get_live_config, live_config_size
from .models import ServiceInstance
from .neural_runtime import RELOAD_KEY, runtime
from .resilience.breaker import BreakerState
from .resilience.shared_breakers import breaker_stats

_BREAKER_CODES = {BreakerState.CLOSED: 0, BreakerState.OPEN: 1, BreakerState.HALF_OPEN: 2}


def _bank_size() -> int:
    """Prompts in the exemplar bank of this worker's scorer (the neighbours it decides with)."""
    router = runtime.router
    prompt = router.prompt_model if router is not None else None
    return len(prompt.bank) if prompt is not None else 0


def _reload_router() -> None:
    get_state().incr(RELOAD_KEY)


def health_of_instances() -> list[InstanceHealth]:
    rows = ServiceInstance.objects.select_related("service_type").order_by(
        "service_type__name", "id"
    )
    return [
        InstanceHealth(row.service_type.name, row.instance_id, str(row.health_status))
        for row in rows
    ]


def router_breaker_families() -> list[Metric]:
    state = runtime.current(get_live_config().router).breaker_state()
    code = _BREAKER_CODES[state] if state is not None else 0
    return [
        gauge(
            "tiny_dancer_circuit_breaker_state",
            "This worker's router breaker: 0 closed (or disabled), 1 open, 2 half-open",
            [({}, float(code))],
        )
    ]


def register() -> None:
    register_cache(Cache("liveConfig", position=1, size=live_config_size, clear=bump_generation))
    register_cache(Cache("routingExemplars", position=3, size=_bank_size, clear=_reload_router))
    read_health_with(health_of_instances)
    instance_breakers.read_breakers_with(breaker_stats)
    register_collector("router", router_breaker_families)
    if settings.GATEWAY_ACCESS_LOG:
        on_exchange_end(log_exchange)
