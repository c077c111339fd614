"""One /v1 request through the gateway: authenticate → resolve → rate-limit → pick → send →
relay → record. Each step is one function:
- API keys: `authenticate` (authjwt; its per-key limit answers 429 with `rejected_by=api_key`);
- rate limits: `admit` before selection (service or client-IP scope), `_admit_instance` after it
  (instance scope: a refusing instance is passed over for another);
- breakers and health: `resilience.breakers.eligible` filters, `record_outcome` feeds them;
- retries and fallback: `_try_model` makes up to 1 + `retries` attempts on different instances
  while failures happen before the first byte and `resilience.retry.may_retry` allows; then the
  service's fallback models are tried in order, then its fixed fallback response if it has one.
Shared-state failures in these resilience steps fail open (logged): an unreachable Redis must not
refuse every request. A database or shared-state failure that escapes every step (a worker that
starts during a database outage has no snapshot to serve from) answers 503 in OpenAI's shape.
"""

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import Error as DatabaseError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from authjwt.keys import ApiKeyError, ApiKeyPrincipal, authenticate_client
from monitoring import metrics
from monitoring.live import arefresh_view
from routerproject.state import STATE_ERRORS, SharedState, get_state, log_degraded
from routing.live import aget_live_config
from routing.resilience import breakers, rate_limit, retry
from routing.resilience.limiters import Decision
from routing.router_runtime import NeuralDecision, runtime
from routing.service_types import LoadBalancer
from routing.snapshot import InstanceSpec, ServiceSpec

from . import errors
from .adapters import Translation, UpstreamRequest, adapter_for
from .balancers import client_ip, parse_networks
from .client import (
    UpstreamError,
    UpstreamResponse,
    UpstreamTimeout,
    UpstreamTooLarge,
    UpstreamUnreachable,
    send_upstream,
)
from .endpoints import Endpoint
from .neural import for_instance, neural_candidates
from .requests import parse_model
from .selection import Lease, NoInstanceAvailable, choose
from .usage import read_stream_usage, read_usage

logger = logging.getLogger(__name__)

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Client headers that never reach an upstream: credentials for the gateway, and what the client sets.
_NOT_FORWARDED = HOP_BY_HOP | {
    "host",
    "content-length",
    "authorization",
    "x-api-key",
    "api-key",
    "cookie",
    "forwarded",
    "x-forwarded-for",
    "x-real-ip",
}
# Upstream answer headers the client receives: what describes the body, and what OpenAI's SDKs and
# clients read (limits, retry hints, request ids). Anything else (cookies for the gateway's own
# origin, CORS grants, HSTS, hop-by-hop headers) is the upstream's business, not the client's.
_RELAYED = frozenset(
    {
        "content-type",
        "content-encoding",
        "content-disposition",
        "content-language",
        "cache-control",
        "etag",
        "last-modified",
        "link",
        "vary",
        "retry-after",
        "request-id",  # the gateway stamps its own x-request-id
    }
)
_RELAYED_PREFIXES = ("x-ratelimit-", "openai-")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")
_STREAM_TYPES = ("text/event-stream", "application/x-ndjson")

_trusted_proxies = parse_networks(settings.GATEWAY_TRUSTED_PROXIES)


@dataclass(slots=True)
class Exchange:
    """Bookkeeping of one client request: its id, its clock, the time spent waiting upstream, and
    what happened on the way (read by the metrics once the answer is on its way)."""

    request_id: str
    started: float = field(default_factory=time.perf_counter)
    upstream_wait: float = 0.0
    instance_id: str = ""
    service_type: str = ""
    model: str = ""
    retries: int = 0  # attempts made after the first, on other instances
    fallback_model: str = ""  # the fallback model that answered, when one did
    rejected_by: str = ""  # the rate-limit scope that refused the request, if any
    decision: str = ""  # the neural router's tier (lightweight/powerful), for neural services
    confidence: float | None = None
    neural: NeuralDecision | None = None
    limits: list[Decision] = field(default_factory=list)  # rate limits that admitted the request
    first_byte: float | None = None  # perf_counter at a stream's first chunk
    prompt_tokens: int = 0  # from the upstream's `usage`
    completion_tokens: int = 0
    on_end: Callable[[], None] | None = None  # runs once, when the answer's last byte is gone

    def end(self) -> None:
        callback, self.on_end = self.on_end, None
        if callback is not None:
            callback()

    def count_usage(self, usage: tuple[int, int] | None) -> None:
        if usage is not None:
            self.prompt_tokens, self.completion_tokens = usage

    def overhead_ms(self) -> float:
        return max(0.0, (time.perf_counter() - self.started - self.upstream_wait) * 1000)

    def stamp(self, response: HttpResponseBase) -> HttpResponseBase:
        response["x-request-id"] = self.request_id
        if self.instance_id:
            response["x-router-instance"] = self.instance_id
        response["x-gateway-overhead-ms"] = f"{self.overhead_ms():.3f}"
        if self.decision:
            response["x-router-decision"] = self.decision
            response["x-router-confidence"] = f"{self.confidence or 0.0:.4f}"
            if self.neural is not None and self.neural.reason == "model":
                response["x-router-score"] = f"{self.neural.score:.4f}"
        tightest = rate_limit.tightest(self.limits)
        if tightest is not None and not response.has_header("x-ratelimit-limit"):
            for name, value in rate_limit.headers_of(tightest).items():
                response[name] = value
        return response


async def authenticate(
    request: HttpRequest, service_type: str | None, exchange: Exchange | None = None
) -> ApiKeyPrincipal | None:
    """The client's API key (cached: no database query on a hit) and, on the request path, its
    requests-per-minute limit; refusals in OpenAI's shape. None when GATEWAY_REQUIRE_API_KEY is off
    and no key was sent."""
    try:
        principal = await authenticate_client(request.headers, service_type=service_type)
    except ApiKeyError as refusal:
        raise errors.GatewayError(
            refusal.status,
            refusal.message,
            kind=refusal.error_type,
            code=refusal.code,
            retry_after=refusal.retry_after,
        ) from None
    if principal is not None and principal.requests_per_minute and exchange is not None:
        try:
            exchange.limits.append(
                await rate_limit.admit_key(
                    principal.key_id, principal.requests_per_minute, get_state()
                )
            )
        except rate_limit.RateLimited as refused:
            raise _refusal(refused, exchange) from None
        except STATE_ERRORS as exc:
            log_degraded(
                logger, exc, "Per-key rate limit not enforced, shared state unavailable: %s", exc
            )
    return principal


def _refusal(refused: rate_limit.RateLimited, exchange: Exchange) -> errors.GatewayError:
    exchange.rejected_by = refused.scope
    return errors.rate_limited(
        refused.scope,
        rate_limit.retry_after_seconds(refused.decision),
        rate_limit.headers_of(refused.decision),
    )


async def admit(
    service: ServiceSpec, client: str, exchange: Exchange | None = None
) -> Decision | None:
    """The service's limit at service or client-IP scope; a 429 `GatewayError` (Retry-After and
    x-ratelimit-* headers) refuses."""
    try:
        decision = await rate_limit.admit_request(service, client, get_state())
    except rate_limit.RateLimited as refused:
        raise _refusal(refused, exchange or Exchange("")) from None
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


async def record_outcome(instance: InstanceSpec, outcome: str) -> None:
    """Feeds the instance's breaker: `outcome` is ok, http_5xx, http_429, timeout or unreachable.
    Called once per attempt, before the body is relayed."""
    try:
        await breakers.arecord(instance, not retry.is_failure(outcome), get_state())
    except STATE_ERRORS as exc:
        log_degraded(
            logger,
            exc,
            "Breaker of %s not updated, shared state unavailable: %s",
            instance.instance_id,
            exc,
        )


def forwardable(request: HttpRequest) -> dict[str, str]:
    # Headers the client's `Connection` names are for this hop only (RFC 9110 §7.6.1).
    hop_only = {token.strip().lower() for token in request.headers.get("connection", "").split(",")}
    headers = {
        name.lower(): value
        for name, value in request.headers.items()
        if name.lower() not in _NOT_FORWARDED and name.lower() not in hop_only
    }
    # Bodies are relayed undecoded: an upstream must not send gzip to a client that did not ask for it.
    headers.setdefault("accept-encoding", "identity")
    return headers


def peer_ip(request: HttpRequest) -> str:
    return client_ip(
        request.META.get("REMOTE_ADDR", ""),
        request.META.get("HTTP_X_FORWARDED_FOR"),
        _trusted_proxies,
    )


def request_id_of(request: HttpRequest) -> str:
    """The client's `X-Request-Id` when it is a plausible id, else a fresh one: it is echoed in a
    header and keys the routing decision in shared state, so it is bounded to 128 characters
    without spaces, commas or anything outside printable ASCII."""
    sent = request.headers.get("x-request-id", "")
    return sent if _REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex


async def handle(request: HttpRequest, endpoint: Endpoint) -> HttpResponseBase:
    exchange = Exchange(request_id_of(request), service_type=endpoint.service_type)
    await arefresh_view()
    metrics.exchange_started(exchange.service_type)
    status = 500

    def record() -> None:
        # The one place a /v1 request is recorded: here for an answer sent whole, when the relay
        # ends for a stream (`Exchange.end`, from the stream's close or its generator's finally).
        metrics.observe_exchange(exchange, status, ended=time.perf_counter())

    exchange.on_end = record
    try:
        response = await _serve(request, endpoint, exchange)
        # An upstream's answer relayed (its own 5xx or 429 included) is counted in the metrics;
        # Django would log each relayed 500 as the gateway's "Internal Server Error".
        response._has_been_logged = True  # type: ignore[attr-defined]
    except errors.GatewayError as error:
        response = error.response()
    except (DatabaseError, *STATE_ERRORS) as exc:
        logger.warning("/v1 request refused, %s unavailable: %s", _store_of(exc), exc)
        response = errors.unavailable().response()
        response._has_been_logged = True  # type: ignore[attr-defined]
    except asyncio.CancelledError:
        status = 499  # the client left before the answer started
        exchange.end()
        raise
    except BaseException:
        exchange.end()
        raise
    status = response.status_code
    if not isinstance(response, RelayedStream):
        exchange.end()
    if exchange.neural is not None:
        await runtime.arecord_outcome(
            exchange.neural, success=response.status_code < 500, request_id=exchange.request_id
        )
    return exchange.stamp(response)


async def _serve(request: HttpRequest, endpoint: Endpoint, exchange: Exchange) -> HttpResponseBase:
    await authenticate(request, endpoint.service_type, exchange)
    body = request.body
    model, payload = parse_model(endpoint, request, body)
    config = await aget_live_config()
    service = config.service(endpoint.service_type)
    if service is None:
        raise errors.model_not_found(model)
    if service.load_balancer == LoadBalancer.NEURAL:
        candidates, exchange.neural = await neural_candidates(config, service, model, payload)
        if exchange.neural is not None:
            exchange.decision = exchange.neural.tier
            exchange.confidence = exchange.neural.confidence
    else:
        candidates = service.candidates(model)
    if not candidates:
        raise errors.model_not_found(model)
    exchange.service_type, exchange.model = service.service_type, model
    client = peer_ip(request)
    await admit(service, client, exchange)
    attempts = _Attempts(
        service=service,
        endpoint=endpoint,
        headers=forwardable(request),
        client=client,
        exchange=exchange,
        idempotent=retry.is_idempotent(request.headers),
    )
    failure = await attempts.try_model(model, candidates, body, payload)
    if failure.retryable and service.fallback is not None and payload is not None:
        for fallback in service.fallback.models:
            fallback_candidates = service.candidates(fallback)
            if fallback == model or not fallback_candidates:
                continue
            rewritten = {**payload, "model": fallback}
            outcome = await attempts.try_model(
                fallback, fallback_candidates, json.dumps(rewritten).encode(), rewritten
            )
            if outcome.response is not None and not outcome.failed:
                exchange.fallback_model = fallback
                outcome.response["x-router-fallback"] = fallback
                return outcome.response
            if outcome.failed or outcome.error is not None:
                failure = outcome
            if not outcome.retryable:
                break
    if failure.response is not None and not failure.failed:
        return failure.response
    if service.fallback is not None and service.fallback.response is not None:
        return _fixed_fallback(service)
    if failure.response is not None:
        return failure.response
    raise failure.error or errors.no_instance(model)


def _store_of(error: BaseException) -> str:
    return "database" if isinstance(error, DatabaseError) else "shared state"


def _fixed_fallback(service: ServiceSpec) -> HttpResponse:
    assert service.fallback is not None and service.fallback.response is not None
    response = HttpResponse(
        json.dumps(dict(service.fallback.response)),
        status=service.fallback.response_status,
        content_type="application/json",
    )
    response["x-router-fallback"] = "response"
    return response


@dataclass(slots=True)
class _Outcome:
    """How one model's attempts ended: an answer to relay (`failed` False), an upstream error
    answer (`failed`), or a gateway error; `retryable` says whether another model may be tried."""

    response: HttpResponseBase | None = None
    error: errors.GatewayError | None = None
    failed: bool = False
    retryable: bool = False


@dataclass(slots=True)
class _Attempts:
    service: ServiceSpec
    endpoint: Endpoint
    headers: dict[str, str]
    client: str
    exchange: Exchange
    idempotent: bool
    made: int = 0
    state: SharedState = field(default_factory=get_state)

    async def try_model(
        self,
        model: str,
        candidates: tuple[InstanceSpec, ...],
        body: bytes,
        payload: dict[str, Any] | None,
    ) -> _Outcome:
        """Up to 1 + `retries` attempts on different instances of `model`."""
        tried: set[str] = set()
        budget = 1 + self.service.retries
        last = _Outcome(retryable=True)
        while budget > 0:
            remaining = (
                candidates
                if not tried
                else tuple(c for c in candidates if c.instance_id not in tried)
            )
            if not remaining:
                return last
            try:
                lease = await self._pick(model, remaining)
            except NoInstanceAvailable:
                return last
            except errors.GatewayError as held_off:
                # Every breaker refused: an earlier attempt's answer, if any, says more.
                if last.response is None and last.error is None:
                    last = _Outcome(error=held_off, retryable=True)
                return last
            tried.add(lease.instance.instance_id)
            try:
                refused = await self._admit_instance(lease.instance)
                if refused is not None:
                    await lease.arelease()
                    last = _Outcome(error=refused, retryable=True)
                    continue
                budget -= 1
                if self.made:
                    self.exchange.retries += 1
                self.made += 1
                self.exchange.instance_id = lease.instance.instance_id
                sent_body, sent_payload = body, payload
                if self.exchange.neural is not None:
                    sent_body, sent_payload = for_instance(body, payload, lease.instance)
                upstream = adapter_for(lease.instance.adapter).build(
                    lease.instance,
                    self.endpoint,
                    body=sent_body,
                    payload=sent_payload,
                    headers=self.headers,
                )
                outcome, result = await _attempt(upstream, lease, self.exchange)
            except BaseException:
                await lease.arelease()
                raise
            if outcome == retry.OK:
                assert isinstance(result, HttpResponseBase)
                return _Outcome(response=result)
            retryable = retry.may_retry(
                outcome,
                idempotent=self.idempotent,
                retry_non_idempotent=settings.GATEWAY_RETRY_NON_IDEMPOTENT,
            )
            if isinstance(result, errors.GatewayError):
                last = _Outcome(error=result, failed=True, retryable=retryable)
            else:
                last = _Outcome(response=result, failed=True, retryable=retryable)
            if not retryable:
                return last
        return last

    async def _pick(self, model: str, candidates: tuple[InstanceSpec, ...]) -> Lease:
        """An instance that is healthy, permitted by its breaker and chosen by the balancer.
        Raises `errors.circuit_open` when every breaker refuses (no instance is tried behind its
        breaker's back) and `NoInstanceAvailable` when every candidate is disabled or drained."""
        wait = 0.0
        while candidates:
            try:
                usable, known, wait = await breakers.eligible(candidates, self.state)
            except STATE_ERRORS as exc:
                log_degraded(
                    logger, exc, "Breakers and health not read, shared state unavailable: %s", exc
                )
                usable, known = candidates, {}
            if not usable:
                break
            if len(usable) == len(candidates):
                usable = candidates  # the same tuple: the balancer's prepared pool is reused
            lease = await choose(
                self.service, model, usable, client_ip=self.client, state=self.state
            )
            instance = lease.instance
            try:
                permitted = await breakers.apermit(
                    instance, known.get(instance.instance_id), self.state
                )
            except STATE_ERRORS:
                permitted = True
            except BaseException:
                await lease.arelease()
                raise
            if permitted:
                return lease
            # Another worker took the last HALF_OPEN probe slot in the meantime.
            await lease.arelease()
            candidates = tuple(c for c in candidates if c.instance_id != instance.instance_id)
        raise errors.circuit_open(model, wait)

    async def _admit_instance(self, instance: InstanceSpec) -> errors.GatewayError | None:
        try:
            self.exchange.limits.extend(
                await rate_limit.admit_instance(self.service, instance, self.state)
            )
        except rate_limit.RateLimited as refused:
            return _refusal(refused, self.exchange)
        except STATE_ERRORS as exc:
            log_degraded(
                logger, exc, "Instance rate limit not enforced, shared state unavailable: %s", exc
            )
        return None


async def _attempt(
    upstream: UpstreamRequest, lease: Lease, exchange: Exchange
) -> tuple[str, HttpResponseBase | errors.GatewayError]:
    """(outcome, what to answer). Only an `ok` outcome's answer may be a stream; failures are
    complete answers or gateway errors, and their lease is already released."""
    instance = lease.instance
    sent = time.perf_counter()
    try:
        response = await send_upstream(
            upstream.method,
            upstream.url,
            headers=upstream.headers,
            content=upstream.content,
            connect_timeout_s=instance.connect_timeout_s,
            request_timeout_s=instance.request_timeout_s,
        )
    except UpstreamTimeout:
        await lease.arelease()
        await record_outcome(instance, retry.TIMEOUT)
        return retry.TIMEOUT, errors.upstream_timeout(instance.instance_id)
    except UpstreamUnreachable:
        await lease.arelease()
        await record_outcome(instance, retry.UNREACHABLE)
        return retry.UNREACHABLE, errors.upstream_unreachable(instance.instance_id)
    finally:
        exchange.upstream_wait += time.perf_counter() - sent
    outcome = retry.outcome_of_status(response.status_code)
    try:
        await record_outcome(instance, outcome)
    except BaseException:
        await response.aclose()
        raise
    try:
        return outcome, await _relay(response, upstream.translation, lease, exchange)
    except errors.GatewayError as error:
        # The body of an answer that is not a stream broke while being read: past the first byte.
        return retry.BROKEN, error


def _is_relayed(name: str) -> bool:
    return name in _RELAYED or name.startswith(_RELAYED_PREFIXES)


def _relayed_headers(response: UpstreamResponse, translation: Translation | None) -> dict[str, str]:
    """The allowed headers, a repeated one (Link, Vary) as one comma-joined field (RFC 9110 §5.3:
    the same meaning, and a Django response holds one value per name)."""
    headers: dict[str, str] = {}
    for name, value in response.headers.multi_items():
        if _is_relayed(name):
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
    if translation is not None:
        # The body is rewritten: its upstream type and encoding no longer describe it.
        headers.pop("content-type", None)
        headers.pop("content-encoding", None)
    return headers


def _is_stream(response: UpstreamResponse) -> bool:
    content_type = response.headers.get("content-type", "")
    if content_type.startswith(_STREAM_TYPES):
        return True
    length = response.headers.get("content-length")
    return not length.isdigit() or int(length) > settings.GATEWAY_BUFFER_LIMIT_BYTES


class RelayedStream(StreamingHttpResponse):
    def __init__(
        self, chunks: AsyncGenerator[bytes, None], lease: Lease, exchange: Exchange, **kwargs: Any
    ) -> None:
        super().__init__(chunks, **kwargs)
        self._relay = chunks
        self._lease = lease
        self._exchange = exchange

    async def __aiter__(self) -> AsyncIterator[bytes]:
        # Django's own iteration wraps the iterator twice and closes only the outer wrapper; this
        # one closes the relay itself, so a client that leaves closes the upstream response at once.
        async with aclosing(self._relay) as chunks:
            async for chunk in chunks:
                yield chunk

    def close(self) -> None:
        # A response dropped before its body was iterated must still give its lease back.
        self._lease.release()
        self._exchange.end()
        super().close()


async def _relay(
    response: UpstreamResponse,
    translation: Translation | None,
    lease: Lease,
    exchange: Exchange,
) -> HttpResponseBase:
    headers = _relayed_headers(response, translation)
    relayed: HttpResponseBase
    if _is_stream(response) and response.status_code < 400:
        content_type = translation.stream_content_type if translation else None
        relayed = RelayedStream(
            _stream(response, translation, lease, exchange),
            lease,
            exchange,
            status=response.status_code,
            content_type=content_type,
        )
    else:
        waited = time.perf_counter()
        limit = settings.GATEWAY_BUFFER_LIMIT_BYTES
        try:
            body = await response.aread(limit)
            if translation is not None:
                body = translation.status_body(response.status_code, body)
        except UpstreamTooLarge:
            raise errors.upstream_too_large(lease.instance.instance_id, limit) from None
        except UpstreamTimeout:
            raise errors.upstream_timeout(lease.instance.instance_id) from None
        except UpstreamError:
            raise errors.upstream_unreachable(lease.instance.instance_id) from None
        finally:
            exchange.upstream_wait += time.perf_counter() - waited
            await response.aclose()
            await lease.arelease()
        exchange.count_usage(read_usage(body, response.headers.get("content-type", "")))
        content_type = translation.content_type if translation else None
        relayed = HttpResponse(body, status=response.status_code, content_type=content_type)
    for name, value in headers.items():
        if name == "content-type" and translation is None:
            relayed["Content-Type"] = value
        elif name != "content-type":
            relayed[name] = value
    return relayed


async def _stream(
    response: UpstreamResponse, translation: Translation | None, lease: Lease, exchange: Exchange
) -> AsyncGenerator[bytes, None]:
    """Chunks as they arrive. A client that goes away closes this generator (Django cancels the
    task and closes the iterator), and closing it closes the upstream response."""
    try:
        chunks = (
            response.aiter_raw()
            if translation is None
            else translation.stream(response.aiter_bytes())
        )
        async for chunk in chunks:
            if exchange.first_byte is None:
                exchange.first_byte = time.perf_counter()
            if b'"usage"' in chunk:
                exchange.count_usage(read_stream_usage(chunk))
            yield chunk
    except UpstreamError as error:
        # Past the first byte the status is sent: the only way left to say it broke.
        yield errors.stream_error_event(f"upstream stream broke: {type(error).__name__}")
    finally:
        await response.aclose()
        await lease.arelease()
        exchange.end()
