"""ASGI entry point: uvicorn (embedded) and gunicorn's uvicorn workers (production)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routerproject.settings.embedded")

django_application = get_asgi_application()

# /v1 (the data plane) bypasses the sync-only middleware stack; see routing/dataplane/asgi.py.
from routerproject.generations import one_reading_per_request  # noqa: E402
from routing.dataplane.asgi import with_lean_v1  # noqa: E402

# A request reads the generation counters its caches follow at most once.
application = one_reading_per_request(with_lean_v1(django_application))
