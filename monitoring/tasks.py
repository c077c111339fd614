"""Periodic jobs of the monitoring app."""

import time
from typing import Any

from celery import shared_task
from celery.signals import worker_ready

from routerproject.state import get_state

WORKER_HEARTBEAT_KEY = "celery:heartbeat"


@shared_task(name="monitoring.record_worker_heartbeat", ignore_result=False)
def record_worker_heartbeat() -> float:
    """Proves a worker is consuming the queue: health reports Celery by the heartbeat's age."""
    now = time.time()
    get_state().set(WORKER_HEARTBEAT_KEY, repr(now), ttl_seconds=3600)
    return now


@worker_ready.connect
def _heartbeat_on_start(**kwargs: Any) -> None:
    # A worker is known to be consuming from its first moment, not only after the first beat.
    record_worker_heartbeat()


@shared_task(name="monitoring.evaluate_degradation")
def evaluate_degradation() -> str | None:
    """Auto mode of the degradation policy (no-op when it is off): returns the level applied."""
    from .degradation import degradation_evaluate

    level = degradation_evaluate()
    return level.value if level is not None else None


@shared_task(name="monitoring.record_traffic_sample")
def record_traffic_sample() -> dict | None:
    """One sample of the fleet's traffic totals for the overview's last hour."""
    from .history import traffic_sample_record

    return traffic_sample_record()


@shared_task(name="monitoring.delete_old_request_records")
def delete_old_request_records() -> int:
    """The request history's retention: rows past REQUEST_HISTORY_RETENTION_DAYS deleted in
    bounded batches. Idempotent: a rerun deletes nothing more."""
    from django.conf import settings

    from .services import request_records_delete_expired

    return request_records_delete_expired(retention_days=settings.REQUEST_HISTORY_RETENTION_DAYS)
