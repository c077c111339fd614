"""The neural router's operations API (seed `000_…txt`): bare JSON objects in snake_case.

`/health` (liveness) lives in `monitoring.liveness`; here: `/health/ready`, `/metrics`, `/info` and
`/admin/*` (routes in `ops_urls.py`).
"""

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from rest_framework import serializers

from monitoring.errors import record_error
from monitoring.exposition import CONTENT_TYPE, render, router_figures
from monitoring.liveness import uptime_seconds
from routerproject.exceptions import DomainError

from ..live_config import get_live_config
from ..neural.model_file import ModelFileError
from ..neural.router import Router
from ..neural_runtime import runtime
from ..resilience.breaker import BreakerState
from ..services import router_model_reload, router_settings_update
from ..services_section import router_export
from .ops_auth import admin_endpoint, with_cors


def _router() -> Router:
    return runtime.current(get_live_config().router)


def _breaker_state(router: Router) -> str:
    """The seed's spelling of the router breaker's state: closed, open or half_open."""
    state = router.breaker_state()
    return (state or BreakerState.CLOSED).value.lower()


@require_GET
@with_cors
def metrics_view(request: HttpRequest) -> HttpResponse:
    try:
        body = render()
    except Exception as exc:
        record_error("prometheusRegistry", exc)
        return HttpResponse("# metrics unavailable\n", status=500, content_type=CONTENT_TYPE)
    return HttpResponse(body, content_type=CONTENT_TYPE)


@require_GET
@with_cors
def ready(request: HttpRequest) -> JsonResponse:
    """Ready when a model is loaded and this worker's router breaker is not open."""
    router = _router()
    breaker = _breaker_state(router)
    loaded = router.served_model is not None
    is_ready = loaded and breaker != "open"
    return JsonResponse(
        {
            "ready": is_ready,
            "circuit_breaker": breaker,
            "model_loaded": loaded,
            "version": settings.ROUTER_VERSION,
            "uptime_seconds": uptime_seconds(),
        },
        status=200 if is_ready else 503,
    )


@require_GET
@with_cors
def info(request: HttpRequest) -> JsonResponse:
    config = router_export()
    figures = router_figures()
    figures.pop("inference_count")
    return JsonResponse(
        {
            "version": settings.ROUTER_VERSION,
            "api_version": "v1",
            "uptime_seconds": uptime_seconds(),
            "config": config,
            "circuit_breaker_enabled": config["enable_circuit_breaker"],
            "metrics": figures,
        }
    )


@admin_endpoint(("POST",))
def admin_reload(request: HttpRequest) -> JsonResponse:
    """Load the model file here first (a bad file: 500 with the reason, the old model serving on);
    a good one is then swapped in on every worker through the reload counter."""
    try:
        router_model_reload()
    except ModelFileError as exc:
        return JsonResponse(
            {"success": False, "message": f"Failed to reload model: {exc}"}, status=500
        )
    return JsonResponse({"success": True, "message": "Model reloaded successfully"})


class RouterConfigUpdate(serializers.Serializer):
    """The seed's PUT body; every field optional, anything else refused."""

    model_path = serializers.CharField(required=False, max_length=500)
    confidence_threshold = serializers.FloatField(required=False)
    max_uncertainty = serializers.FloatField(required=False)
    enable_circuit_breaker = serializers.BooleanField(required=False)
    circuit_breaker_threshold = serializers.IntegerField(required=False)
    enable_quantization = serializers.BooleanField(required=False)
    target_powerful_share = serializers.FloatField(required=False)
    database_path = serializers.CharField(required=False, allow_null=True)


def _bad_request(message: str, errors: dict[str, Any] | None = None) -> JsonResponse:
    body: dict[str, Any] = {"success": False, "message": message}
    if errors:
        body["errors"] = errors
    return JsonResponse(body, status=400)


@admin_endpoint(("GET", "PUT"))
def admin_config(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        return JsonResponse(router_export())
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        return _bad_request("Request body must be JSON")
    if not isinstance(body, dict):
        return _bad_request("Request body must be a JSON object")
    unknown = sorted(set(body) - set(RouterConfigUpdate().fields))
    if unknown:
        return _bad_request(f"Unknown field: {unknown[0]}", {unknown[0]: ["Unknown field."]})
    serializer = RouterConfigUpdate(data=body)
    if not serializer.is_valid():
        return _bad_request("Invalid configuration", serializer.errors)
    changes = dict(serializer.validated_data)
    if changes.pop("database_path", None) is not None:
        return _bad_request(
            "database_path must be null: exemplars live in the gateway's database",
            {"database_path": ["Must be null."]},
        )
    try:
        updated = router_settings_update(actor=request.admin_user, **changes)  # type: ignore[attr-defined]
    except ValidationError as exc:
        return _bad_request("Invalid configuration", exc.message_dict)
    except DomainError as exc:
        return _bad_request(exc.message, exc.errors)
    return JsonResponse(
        {"success": True, "message": "Configuration updated", "updated_fields": updated}
    )


@admin_endpoint(("GET",))
def admin_breaker(request: HttpRequest) -> JsonResponse:
    """This worker's router breaker (each worker has one; a reset reaches all of them);
    `success_count` is the fleet's successful model inferences."""
    router = _router()
    breaker = router.breaker
    return JsonResponse(
        {
            "enabled": breaker is not None,
            "state": _breaker_state(router),
            "failure_count": breaker.consecutive_failures if breaker is not None else 0,
            "success_count": router_figures()["inference_count"],
        }
    )


@admin_endpoint(("POST",))
def admin_breaker_reset(request: HttpRequest) -> JsonResponse:
    runtime.reset_breaker()
    _router()  # applies the reset in this worker now; the others within a second
    return JsonResponse({"success": True, "message": "Circuit breaker reset successfully"})
