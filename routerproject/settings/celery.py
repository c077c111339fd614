"""Celery: Redis as broker when REDIS_URL is set; otherwise an in-process broker, needing no server."""

from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from routerproject import redis_urls

from .env import env_bool, env_int, env_str
from .gateway import HEALTH_CHECK_INTERVAL_SECONDS

_var_dir = Path(env_str("ROUTER_VAR_DIR", str(Path(__file__).resolve().parents[2] / "var")))
_redis_url = env_str("REDIS_URL")

# A job taken by a worker that dies before acknowledging it goes back to the queue after this long
# (Redis broker). Longer than any job runs, or a running job would be handed to a second worker.
CELERY_VISIBILITY_TIMEOUT_SECONDS = env_int("CELERY_VISIBILITY_TIMEOUT_SECONDS", 3600, minimum=1)

if _redis_url:
    # One server as it is; Sentinel as kombu's `sentinel://` list with the primary's name; a Redis
    # Cluster, which Celery's Redis transport cannot use, only with a broker of its own.
    _celery = redis_urls.celery_urls(_redis_url)
    if _celery is None and not (env_str("CELERY_BROKER_URL") and env_str("CELERY_RESULT_BACKEND")):
        raise ImproperlyConfigured(
            "REDIS_URL names a Redis Cluster (or Sentinel over TLS), which Celery's Redis transport "
            "cannot use: set CELERY_BROKER_URL and CELERY_RESULT_BACKEND to a single Redis server"
        )
    _broker, _options = _celery or ("", {})
    CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", _broker)
    CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", _broker)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT_SECONDS,
        **(_options if _broker == CELERY_BROKER_URL else {}),
    }
    if _broker == CELERY_RESULT_BACKEND and _options:
        CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = dict(_options)
else:
    # One process: the worker and beat run as threads of the web process (routerproject.celery).
    CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "memory://")
    CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "cache+memory://")
    CELERY_BROKER_TRANSPORT_OPTIONS = {}

CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# Separate queues let several deployments (or test runs) share one Redis broker.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_EAGER_PROPAGATES = True
# A job is acknowledged when it ends, not when it starts, and one whose worker process died (killed,
# out of memory) is queued again rather than lost: it runs again, so every job is idempotent
# (routing.flush_routing_outcomes keeps a ledger; the others overwrite, delete or add a sample).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(_var_dir / "celerybeat-schedule")
# Each app adds its periodic jobs here (see the apps' tasks modules and routerproject/celery.py).
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}

CELERY_BEAT_SCHEDULE["monitoring.record_worker_heartbeat"] = {
    "task": "monitoring.record_worker_heartbeat",
    "schedule": 30.0,
}

# Auto mode of the degradation policy: memory pressure and error rates -> level.
CELERY_BEAT_SCHEDULE["monitoring.evaluate_degradation"] = {
    "task": "monitoring.evaluate_degradation",
    "schedule": 30.0,
}

# The overview's last hour: one sample of the fleet's traffic totals a minute (monitoring.history);
# a run that waited longer than one interval is dropped (the next one takes its counts).
MONITORING_HISTORY_INTERVAL_SECONDS = env_int("MONITORING_HISTORY_INTERVAL_SECONDS", 60, minimum=1)
CELERY_BEAT_SCHEDULE["monitoring.record_traffic_sample"] = {
    "task": "monitoring.record_traffic_sample",
    "schedule": float(MONITORING_HISTORY_INTERVAL_SECONDS),
    "options": {"expires": float(MONITORING_HISTORY_INTERVAL_SECONDS)},
}

# The request history's retention (REQUEST_HISTORY_RETENTION_DAYS): rows past it deleted hourly,
# in bounded batches; a run that waited past the next one is dropped.
CELERY_BEAT_SCHEDULE["monitoring.delete_old_request_records"] = {
    "task": "monitoring.delete_old_request_records",
    "schedule": 3600.0,
    "options": {"expires": 3600.0},
}

CELERY_BEAT_SCHEDULE["routing.flush_routing_outcomes"] = {
    "task": "routing.flush_routing_outcomes",
    "schedule": 5.0,
}

# Retraining of the neural router from labelled data and client verdicts (NEURAL_RETRAIN_INTERVAL_SECONDS;
# 0: only on demand, `manage.py retrain_router`).
_RETRAIN_SECONDS = env_int("NEURAL_RETRAIN_INTERVAL_SECONDS", 0, minimum=0)
if _RETRAIN_SECONDS:
    CELERY_BEAT_SCHEDULE["routing.retrain_router"] = {
        "task": "routing.retrain_router",
        "schedule": float(_RETRAIN_SECONDS),
        "options": {"expires": float(_RETRAIN_SECONDS)},
    }

# Health probes of every enabled instance; a run that waited longer than one interval is dropped.
CELERY_BEAT_SCHEDULE["routing.probe_instances"] = {
    "task": "routing.probe_instances",
    "schedule": HEALTH_CHECK_INTERVAL_SECONDS,
    "options": {"expires": HEALTH_CHECK_INTERVAL_SECONDS},
}

# Expired JWTs and expired blacklist entries, daily at 02:00 UTC (the seed's `nextScheduledCleanup`).
CELERY_BEAT_SCHEDULE["authjwt.cleanup_expired"] = {
    "task": "authjwt.cleanup_expired",
    "schedule": crontab(hour=2, minute=0),
}
