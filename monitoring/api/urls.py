"""Monitoring management routes, included at `api/monitoring/` (the instances' circuit breakers,
routing's, have their routes at the same prefix in `routing.api.breaker_urls`)."""

from django.urls import path

from . import views

urlpatterns = [
    path("config", views.ConfigView.as_view()),
    path("config/enabled", views.EnabledView.as_view()),
    path("config/prefix", views.PrefixView.as_view()),
    path("config/collection-interval", views.IntervalView.as_view()),
    path("config/categories", views.CategoriesView.as_view()),
    path("config/custom-tags", views.CustomTagsView.as_view()),
    path("config/snapshot", views.SnapshotView.as_view()),
    path("health", views.HealthView.as_view()),
    path("overview", views.OverviewView.as_view()),
    path("errors/stats", views.ErrorStatsView.as_view()),
    path("errors/reset", views.ErrorResetView.as_view()),
    path("degradation/status", views.DegradationStatusView.as_view()),
    path("degradation/level", views.DegradationLevelView.as_view()),
    path("degradation/auto-mode", views.DegradationAutoModeView.as_view()),
    path("degradation/force-recovery", views.DegradationRecoveryView.as_view()),
    path("cache/stats", views.CacheStatsView.as_view()),
    path("cache/clear", views.CacheClearView.as_view()),
]
