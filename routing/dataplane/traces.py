"""The /v1 data plane's spans, made only while `monitoring.tracing.enabled` (the one check the
hot path makes; off, nothing here runs):

- one SERVER span per request (`traced`, around `pipeline.handle` in `views.proxy_view`), a child
  of the client's W3C `traceparent` when it sent one, ended when the exchange ends
  (`ended.on_exchange_end`): after the last byte of a stream, which is later than `handle`
  returns;
- one CLIENT span per upstream attempt (`attempt`, in place of `send_upstream` in
  `attempts._attempt`), a child of the request's, so a retry and a fallback are sibling attempts;
  the attempt's own `traceparent` goes upstream. It ends once the upstream's status and headers
  are in, so a streamed answer's body is in the request's span only.

The request's span is found at its end through a context variable of the request's task; an
exchange that reached an upstream is also found by itself, because a stream dropped unread is
ended from the ASGI handler's task, outside that context.
"""

from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from opentelemetry import context, propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from routing.resilience import retry
from routing.snapshot import InstanceSpec

from .client import UpstreamResponse, UpstreamTimeout, UpstreamUnreachable, send_upstream
from .ended import on_exchange_end
from .endpoints import Endpoint
from .exchange import Exchange

Handle = Callable[[HttpRequest, Endpoint], Awaitable[HttpResponseBase]]
Send = Callable[..., Awaitable[UpstreamResponse]]

_tracer: trace.Tracer = trace.NoOpTracer()


@dataclass(slots=True)
class _Open:
    """A request's span until its exchange ends."""

    span: Span
    exchange: Exchange | None = None
    ended: bool = False


_current: ContextVar[_Open | None] = ContextVar("routing_dataplane_request_span", default=None)
_reached: dict[int, _Open] = {}  # by id() of an exchange that reached an upstream, until it ends


def install(provider: TracerProvider) -> None:
    """Tracing has started (`monitoring.tracing.when_started`): the tracer, the end listener."""
    global _tracer
    _tracer = provider.get_tracer(__name__)
    on_exchange_end(_exchange_ended)


async def traced(request: HttpRequest, endpoint: Endpoint, handle: Handle) -> HttpResponseBase:
    """`handle(request, endpoint)` inside the request's SERVER span."""
    route = f"/v1/{endpoint.route}"
    span = _tracer.start_span(
        f"POST {route}",
        context=propagate.extract(request.headers),
        kind=SpanKind.SERVER,
        attributes={"http.request.method": "POST", "http.route": route, "url.path": route},
    )
    opened = _Open(span)
    _current.set(opened)
    token = context.attach(trace.set_span_in_context(span))
    try:
        return await handle(request, endpoint)
    except BaseException as exc:
        if not opened.ended:  # failed before its exchange could end
            opened.ended = True
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            span.end()
        raise
    finally:
        context.detach(token)


def _exchange_ended(exchange: Exchange, status: int, ended: float) -> None:
    opened = _reached.pop(id(exchange), None) or _current.get()
    if opened is None or opened.ended:
        return
    if opened.exchange is not None and opened.exchange is not exchange:
        return
    opened.ended = True
    span = opened.span
    attributes: dict[str, str | int | float | bool] = {
        "http.response.status_code": status,
        "gateway.request_id": exchange.request_id,
        "gateway.retries": exchange.retries,
        "gen_ai.usage.input_tokens": exchange.prompt_tokens,
        "gen_ai.usage.output_tokens": exchange.completion_tokens,
        "gateway.usage_estimated": exchange.usage_estimated,
    }
    for name, value in (
        ("gateway.service_type", exchange.service_type),
        ("gen_ai.request.model", exchange.model),
        ("gateway.served_model", exchange.served_model),
        ("gateway.instance_id", exchange.instance_id),
        ("gateway.decision", exchange.decision),
        ("gateway.fallback_model", exchange.fallback_model),
        ("gateway.rejected_by", exchange.rejected_by),
        ("gateway.error", exchange.error),
    ):
        if value:
            attributes[name] = value
    if exchange.cost is not None:
        attributes["gateway.cost_usd"] = exchange.cost
    span.set_attributes(attributes)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR, exchange.error or f"HTTP {status}"))
    span.end()


def attempt(instance: InstanceSpec, exchange: Exchange) -> Send:
    """`send_upstream` inside the attempt's CLIENT span, its `traceparent` sent upstream."""
    opened = _current.get()
    if opened is not None:
        opened.exchange = exchange
        _reached[id(exchange)] = opened

    async def send(
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes,
        connect_timeout_s: float,
        request_timeout_s: float,
    ) -> UpstreamResponse:
        address = urlsplit(url)
        span = _tracer.start_span(
            "upstream attempt",
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": method,
                "server.address": address.hostname or "",
                "server.port": address.port or (443 if address.scheme == "https" else 80),
                "gateway.instance_id": instance.instance_id,
                "gateway.attempt": exchange.retries + 1,
            },
        )
        sent = dict(headers)
        propagate.inject(sent, context=trace.set_span_in_context(span))
        try:
            response = await send_upstream(
                method,
                url,
                headers=sent,
                content=content,
                connect_timeout_s=connect_timeout_s,
                request_timeout_s=request_timeout_s,
            )
        except (UpstreamTimeout, UpstreamUnreachable) as failure:
            outcome = retry.TIMEOUT if isinstance(failure, UpstreamTimeout) else retry.UNREACHABLE
            span.set_attributes({"gateway.outcome": outcome, "error.type": outcome})
            span.set_status(Status(StatusCode.ERROR, outcome))
            span.end()
            raise
        except BaseException as exc:
            span.record_exception(exc)
            span.end()
            raise
        outcome = retry.outcome_of_status(response.status_code)
        span.set_attributes(
            {"gateway.outcome": outcome, "http.response.status_code": response.status_code}
        )
        if retry.is_failure(outcome):
            span.set_attribute("error.type", str(response.status_code))
            if response.status_code >= 500:
                span.set_status(Status(StatusCode.ERROR, outcome))
        span.end()
        return response

    return send
