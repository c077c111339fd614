"""Logging: one console stream, as text lines or one JSON object per line (LOG_FORMAT); every
record has its secrets masked when it is made (`routerproject.masking.configure_logging`), before
any handler, ours or a server's, sees it. The access log (`gateway.access`, a line per /v1 request,
`monitoring.access_log`) is written from a thread of its own (`routerproject.logs`), so that the
event loop never waits on a full pipe. Celery's loggers are held at CELERY_LOG_LEVEL: its routine
lines (each job received and succeeded, each beat sending) would drown the rest."""

import logging

from django.core.exceptions import ImproperlyConfigured
from pythonjsonlogger.core import RESERVED_ATTRS

from .env import env_bool, env_str


def _level(name: str, default: str) -> str | int:
    """A level's name (`WARNING`) or number; Celery's worker itself exports CELERY_LOG_LEVEL to
    its pool's processes as a number."""
    raw = env_str(name, default).strip().upper() or default
    if raw.isdigit():
        return int(raw)
    if not isinstance(logging.getLevelName(raw), int):
        raise ImproperlyConfigured(
            f"{name} must be a log level (DEBUG, INFO, WARNING…), got {raw!r}"
        )
    return raw


LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOG_FORMAT = env_str("LOG_FORMAT", "text").strip().lower() or "text"
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, got {LOG_FORMAT!r}")
GATEWAY_ACCESS_LOG = env_bool("GATEWAY_ACCESS_LOG", True)
CELERY_LOG_LEVEL = _level("CELERY_LOG_LEVEL", "WARNING")

# docker/gunicorn.conf.py gives gunicorn's own lines the same JSON formatter.
JSON_FORMATTER = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(levelname)s %(name)s %(message)s",
    "rename_fields": {"levelname": "level", "name": "logger"},
    "timestamp": "time",  # ISO 8601, UTC
    # uvicorn's lines carry their message again with terminal colours.
    "reserved_attrs": [*RESERVED_ATTRS, "color_message"],
}

LOGGING_CONFIG = "routerproject.masking.configure_logging"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_secrets": {"()": "routerproject.masking.SecretMaskingFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": JSON_FORMATTER,
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["mask_secrets"],
        },
        # No filter: its records are made on /v1 requests, long after the masking record factory
        # is installed, which masks them once (the filter would mask them again).
        "access": {"()": "routerproject.logs.BackgroundStreamHandler", "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "celery": {"level": CELERY_LOG_LEVEL},
        # Its own level: the access log is kept (or not) whatever LOG_LEVEL says.
        "gateway.access": {
            "handlers": ["access"],
            "level": "INFO" if GATEWAY_ACCESS_LOG else "WARNING",
            "propagate": False,
        },
    },
}
