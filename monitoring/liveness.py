"""Liveness for probes: always cheap, touching neither the database nor Redis."""

import time

from django.conf import settings
from django.http import HttpRequest, JsonResponse

STARTED_AT = time.monotonic()


def uptime_seconds() -> int:
    return int(time.monotonic() - STARTED_AT)


async def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "status": "healthy",
            "version": settings.ROUTER_VERSION,
            "uptime_seconds": uptime_seconds(),
        }
    )
