"""Admission of a /v1 request: the client's API key, checked once per request, then the rate limits
of every scope — the key's own requests per minute with it, the service or client IP before an
instance is picked (`admit`), the instance once picked (`admit_instance`: a refusing instance is
passed over for another). Each refusal is a 429 in OpenAI's shape naming its scope
(`rejected_by`). Shared-state failures fail open (logged): an unreachable Redis must not refuse
every request."""

import logging
from typing import cast

from django.http import HttpRequest

from authjwt.keys import ApiKeyError, ApiKeyPrincipal, authenticate_client, check_service_type
from routerproject.state import STATE_ERRORS, SharedState, get_state, log_degraded
from routing.resilience import rate_limit
from routing.resilience.limiters import Decision
from routing.snapshot import InstanceSpec, ServiceSpec

from . import errors, governance
from .exchange import Exchange

logger = logging.getLogger(__name__)

_UNCHECKED = object()


async def authenticate(
    request: HttpRequest, service_type: str | None, exchange: Exchange | None = None
) -> ApiKeyPrincipal | None:
    """The client's API key (cached: no database query on a hit), looked up once per request: the
    first call keeps its answer on the request (`request.api_principal`), so the early check of a
    large body (`asgi`) is not made again by the pipeline. Then whether the key may use
    `service_type` (None: the model list, any service) and, on the request path (`exchange`), its
    requests-per-minute limit. Refusals in OpenAI's shape. None when GATEWAY_REQUIRE_API_KEY is
    off and no key was sent."""
    carried = getattr(request, "api_principal", _UNCHECKED)
    try:
        if carried is _UNCHECKED:
            principal = await authenticate_client(request.headers, service_type=None)
            request.api_principal = principal  # type: ignore[attr-defined]
        else:
            principal = cast(ApiKeyPrincipal | None, carried)
        if principal is not None and service_type is not None:
            check_service_type(principal, service_type)
    except ApiKeyError as refusal:
        raise errors.GatewayError(
            refusal.status,
            refusal.message,
            kind=refusal.error_type,
            code=refusal.code,
            retry_after=refusal.retry_after,
        ) from None
    if principal is not None and exchange is not None:
        exchange.principal = principal
        exchange.key_id, exchange.key_name = principal.key_id, principal.name
    if principal is not None and principal.requests_per_minute and exchange is not None:
        try:
            exchange.limits.append(
                await rate_limit.admit_key(
                    principal.key_id, principal.requests_per_minute, get_state()
                )
            )
        except rate_limit.RateLimited as refused:
            raise refusal_of(refused, exchange) from None
        except STATE_ERRORS as exc:
            log_degraded(
                logger, exc, "Per-key rate limit not enforced, shared state unavailable: %s", exc
            )
    return principal


def refusal_of(refused: rate_limit.RateLimited, exchange: Exchange) -> errors.GatewayError:
    exchange.rejected_by = refused.scope
    return errors.rate_limited(
        refused.scope,
        rate_limit.retry_after_seconds(refused.decision),
        rate_limit.headers_of(refused.decision),
    )


async def admit(
    service: ServiceSpec, client: str, exchange: Exchange | None = None
) -> Decision | None:
    """The key's models, budget and tokens per minute (`governance.check`), then the service's
    limit at service or client-IP scope; a 429 `GatewayError` (Retry-After and x-ratelimit-*
    headers) refuses."""
    if exchange is not None and exchange.principal is not None:
        await governance.check(exchange.principal, exchange.model)
    try:
        decision = await rate_limit.admit_request(service, client, get_state())
    except rate_limit.RateLimited as refused:
        raise refusal_of(refused, exchange or Exchange("")) from None
    except STATE_ERRORS as exc:
        log_degraded(
            logger,
            exc,
            "Rate limit of %s not enforced, shared state unavailable: %s",
            service.service_type,
            exc,
        )
        return None
    if decision is not None and exchange is not None:
        exchange.limits.append(decision)
    return decision


async def admit_instance(
    service: ServiceSpec, instance: InstanceSpec, exchange: Exchange, state: SharedState
) -> errors.GatewayError | None:
    """The instance's limits, or the 429 that passes the instance over (returned, not raised: the
    caller tries another instance and answers it only when none is left)."""
    try:
        exchange.limits.extend(await rate_limit.admit_instance(service, instance, state))
    except rate_limit.RateLimited as refused:
        return refusal_of(refused, exchange)
    except STATE_ERRORS as exc:
        log_degraded(
            logger, exc, "Instance rate limit not enforced, shared state unavailable: %s", exc
        )
    return None
