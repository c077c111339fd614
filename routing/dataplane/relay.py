"""Relaying an upstream's answer to the client: an answer read whole (bounded by
GATEWAY_BUFFER_LIMIT_BYTES, a 502 past it) or a stream passed on chunk by chunk (`RelayedStream`).
Either way the lease is given back exactly once and the exchange ends when the last byte is gone."""

import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from . import errors
from .adapters import Translation
from .client import UpstreamError, UpstreamResponse, UpstreamTimeout, UpstreamTooLarge
from .exchange import Exchange
from .headers import relayed_headers
from .selection import Lease
from .usage import read_stream_usage, read_usage

_STREAM_TYPES = ("text/event-stream", "application/x-ndjson")


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

    def finish(self) -> None:
        """A response dropped before its body was iterated must still give its lease back."""
        self._lease.release()
        self._exchange.end()

    def close(self) -> None:
        self.finish()
        super().close()


async def relay(
    response: UpstreamResponse,
    translation: Translation | None,
    lease: Lease,
    exchange: Exchange,
) -> HttpResponseBase:
    """The client's answer: a stream when the upstream's is one (and not an error), else the body
    read whole. A body that breaks while read whole raises a `GatewayError` (502 or 504)."""
    headers = relayed_headers(response, translated=translation is not None)
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
