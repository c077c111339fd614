"""gunicorn for the gateway: uvicorn workers (ASGI), one per core unless WEB_CONCURRENCY says.

Shutdown: on SIGTERM the master closes the listening socket, each worker stops accepting and lets
its in-flight requests finish (an SSE stream included, to its last chunk), and whatever still runs
after GUNICORN_GRACEFUL_TIMEOUT seconds is killed. Orchestrators must wait longer than that before
their own SIGKILL (compose `stop_grace_period`, Kubernetes `terminationGracePeriodSeconds`).

Metrics: every worker writes its values under PROMETHEUS_MULTIPROC_DIR and `/metrics` adds them up,
so counts are the fleet's whatever worker answers the scrape. The directory is emptied when the master
starts (values of a previous run must not be added), and a dead worker's live gauges are dropped.
"""

import multiprocessing
import os
import shutil
import tempfile
from typing import Any

_port = os.environ.get("PORT", "8080")
bind = f"{os.environ.get('HOST', '0.0.0.0')}:{_port}"  # noqa: S104
worker_class = "uvicorn_worker.UvicornWorker"
# Popped: uvicorn reads WEB_CONCURRENCY too, and a uvicorn worker given a count refuses to start.
workers = int(os.environ.pop("WEB_CONCURRENCY", multiprocessing.cpu_count()))
# Streams can be long: the gateway applies its own per-request timeouts upstream.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "300"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
accesslog = None
errorlog = "-"

# Set before any worker imports prometheus_client (workers inherit the master's environment).
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR",
    os.path.join(tempfile.gettempdir(), f"routerproject-metrics-{_port}"),
)


def on_starting(server: Any) -> None:
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
