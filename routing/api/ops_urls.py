"""The neural router's operations API at the seed's paths, included at the root."""

from django.urls import path

from monitoring.liveness import health

from . import ops_views

urlpatterns = [
    path("health", health, name="health"),
    path("health/ready", ops_views.ready, name="health-ready"),
    path("metrics", ops_views.metrics_view, name="metrics"),
    path("info", ops_views.info, name="info"),
    path("admin/reload", ops_views.admin_reload, name="admin-reload"),
    path("admin/config", ops_views.admin_config, name="admin-config"),
    path("admin/circuit-breaker", ops_views.admin_breaker, name="admin-circuit-breaker"),
    path(
        "admin/circuit-breaker/reset",
        ops_views.admin_breaker_reset,
        name="admin-circuit-breaker-reset",
    ),
]
