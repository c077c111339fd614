"""Errors of the monitoring system, counted per component in shared state (fleet-wide).

A component is *active* while it has errors in the current window (ERROR_WINDOW_SECONDS) and
*degraded* when that window holds DEGRADED_AFTER errors or more. Recording never raises: the monitoring
of failures must not itself fail the request or job that reports one.
"""

import json
import logging
import time
from typing import Any

from routerproject.exceptions import NotFound
from routerproject.state import STATE_ERRORS, get_state, log_degraded

logger = logging.getLogger(__name__)

COMPONENTS = (
    "metricsCollector",
    "prometheusRegistry",
    "configUpdater",
    "database",
    "redis",
    "celery",
)
ERROR_WINDOW_SECONDS = 300
DEGRADED_AFTER = 5


def _key(component: str, part: str) -> str:
    return f"monitoring:errors:{component}:{part}"


def record_error(component: str, error: BaseException | str) -> None:
    """Count one error of `component` (one of COMPONENTS)."""
    message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    logger.warning("Monitoring component %s failed: %s", component, message)
    try:
        state = get_state()
        state.incr(_key(component, "total"))
        state.incr(_key(component, "recent"), ttl_seconds=ERROR_WINDOW_SECONDS)
        state.set(
            _key(component, "last"),
            json.dumps({"at": time.time(), "message": message[:300]}),
        )
    except STATE_ERRORS as exc:  # the shared state itself may be what is failing
        log_degraded(logger, exc, "Could not record the error of %s: %s", component, exc)
    except Exception:
        logger.warning("Could not record the error of %s", component, exc_info=True)


def component_stats(component: str) -> dict[str, Any]:
    state = get_state()
    total = int(state.get(_key(component, "total")) or 0)
    recent = int(state.get(_key(component, "recent")) or 0)
    last_raw = state.get(_key(component, "last"))
    last = json.loads(last_raw) if last_raw else None
    status = "DEGRADED" if recent >= DEGRADED_AFTER else "ERROR" if recent else "OK"
    return {
        "totalErrors": total,
        "recentErrors": recent,
        "status": status,
        "lastError": last["message"] if last else None,
        "lastErrorAt": last["at"] if last else None,
    }


def error_stats() -> dict[str, Any]:
    components = {c: component_stats(c) for c in COMPONENTS}
    return {
        "totalErrors": sum(c["totalErrors"] for c in components.values()),
        "recentErrors": sum(c["recentErrors"] for c in components.values()),
        "activeErrorComponents": sum(1 for c in components.values() if c["recentErrors"]),
        "degradedComponents": sum(1 for c in components.values() if c["status"] == "DEGRADED"),
        "windowSeconds": ERROR_WINDOW_SECONDS,
        "components": components,
    }


def error_reset(component: str | None) -> list[str]:
    """Forget the errors of one component (or of all when None); returns the components reset."""
    if component is not None and component not in COMPONENTS:
        raise NotFound(
            f"Unknown monitoring component '{component}'; expected one of {list(COMPONENTS)}"
        )
    targets = [component] if component else list(COMPONENTS)
    state = get_state()
    for target in targets:
        state.delete(*(_key(target, part) for part in ("total", "recent", "last")))
    return targets
