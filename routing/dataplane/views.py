"""The /v1 views: thin async functions over `pipeline.handle`. No CSRF (API clients, no cookies)."""

import json
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from routing.live_config import aget_live_config
from routing.snapshot import LiveConfig

from . import pipeline
from .admission import authenticate
from .endpoints import ENDPOINTS
from .errors import GatewayError
from .exchange import stamp_outside
from .headers import new_request_id

# Django's stubs type views as sync callables; these are coroutine functions.
View = Callable[..., Any]


def _stamped(response: HttpResponseBase, request: HttpRequest, started: float) -> HttpResponseBase:
    return stamp_outside(response, request.headers.get("x-request-id") or new_request_id(), started)


def refused(request: HttpRequest, error: GatewayError) -> HttpResponseBase:
    """An answer made before the pipeline runs (a key refused early, a body over the size limit)."""
    return _stamped(error.response(), request, time.perf_counter())


def _method_not_allowed(request: HttpRequest, allowed: str) -> HttpResponseBase:
    error = GatewayError(405, f"Method {request.method} is not allowed here; use {allowed}.")
    response = error.response()
    response["Allow"] = allowed
    return _stamped(response, request, time.perf_counter())


def proxy_view(route: str) -> View:
    endpoint = ENDPOINTS[route]

    @csrf_exempt
    async def view(request: HttpRequest) -> HttpResponseBase:
        if request.method != "POST":
            return _method_not_allowed(request, "POST")
        return await pipeline.handle(request, endpoint)

    view.__name__ = view.__qualname__ = f"v1_{route.replace('/', '_')}"
    return view


def _model_entry(config: LiveConfig, model: str, service_type: str) -> dict[str, object]:
    service = config.service(service_type)
    created = service.created(model) if service is not None else 0
    return {"id": model, "object": "model", "created": created, "owned_by": service_type}


@csrf_exempt
async def models(request: HttpRequest) -> HttpResponseBase:
    """OpenAI's model list: every model an enabled instance serves."""
    started = time.perf_counter()
    if request.method != "GET":
        return _method_not_allowed(request, "GET")
    try:
        principal = await authenticate(request, None)
    except GatewayError as refusal:
        return _stamped(refusal.response(), request, started)
    config = await aget_live_config()
    data = [
        _model_entry(config, model, service)
        for model, service, _ in config.models()
        if principal is None or principal.allows(service)
    ]
    response = HttpResponse(
        json.dumps({"object": "list", "data": data}), content_type="application/json"
    )
    return _stamped(response, request, started)


@csrf_exempt
async def model(request: HttpRequest, model_id: str) -> HttpResponseBase:
    started = time.perf_counter()
    try:
        principal = await authenticate(request, None)
    except GatewayError as refusal:
        return _stamped(refusal.response(), request, started)
    config = await aget_live_config()
    for name, service, _ in config.models():
        if name == model_id and (principal is None or principal.allows(service)):
            response = HttpResponse(
                json.dumps(_model_entry(config, name, service)), content_type="application/json"
            )
            return _stamped(response, request, started)
    return _stamped(
        GatewayError(
            404, f"The model '{model_id}' does not exist.", code="model_not_found", param="model"
        ).response(),
        request,
        started,
    )


@csrf_exempt
async def not_found(request: HttpRequest, rest: str = "") -> HttpResponseBase:
    error = GatewayError(
        404, f"No such endpoint: {request.method} {request.path}", code="unknown_url"
    )
    return _stamped(error.response(), request, time.perf_counter())
