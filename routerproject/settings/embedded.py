"""The embedded default of `make run`: SQLite, in-memory state, Celery on a file broker, demo data.

Everything can still be overridden from the environment (DATABASE_URL, REDIS_URL, ...).
"""

from .base import *  # noqa: F403
