"""The instances' circuit breakers in the monitoring API, included at `api/monitoring/` beside
`monitoring.api.urls`."""

from django.urls import path

from .breaker_views import (
    CircuitBreakerForceCloseView,
    CircuitBreakerForceOpenView,
    CircuitBreakerStatsView,
)

urlpatterns = [
    path("circuit-breaker/stats", CircuitBreakerStatsView.as_view(), name="circuit-breaker-stats"),
    path(
        "circuit-breaker/force-open",
        CircuitBreakerForceOpenView.as_view(),
        name="circuit-breaker-force-open",
    ),
    path(
        "circuit-breaker/force-close",
        CircuitBreakerForceCloseView.as_view(),
        name="circuit-breaker-force-close",
    ),
]
