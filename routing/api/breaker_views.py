"""Circuit breakers in the monitoring API: statistics, and forcing them open or closed.

Breakers live in shared state (`routing.resilience.shared_breakers`), so what one worker reads or forces
here holds on every worker at once.
"""

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from routerproject.envelope import envelope
from routerproject.exceptions import NotFound
from routerproject.schema import responses
from routerproject.serializers import StrictSerializer

from ..resilience.shared_breakers import breaker_stats, force_breakers
from ..selectors import instance_service_types

_STATE_ORDER = {"CLOSED": 0, "HALF_OPEN": 1, "OPEN": 2}


class ForceInputSerializer(StrictSerializer):
    instanceId = serializers.CharField(
        required=False, help_text="`name@baseUrl`; leave out to act on every instance."
    )


BREAKER_STATS = inline_serializer(
    name="CircuitBreakerStats",
    fields={
        "state": serializers.CharField(help_text="The worst state over all instances."),
        "failureCount": serializers.IntegerField(),
        "successCount": serializers.IntegerField(),
        "requestCount": serializers.IntegerField(),
        "failureRate": serializers.FloatField(),
        "openCount": serializers.IntegerField(),
        "halfOpenCount": serializers.IntegerField(),
        "instances": serializers.ListField(child=serializers.DictField()),
    },
)


def summary(entries: list[dict[str, Any]]) -> dict[str, Any]:
    failures = sum(e["failureCount"] for e in entries)
    requests = sum(e["requestCount"] for e in entries)
    worst = max((e["state"] for e in entries), key=_STATE_ORDER.__getitem__, default="CLOSED")
    return {
        "state": worst,
        "failureCount": failures,
        "successCount": sum(e["successCount"] for e in entries),
        "requestCount": requests,
        "failureRate": round(failures / requests, 4) if requests else 0.0,
        "openCount": sum(1 for e in entries if e["state"] == "OPEN"),
        "halfOpenCount": sum(1 for e in entries if e["state"] == "HALF_OPEN"),
        "instances": entries,
    }


class CircuitBreakerStatsView(APIView):
    @extend_schema(
        summary="Get circuit breaker statistics",
        responses=responses("CircuitBreakerStats", BREAKER_STATS),
    )
    def get(self, request: Request) -> Response:
        types = instance_service_types()
        stats = breaker_stats(types, service_types=types)
        return envelope(summary(list(stats.values())))


class _ForceView(APIView):
    open_ = False

    def post(self, request: Request) -> Response:
        serializer = ForceInputSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        types = instance_service_types()
        instance_id = serializer.validated_data.get("instanceId")
        if instance_id is not None and instance_id not in types:
            raise NotFound(f"Instance '{instance_id}' is not configured")
        targets = [instance_id] if instance_id is not None else list(types)
        force_breakers(targets, open_=self.open_)
        stats = breaker_stats(targets, service_types=types)
        action = "opened" if self.open_ else "closed"
        return envelope(summary(list(stats.values())), message=f"Circuit breaker {action}")


class CircuitBreakerForceOpenView(_ForceView):
    open_ = True

    @extend_schema(
        summary="Force circuit breakers open (they stay open until forced closed)",
        request=ForceInputSerializer,
        responses=responses("CircuitBreakerForceOpen", BREAKER_STATS),
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class CircuitBreakerForceCloseView(_ForceView):
    open_ = False

    @extend_schema(
        summary="Force circuit breakers closed (reset)",
        request=ForceInputSerializer,
        responses=responses("CircuitBreakerForceClose", BREAKER_STATS),
    )
    def post(self, request: Request) -> Response:
        return super().post(request)
