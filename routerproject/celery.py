"""The Celery application, plus the in-process worker and beat of the embedded default.

With REDIS_URL, Celery uses Redis and runs as separate `celery worker` / `celery beat` processes.
Without it (`make run`), the broker is in memory and `start_embedded_worker()` runs a worker and the
beat scheduler as threads of the web process, so the scheduled jobs run with no server to install
and share the process's in-memory state.
"""

import os
import threading

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routerproject.settings.embedded")

app = Celery("routerproject")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def start_embedded_worker(*, concurrency: int = 2) -> threading.Thread:
    """Start a worker (thread pool) and the beat scheduler inside this process; returns the thread."""
    from celery.beat import EmbeddedService

    beat = EmbeddedService(app, thread=True)
    beat.start()
    controller = app.WorkController(
        pool_cls="threads",
        concurrency=concurrency,
        loglevel="INFO",
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
    )
    thread = threading.Thread(target=controller.start, name="celery-embedded", daemon=True)
    thread.start()
    # The CLI worker announces itself with `worker_ready`; this one proves it consumes at once.
    app.send_task("monitoring.record_worker_heartbeat")
    return thread
