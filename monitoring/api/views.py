"""Monitoring management endpoints at the seed's paths (`/api/monitoring/*`), in the envelope."""

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from configversions.selectors import current_version_number
from routerproject.envelope import envelope
from routerproject.schema import responses

from .. import caches, degradation, errors, instance_breakers
from ..component_checks import monitoring_health
from ..instance_health import instance_health
from ..live_settings import refresh_view
from ..selectors import monitoring_settings
from ..services import monitoring_settings_update
from . import serializers as s

TAG = ["monitoring"]


class ConfigView(APIView):
    @extend_schema(
        tags=TAG,
        summary="Current monitoring configuration",
        responses=responses("MonitoringConfig", s.MonitoringConfigSerializer()),
    )
    def get(self, request: Request) -> Response:
        return envelope(monitoring_settings(), message="Monitoring configuration retrieved")

    @extend_schema(
        tags=TAG,
        summary="Update any monitoring settings (sampling and performance included)",
        request=s.MonitoringConfigUpdateSerializer,
        responses=responses("MonitoringConfigUpdate", s.UpdatedFieldsSerializer()),
    )
    def put(self, request: Request) -> Response:
        return _update(request, s.MonitoringConfigUpdateSerializer, "Monitoring configuration")


def _update(
    request: Request, serializer_class: type[serializers.Serializer], what: str
) -> Response:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    updated = monitoring_settings_update(actor=request.user, **serializer.validated_data)
    return envelope(
        {"updatedFields": updated, "config": monitoring_settings()},
        message=f"{what} updated" if updated else f"{what} unchanged",
    )


def _setting_view(name: str, serializer_class: type[serializers.Serializer], what: str) -> Any:
    class SettingView(APIView):
        @extend_schema(
            tags=TAG,
            summary=f"Update {what.lower()}",
            operation_id=f"monitoring_config_{name}_update",
            request=serializer_class,
            responses=responses(f"Monitoring{name.title()}Update", s.UpdatedFieldsSerializer()),
        )
        def put(self, request: Request) -> Response:
            return _update(request, serializer_class, what)

    SettingView.__name__ = SettingView.__qualname__ = f"{name.title()}SettingView"
    return SettingView


EnabledView = _setting_view("enabled", s.EnabledSerializer, "Monitoring enabled status")
PrefixView = _setting_view("prefix", s.PrefixSerializer, "Metric prefix")
IntervalView = _setting_view("interval", s.CollectionIntervalSerializer, "Collection interval")
CategoriesView = _setting_view("categories", s.CategoriesSerializer, "Monitoring categories")
CustomTagsView = _setting_view("tags", s.CustomTagsSerializer, "Custom tags")


class SnapshotView(APIView):
    @extend_schema(
        tags=TAG,
        summary="Monitoring configuration snapshot, with the version and what applies now",
        responses=responses("MonitoringSnapshot", s.ConfigSnapshotSerializer()),
    )
    def get(self, request: Request) -> Response:
        view = refresh_view()
        return envelope(
            {
                "config": view.content,
                "version": current_version_number(),
                "generation": view.generation,
                "degradationLevel": view.level.value,
                "effectiveSamplingRate": view.sample_rate,
                "snapshotAt": timezone.now(),
            },
            message="Monitoring configuration snapshot retrieved",
        )


class HealthView(APIView):
    @extend_schema(
        tags=TAG,
        summary="Health of the monitoring system's components",
        responses=responses("MonitoringHealth", s.HealthSerializer()),
    )
    def get(self, request: Request) -> Response:
        health = monitoring_health()
        return envelope(
            health,
            message="Monitoring system is healthy"
            if health["healthy"]
            else "Monitoring system has unhealthy components",
        )


class OverviewView(APIView):
    @extend_schema(
        tags=TAG,
        summary="Overview of the monitoring system from live data",
        responses=responses("MonitoringOverview", serializers.JSONField()),
    )
    def get(self, request: Request) -> Response:
        view = refresh_view()
        health = monitoring_health()
        stats = errors.error_stats()
        status = degradation.degradation_status()
        cache = caches.cache_stats()
        return envelope(
            {
                "enabled": view.enabled,
                "prefix": view.prefix,
                "enabledCategories": view.content["enabledCategories"],
                "healthy": health["healthy"],
                "errorStats": {
                    "activeErrorComponents": stats["activeErrorComponents"],
                    "degradedComponents": stats["degradedComponents"],
                    "totalErrors": stats["totalErrors"],
                },
                "degradationStatus": {
                    "level": status["level"],
                    "samplingRate": status["samplingRate"],
                    "autoModeEnabled": status["autoModeEnabled"],
                },
                "cacheStats": {
                    "usageRatio": cache["usageRatio"],
                    "hitRatio": cache["hitRatio"],
                    # In-flight retries: the /v1 retry loop reports them when it lands.
                    "activeRetries": 0,
                },
                "circuitBreakerStats": instance_breakers.summary(
                    instance_breakers.instance_breakers([i.instance_id for i in instance_health()])
                ),
            },
            message="Monitoring overview retrieved",
        )


class ErrorStatsView(APIView):
    @extend_schema(
        tags=TAG,
        summary="Errors of the monitoring system per component",
        responses=responses("ErrorStats", serializers.JSONField()),
    )
    def get(self, request: Request) -> Response:
        return envelope(errors.error_stats(), message="Error statistics retrieved")


class ErrorResetView(APIView):
    @extend_schema(
        tags=TAG,
        summary="Reset the error status of a component (all when none is given)",
        request=s.ErrorResetSerializer,
        responses=responses("ErrorReset", serializers.ListField(child=serializers.CharField())),
    )
    def post(self, request: Request) -> Response:
        serializer = s.ErrorResetSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        reset = errors.error_reset(serializer.validated_data.get("component"))
        return envelope(reset, message="Error status reset")


class DegradationStatusView(APIView):
    @extend_schema(
        tags=TAG,
        summary="Degradation policy status",
        responses=responses("DegradationStatus", s.DegradationStatusSerializer()),
    )
    def get(self, request: Request) -> Response:
        return envelope(degradation.degradation_status(), message="Degradation status retrieved")


class DegradationLevelView(APIView):
    @extend_schema(
        tags=TAG,
        summary="Set the degradation level (turns auto mode off)",
        request=s.LevelSerializer,
        responses=responses("DegradationLevel", s.DegradationStatusSerializer()),
    )
    def post(self, request: Request) -> Response:
        serializer = s.LevelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        degradation.degradation_set_level(
            degradation.parse_level(serializer.validated_data["level"])
        )
        return envelope(degradation.degradation_status(), message="Degradation level set")


class DegradationAutoModeView(APIView):
    @extend_schema(
        tags=TAG,
        summary="Enable or disable the automatic degradation policy",
        request=s.EnabledSerializer,
        responses=responses("DegradationAutoMode", s.DegradationStatusSerializer()),
    )
    def post(self, request: Request) -> Response:
        serializer = s.EnabledSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        degradation.degradation_set_auto(enabled=serializer.validated_data["enabled"])
        return envelope(degradation.degradation_status(), message="Auto mode updated")


class DegradationRecoveryView(APIView):
    @extend_schema(
        tags=TAG,
        summary="Force recovery to NORMAL",
        request=None,
        responses=responses("DegradationRecovery", s.DegradationStatusSerializer()),
    )
    def post(self, request: Request) -> Response:
        degradation.degradation_force_recovery()
        return envelope(degradation.degradation_status(), message="Recovered to normal mode")


class CacheStatsView(APIView):
    @extend_schema(
        tags=TAG,
        summary="Sizes (this worker) and hit ratios (fleet) of the gateway's caches",
        responses=responses("CacheStats", serializers.JSONField()),
    )
    def get(self, request: Request) -> Response:
        return envelope(caches.cache_stats(), message="Cache statistics retrieved")


class CacheClearView(APIView):
    @extend_schema(
        tags=TAG,
        summary="Empty the gateway's caches on every worker",
        request=None,
        responses=responses("CacheClear", serializers.ListField(child=serializers.CharField())),
    )
    def post(self, request: Request) -> Response:
        return envelope(caches.cache_clear(), message="Caches cleared on every worker")
