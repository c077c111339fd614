"""The Celery application, plus the in-process worker and beat of the embedded default.

With REDIS_URL, Celery uses Redis and runs as separate `celery worker` / `celery beat` processes.
Without it (`make run`), the broker is in memory and `start_embedded_worker()` runs a worker and the
beat scheduler as threads of the web process, so the scheduled jobs run with no server to install
and share the process's in-memory state.

Logging is Django's (the LOGGING settings: LOG_FORMAT, secrets masked, Celery's own loggers at
CELERY_LOG_LEVEL) in every process: a `celery worker` or `celery beat` keeps it rather than
installing its own handler, and takes only the root level from its `--loglevel`.
"""

import logging
import os
import threading
from typing import Any

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routerproject.settings.embedded")

app = Celery("routerproject")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _django_logging(*, loglevel: int | str | None = None, **kwargs: Any) -> None:
    """Celery's CLI configures logging only when no receiver does (this one)."""
    from django.conf import settings

    from routerproject.masking import configure_logging

    configure_logging(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)


def start_embedded_worker(*, concurrency: int = 2) -> threading.Thread:
    """Start a worker (thread pool) and the beat scheduler inside this process; returns the thread."""
    from celery.beat import EmbeddedService
    from django.conf import settings

    beat = EmbeddedService(app, thread=True)
    beat.start()
    controller = app.WorkController(
        pool_cls="threads",
        concurrency=concurrency,
        loglevel=settings.CELERY_LOG_LEVEL,
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
    )
    thread = threading.Thread(target=controller.start, name="celery-embedded", daemon=True)
    thread.start()
    # The CLI worker announces itself with `worker_ready`; this one proves it consumes at once.
    app.send_task("monitoring.record_worker_heartbeat")
    return thread
