"""Jobs of the routing app."""

import asyncio
import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import health_probes, selectors, services
from .exemplars import flush_outcomes, recover_claims
from .neural.model_file import ModelFileError

logger = logging.getLogger(__name__)


@shared_task(name="routing.flush_routing_outcomes")
def flush_routing_outcomes() -> int:
    """Fold the outcomes queued by the neural router into its exemplars, each exactly once: safe to
    run concurrently and to run again after a worker died mid-run (see `exemplars`)."""
    total = recover_claims()
    while True:
        done = flush_outcomes()
        total += done
        if done == 0:
            return total


@shared_task(name="routing.probe_instances")
def probe_instances() -> dict[str, int]:
    """Probe every enabled instance over HTTP, concurrently, and record each one's health (rows and
    the data plane's health bits). Idempotent: a run only overwrites observations with newer ones."""
    if not settings.HEALTH_CHECK_ENABLED:
        return {"healthy": 0, "unhealthy": 0}
    targets = [
        health_probes.ProbeTarget(
            key=instance.pk,
            instance_id=instance.instance_id,
            url=health_probes.probe_url(instance.adapter, instance.base_url),
            headers=health_probes.probe_headers(
                instance.api_key, instance.headers, instance.adapter
            ),
        )
        for instance in selectors.instance_probe_list()
    ]
    results = asyncio.run(
        health_probes.probe_all(
            targets,
            limit_s=settings.HEALTH_CHECK_TIMEOUT_SECONDS,
            concurrency=settings.HEALTH_CHECK_CONCURRENCY,
        )
    )
    services.instance_health_record(
        results=results,
        checked_at=timezone.now(),
        # Bits outlive a few missed rounds, then fade: stopped probes never keep an instance out.
        ttl_seconds=max(3 * settings.HEALTH_CHECK_INTERVAL_SECONDS, 60.0),
    )
    healthy = sum(results.values())
    return {"healthy": healthy, "unhealthy": len(results) - healthy}


@shared_task(name="routing.reload_router_model")
def reload_router_model() -> dict[str, object]:
    """Reload the neural router's model on every worker (scheduled or CLI use; `POST /admin/reload`
    calls the same service synchronously so it can answer with the reason of a failure)."""
    from .services import router_model_reload

    try:
        served = router_model_reload()
    except ModelFileError as exc:
        return {"success": False, "message": f"Failed to reload model: {exc}"}
    return {"success": True, "path": served.path, "size_bytes": served.size_bytes}


@shared_task(name="routing.retrain_router")
def retrain_router() -> dict[str, object]:
    """Retrain the prompt scorer and make it live (see `retraining`); a failure keeps the model in
    service and is logged. Idempotent: a second run trains the same model again."""
    from .neural.training_data import TrainingDataError
    from .retraining import retrain

    try:
        return retrain()
    except (TrainingDataError, ValueError, ModelFileError) as exc:
        logger.warning("Router retraining failed, the model in service is kept: %s", exc)
        return {"error": str(exc)}
