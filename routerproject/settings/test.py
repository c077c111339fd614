"""Settings for the test suite: the backends come from the environment like any other mode."""

import os
import uuid

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CELERY_TASK_ALWAYS_EAGER = True

# Runs may share one Redis (parallel checkouts, CI): each test process gets its own key space.
STATE_KEY_PREFIX = f"test:{os.getpid()}:{uuid.uuid4().hex[:8]}:"

# Unit tests share one process: nothing to announce (tests of the announcements build their own).
STATE_ANNOUNCES_GENERATIONS = False

# The suite traces into its own in-memory exporters only, whatever OTEL_* the shell exports.
TRACING_EXPORTERS = []

# Requests of the tests that are not about the history are not recorded (those that are enable it,
# with a history of their own flushed explicitly: no writer thread against the test database).
REQUEST_HISTORY_ENABLED = False
