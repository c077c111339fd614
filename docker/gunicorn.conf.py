"""gunicorn for the gateway: uvicorn workers (ASGI), one per core unless WEB_CONCURRENCY says.

Shutdown: on SIGTERM the master closes the listening socket, each worker stops accepting and lets
its in-flight requests finish (an SSE stream included, to its last chunk), and whatever still runs
after GUNICORN_GRACEFUL_TIMEOUT seconds is killed. Orchestrators must wait longer than that before
their own SIGKILL (compose `stop_grace_period`, Kubernetes `terminationGracePeriodSeconds`).

Metrics: every worker writes its values under PROMETHEUS_MULTIPROC_DIR and `/metrics` adds them up,
so counts are the fleet's whatever worker answers the scrape. The directory is emptied when the master
starts (values of a previous run must not be added), and a dead worker's live gauges are dropped.

Logs: with LOG_FORMAT=json, gunicorn's own lines (and uvicorn's, which its workers hand to
gunicorn's error log) are JSON objects like the application's (routerproject/settings/logs.py's
JSON_FORMATTER, repeated here: this file is read before Django is). The access log is the gateway's own
(`gateway.access`), so gunicorn's and uvicorn's stay off.
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
if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    from pythonjsonlogger.core import RESERVED_ATTRS

    logconfig_dict = {
        "root": {"level": "INFO", "handlers": ["error_console"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
        "handlers": {
            "error_console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            },
        },
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(levelname)s %(name)s %(message)s",
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": "time",
                "reserved_attrs": [*RESERVED_ATTRS, "color_message"],
            }
        },
    }

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
