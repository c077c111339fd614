"""One /v1 request through the gateway, as the numbered steps of "The /v1 request path" in
docs/architecture.md: `handle` opens the exchange and answers, `_serve` admits, resolves and hands
the request to its attempts. Each step lives in the module named beside it; this one only orders
them. A database or shared-state failure that escapes every step (a worker that starts during a
database outage has no snapshot to serve from) answers 503 in OpenAI's shape.
"""

import asyncio
import logging
import time
from typing import Any

from django.db import Error as DatabaseError
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from monitoring import metrics
from monitoring.live_settings import arefresh_view
from routerproject import generations
from routerproject.state import STATE_ERRORS
from routing.live_config import aget_live_config, held_live_config
from routing.neural_runtime import runtime
from routing.resilience import retry
from routing.resilience.shared_breakers import state_keys
from routing.service_types import LoadBalancer

from . import errors
from .admission import admit, authenticate
from .attempts import Attempts
from .clientapi import open_call
from .ended import exchange_ended
from .endpoints import Endpoint
from .exchange import Exchange
from .headers import forwardable, peer_ip, request_id_of
from .neural import neural_candidates
from .payload import parse_model
from .relay import RelayedStream

logger = logging.getLogger(__name__)
Parsed = tuple[str, dict[str, Any] | None]  # the model and the JSON payload (None: multipart)


async def handle(request: HttpRequest, endpoint: Endpoint) -> HttpResponseBase:
    # 3. The exchange: the request's id and clock, and what happens to it on the way.
    exchange = Exchange(request_id_of(request), service_type=endpoint.service_type)
    parsed = _ride_along(request, endpoint)
    await arefresh_view()
    metrics.exchange_started(exchange.service_type)
    status = 500

    # The one place a /v1 request is recorded: for a stream when the relay ends (`Exchange.end`).
    exchange.on_end = lambda: exchange_ended(exchange, status, time.perf_counter())
    # 4 to 10 in `_serve`; 11. a refusal, or a failure no step handled, in the client API's shape.
    try:
        response = await _serve(request, endpoint, exchange, parsed)
        # An upstream's answer relayed (its own 5xx or 429 included) is counted in the metrics;
        # Django would log each relayed 500 as the gateway's "Internal Server Error".
        response._has_been_logged = True  # type: ignore[attr-defined]
    except errors.GatewayError as error:
        exchange.error = error.code or error.kind
        response = error.response(endpoint.api)
    except (DatabaseError, *STATE_ERRORS) as exc:
        store = "database" if isinstance(exc, DatabaseError) else "shared state"
        logger.warning("/v1 request refused, %s unavailable: %s", store, exc)
        response = errors.unavailable().response(endpoint.api)
        response._has_been_logged = True  # type: ignore[attr-defined]
    except asyncio.CancelledError:
        status = 499  # the client left before the answer started
        exchange.end()
        raise
    except BaseException:
        exchange.end()
        raise
    # 12. Recorded once (a stream when its last byte is gone), the router told, the answer stamped.
    status = response.status_code
    if not isinstance(response, RelayedStream):
        exchange.end()
    if exchange.neural is not None:
        await runtime.arecord_outcome(
            exchange.neural, success=response.status_code < 500, request_id=exchange.request_id
        )
    return exchange.stamp(response)


async def _serve(
    request: HttpRequest, endpoint: Endpoint, exchange: Exchange, parsed: Parsed | None = None
) -> HttpResponseBase:
    # 4. The API key (once per request), its service type and its own rate limit.
    principal = await authenticate(request, endpoint.service_type, exchange)
    # 5. The model and payload, checked before anything is sent upstream; another client API's
    # request as the chat request it stands for.
    body = request.body
    model, payload = parsed or parse_model(endpoint, request, body)
    call = await open_call(endpoint, payload, body, principal, exchange)
    if call is not None:
        body, payload = call.chat_body, call.chat
    # 6. The service and the model's candidates, from the live configuration.
    config = await aget_live_config()
    service = config.service(endpoint.service_type)
    if service is None:
        raise errors.model_not_found(model)
    if service.load_balancer == LoadBalancer.NEURAL:
        # 7. For a neural service, the router picks a tier, and so the candidates.
        candidates, exchange.neural = await neural_candidates(config, service, model, payload)
        if exchange.neural is not None:
            exchange.decision = exchange.neural.tier
            exchange.confidence = exchange.neural.confidence
    else:
        candidates = service.candidates(model)
    if not candidates:
        raise errors.model_not_found(model)
    exchange.service_type, exchange.model = service.service_type, model
    # 8. The service's rate limit, at service or client-IP scope.
    client = peer_ip(request)
    await admit(service, client, exchange)
    # 9, 10. Attempts, retries and fallback; each answer relayed whole or as a stream.
    attempts = Attempts(
        service=service,
        endpoint=endpoint,
        headers=forwardable(request),
        client=client,
        exchange=exchange,
        idempotent=retry.is_idempotent(request.headers),
        call=call,
    )
    response = await attempts.answer(model, candidates, body, payload)
    return response if call is None else await call.finish(response)


def _ride_along(request: HttpRequest, endpoint: Endpoint) -> Parsed | None:
    """3. (continued) The model, parsed once, and its candidates' breakers and health bits in the
    held snapshot, set to ride along with the request's check of the generations (one MGET: one
    round trip before sending). A guess: step 6 looks the candidates up in the live configuration,
    `eligible` reads whatever is missing. A body that does not parse is refused after the key."""
    config = held_live_config()
    if endpoint.multipart or config is None:
        return None
    service = config.service(endpoint.service_type)
    # The neural router picks its tier's candidates later; their breakers are read then.
    if service is None or service.load_balancer == LoadBalancer.NEURAL:
        return None
    try:
        parsed = parse_model(endpoint, request, request.body)
    except Exception:  # a guess: step 5 meets the same body again and answers it
        return None
    candidates = service.candidates(parsed[0])
    if candidates:
        generations.ride_along(state_keys(candidates))
    return parsed
