"""The /v1 views: thin async functions over `pipeline.handle`. No CSRF (API clients, no cookies)."""

import json
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from monitoring import tracing
from routing.live_config import aget_live_config
from routing.service_types import ServiceKind
from routing.snapshot import LiveConfig

from . import pipeline, stored_responses, traces
from .admission import authenticate
from .clientapi import MAX_RESPONSE_ID
from .dialects import anthropic
from .endpoints import ENDPOINTS
from .errors import GatewayError, model_not_found
from .exchange import stamp_outside
from .headers import new_request_id
from .payload import checked_model, parse_json

# Django's stubs type views as sync callables; these are coroutine functions.
View = Callable[..., Any]


def _stamped(response: HttpResponseBase, request: HttpRequest, started: float) -> HttpResponseBase:
    return stamp_outside(response, request.headers.get("x-request-id") or new_request_id(), started)


def _api_of(request: HttpRequest) -> str:
    """The API the client speaks, by the path it asked for (`messages/count_tokens` is Anthropic's)."""
    route = request.path_info.removeprefix("/v1/")
    endpoint = ENDPOINTS.get(route.removesuffix("/count_tokens"))
    return endpoint.api if endpoint is not None else "openai"


def refused(request: HttpRequest, error: GatewayError) -> HttpResponseBase:
    """An answer made before the pipeline runs (a key refused early, a body over the size limit)."""
    return _stamped(error.response(_api_of(request)), request, time.perf_counter())


def _method_not_allowed(request: HttpRequest, allowed: str) -> HttpResponseBase:
    error = GatewayError(405, f"Method {request.method} is not allowed here; use {allowed}.")
    response = error.response(_api_of(request))
    response["Allow"] = allowed
    return _stamped(response, request, time.perf_counter())


def _json(document: object, request: HttpRequest, started: float) -> HttpResponseBase:
    response = HttpResponse(json.dumps(document), content_type="application/json")
    return _stamped(response, request, started)


def proxy_view(route: str) -> View:
    endpoint = ENDPOINTS[route]

    @csrf_exempt
    async def view(request: HttpRequest) -> HttpResponseBase:
        if request.method != "POST":
            return _method_not_allowed(request, "POST")
        if tracing.enabled:
            return await traces.traced(request, endpoint, pipeline.handle)
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


@csrf_exempt
async def count_tokens(request: HttpRequest) -> HttpResponseBase:
    """Anthropic's `POST /v1/messages/count_tokens`: the input tokens of a Messages request, as
    the gateway estimates them (`dialects.anthropic.count_tokens`), for a model the chat service
    serves. Refusals in Anthropic's shape."""
    started = time.perf_counter()
    if request.method != "POST":
        return _method_not_allowed(request, "POST")
    try:
        await authenticate(request, ServiceKind.CHAT)
        payload = parse_json(request.body)
        model = checked_model(payload.get("model"))
        config = await aget_live_config()
        service = config.service(ServiceKind.CHAT)
        if service is None or not service.candidates(model):
            raise model_not_found(model)
        tokens = anthropic.count_tokens(payload)
    except GatewayError as refusal:
        return _stamped(refusal.response("anthropic"), request, started)
    return _json({"input_tokens": tokens}, request, started)


@csrf_exempt
async def stored_response(request: HttpRequest, response_id: str) -> HttpResponseBase:
    """`GET` and `DELETE /v1/responses/{id}`: a stored Responses answer of the caller's key."""
    started = time.perf_counter()
    if request.method not in ("GET", "DELETE"):
        return _method_not_allowed(request, "GET, DELETE")
    try:
        principal = await authenticate(request, ServiceKind.CHAT)
        owner = stored_responses.owner_of(principal)
        known = len(response_id) <= MAX_RESPONSE_ID
        record = await stored_responses.load(owner, response_id) if known else None
        if record is None:
            raise stored_responses.not_found(response_id)
        if "instance" in record:
            answer = await stored_responses.forward(request.method, record["instance"], response_id)
            if request.method == "DELETE" and answer.status_code < 300:
                await stored_responses.delete(owner, response_id)
            return _stamped(answer, request, started)
        if request.method == "DELETE":
            await stored_responses.delete(owner, response_id)
            deleted = {"id": response_id, "object": "response", "deleted": True}
            return _json(deleted, request, started)
        return _json(record["response"], request, started)
    except GatewayError as refusal:
        return _stamped(refusal.response(), request, started)
