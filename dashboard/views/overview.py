"""The overview: traffic over the last hour (from `monitoring.history`), the router's split between
tiers, every instance's breaker and the uptime. The page shows the figures as served; with
JavaScript, `overview.js` draws the charts and refreshes them from `overview.json` every 10 s."""

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from monitoring.exposition import router_figures
from monitoring.history import traffic_samples, traffic_series
from monitoring.instance_breakers import instance_breakers, summary
from monitoring.instance_health import instance_health
from monitoring.liveness import uptime_seconds

from ..access import reader

REFRESH_SECONDS = 10


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def overview_data() -> dict[str, Any]:
    series = traffic_series(traffic_samples())
    figures = router_figures()
    lightweight, powerful = figures["lightweight_routes"], figures["powerful_routes"]
    hour_light = sum(p["lightweight"] for p in series)
    hour_powerful = sum(p["powerful"] for p in series)
    instances = instance_health()
    breakers = instance_breakers([i.instance_id for i in instances])
    types = {i.instance_id: i.service_type for i in instances}
    return {
        "generatedAt": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "uptimeSeconds": uptime_seconds(),
        "sampleIntervalSeconds": settings.MONITORING_HISTORY_INTERVAL_SECONDS,
        "refreshSeconds": REFRESH_SECONDS,
        "current": series[-1] if series else None,
        "series": series,
        "routing": {
            "lightweight": lightweight,
            "powerful": powerful,
            "lightweightShare": _share(lightweight, lightweight + powerful),
            "lastHour": {
                "lightweight": hour_light,
                "powerful": hour_powerful,
                "lightweightShare": _share(hour_light, hour_light + hour_powerful),
            },
        },
        "breakers": [
            {
                "instanceId": b["instanceId"],
                "serviceType": types.get(b["instanceId"], ""),
                "state": b["state"],
                "forced": b["forced"],
                "consecutiveFailures": b["consecutiveFailures"],
                "requestCount": b["requestCount"],
                "failureRate": b["failureRate"],
            }
            for b in breakers.values()
        ],
        "breakerSummary": summary(breakers),
    }


@reader
def overview(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/overview.html", {"data": overview_data()})


@reader
def overview_json(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(overview_data())
    add_never_cache_headers(response)
    return response
