"""Retries and fallback, in one place: `Attempts.answer` makes up to 1 + `retries` attempts of the
requested model on different instances while failures happen before the first byte and
`resilience.retry.may_retry` allows, then tries the service's fallback models in order the same
way, then answers its fixed fallback response if it has one. Each attempt picks an instance the
breakers and health allow (`resilience.breakers.eligible`, `apermit`), passes its rate limits
(`admission.admit_instance`), sends the upstream request and feeds the breaker (`record_outcome`)
before the answer is relayed. Shared-state failures here fail open (logged)."""

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.http.response import HttpResponseBase

from monitoring import tracing
from routerproject.state import STATE_ERRORS, SharedState, get_state, log_degraded
from routing.resilience import retry, shared_breakers
from routing.snapshot import InstanceSpec, ServiceSpec

from . import errors, traces
from .adapters import UpstreamRequest, adapter_for
from .admission import admit_instance
from .client import UpstreamTimeout, UpstreamUnreachable, send_upstream
from .clientapi import ClientCall
from .endpoints import Endpoint
from .exchange import Exchange
from .payload import for_instance
from .relay import relay
from .selection import Lease, NoInstanceAvailable, choose
from .stream_usage import UsageKept, ask_for_usage

logger = logging.getLogger(__name__)


async def record_outcome(instance: InstanceSpec, outcome: str) -> None:
    """Feeds the instance's breaker: `outcome` is ok, http_5xx, http_429, timeout or unreachable.
    Called once per attempt, before the body is relayed."""
    try:
        await shared_breakers.arecord(instance, not retry.is_failure(outcome), get_state())
    except STATE_ERRORS as exc:
        log_degraded(
            logger,
            exc,
            "Breaker of %s not updated, shared state unavailable: %s",
            instance.instance_id,
            exc,
        )


@dataclass(slots=True)
class _Outcome:
    """How one model's attempts ended: an answer to relay (`failed` False), an upstream error
    answer (`failed`), or a gateway error; `retryable` says whether another model may be tried."""

    response: HttpResponseBase | None = None
    error: errors.GatewayError | None = None
    failed: bool = False
    retryable: bool = False


@dataclass(slots=True)
class Attempts:
    service: ServiceSpec
    endpoint: Endpoint
    headers: dict[str, str]
    client: str
    exchange: Exchange
    idempotent: bool
    call: ClientCall | None = None  # another client API's request, as chat (`clientapi`)
    made: int = 0
    state: SharedState = field(default_factory=get_state)

    async def answer(
        self,
        model: str,
        candidates: tuple[InstanceSpec, ...],
        body: bytes,
        payload: dict[str, Any] | None,
    ) -> HttpResponseBase:
        """The first answer to relay: the requested model's, a fallback model's (marked with
        `x-router-fallback`), the fixed fallback response, or the last failure."""
        service, exchange = self.service, self.exchange
        failure = await self.try_model(model, candidates, body, payload)
        if failure.retryable and service.fallback is not None and payload is not None:
            for fallback in service.fallback.models:
                fallback_candidates = service.candidates(fallback)
                if fallback == model or not fallback_candidates:
                    continue
                rewritten = {**payload, "model": fallback}
                outcome = await self.try_model(
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

    async def try_model(
        self,
        model: str,
        candidates: tuple[InstanceSpec, ...],
        body: bytes,
        payload: dict[str, Any] | None,
    ) -> _Outcome:
        """Up to 1 + `retries` attempts on different instances of `model`."""
        if self.call is not None:
            candidates = self.call.servable(candidates)
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
                refused = await admit_instance(
                    self.service, lease.instance, self.exchange, self.state
                )
                if refused is not None:
                    await lease.arelease()
                    last = _Outcome(error=refused, retryable=True)
                    continue
                budget -= 1
                if self.made:
                    self.exchange.retries += 1
                self.made += 1
                self.exchange.instance_id = lease.instance.instance_id
                self.exchange.served_model = lease.instance.name
                self.exchange.prices = lease.instance.prices
                sent_body, sent_payload = for_instance(body, payload, lease.instance)
                if self.call is not None:
                    upstream = self.call.build(
                        lease.instance, sent_body, sent_payload, self.headers
                    )
                else:
                    sent_body, sent_payload, kept = ask_for_usage(
                        self.endpoint, sent_body, sent_payload
                    )
                    upstream = adapter_for(lease.instance.adapter).build(
                        lease.instance,
                        self.endpoint,
                        body=sent_body,
                        payload=sent_payload,
                        headers=self.headers,
                    )
                    if kept and sent_payload is not None:
                        upstream.translation = UsageKept(
                            upstream.translation, self.exchange, sent_payload
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
                usable, known, wait = await shared_breakers.eligible(candidates, self.state)
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
                permitted = await shared_breakers.apermit(
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


def _fixed_fallback(service: ServiceSpec) -> HttpResponse:
    assert service.fallback is not None and service.fallback.response is not None
    response = HttpResponse(
        json.dumps(dict(service.fallback.response)),
        status=service.fallback.response_status,
        content_type="application/json",
    )
    response["x-router-fallback"] = "response"
    return response


async def _attempt(
    upstream: UpstreamRequest, lease: Lease, exchange: Exchange
) -> tuple[str, HttpResponseBase | errors.GatewayError]:
    """(outcome, what to answer). Only an `ok` outcome's answer may be a stream; failures are
    complete answers or gateway errors, and their lease is already released."""
    instance = lease.instance
    send = traces.attempt(instance, exchange) if tracing.enabled else send_upstream
    sent = time.perf_counter()
    try:
        response = await send(
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
        return outcome, await relay(response, upstream.translation, lease, exchange)
    except errors.GatewayError as error:
        # The body of an answer that is not a stream broke while being read: past the first byte.
        return retry.BROKEN, error
