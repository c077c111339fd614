"""The monitoring system's components, checked as they are now (`/api/monitoring/health`)."""

import os
import tempfile
import time
from typing import Any

from django.conf import settings
from django.db import connection

from routerproject.state import GENERATION_KEY, get_state

from .errors import DEGRADED_AFTER, component_stats, record_error
from .tasks import WORKER_HEARTBEAT_KEY

UP, DOWN, NOT_CONFIGURED = "UP", "DOWN", "NOT_CONFIGURED"
# Beat sends the heartbeat every 30 s: three missed beats mean no worker is consuming the queue.
HEARTBEAT_MAX_AGE_SECONDS = 90


def _metrics_collector() -> str | None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        if not os.path.isdir(directory):
            return f"PROMETHEUS_MULTIPROC_DIR {directory} does not exist"
        with tempfile.TemporaryFile(dir=directory):
            pass
    if component_stats("metricsCollector")["recentErrors"] >= DEGRADED_AFTER:
        return "recording failed repeatedly in the current error window"
    return None


def _registry() -> str | None:
    from .exposition import recorded_families

    recorded_families()
    return None


def _config_updater() -> str | None:
    from .live_settings import refresh_view

    view = refresh_view()
    shared = int(get_state().get(GENERATION_KEY) or 0)
    if view.generation != shared:
        return f"settings at generation {view.generation}, configuration at {shared}"
    return None


def _database() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return None


def _redis() -> str | None:
    if not get_state().ping():
        return "no answer to PING"
    return None


def _celery() -> str | None:
    raw = get_state().get(WORKER_HEARTBEAT_KEY)
    if raw is None:
        return "no worker heartbeat yet"
    age = time.time() - float(raw)
    if age > HEARTBEAT_MAX_AGE_SECONDS:
        return f"last worker heartbeat {int(age)} s ago"
    return None


CHECKS = {
    "metricsCollector": _metrics_collector,
    "prometheusRegistry": _registry,
    "configUpdater": _config_updater,
    "database": _database,
    "redis": _redis,
    "celery": _celery,
}


def monitoring_health() -> dict[str, Any]:
    details: dict[str, str] = {}
    problems: dict[str, str] = {}
    for name, check in CHECKS.items():
        if name == "redis" and not settings.REDIS_URL:
            details[name] = NOT_CONFIGURED
            continue
        try:
            problem = check()
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if problem:
            details[name] = DOWN
            problems[name] = problem
            if name != "celery":  # a missing heartbeat is a state, not an error to count
                record_error(name, problem)
        else:
            details[name] = UP
    healthy = not problems
    return {
        "status": UP if healthy else DOWN,
        "healthy": healthy,
        "details": details,
        "problems": problems,
    }
