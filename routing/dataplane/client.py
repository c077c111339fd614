"""The process's pooled upstream client, on aiohttp.

Measured before choosing (one process, the simulated upstream, CPU time per request): httpx with its
own pool costs ~0.5 ms at concurrency 1 and ~2-3 ms at concurrency 64 (httpcore's pool bookkeeping
grows with the number of waiting requests); httpx over an aiohttp transport ~0.28 ms flat; aiohttp
directly ~0.11-0.13 ms flat. The pipeline needs little of a client, so this module gives it that
little over aiohttp: send, a status, headers, the body as it arrives, and three kinds of failure.

One session per event loop (a pool cannot cross loops), which under uvicorn and gunicorn's uvicorn
workers means one per process. Every connection to an instance (requests, health probes, the
router's prompt embedding) goes through it, so through the destination policy at connect time. Bodies are relayed as they come: no decompression (the pipeline asks
upstreams for `identity`), no redirects, no proxy variables from the environment.
"""

import asyncio
import atexit
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlsplit

import aiohttp
from django.conf import settings
from multidict import CIMultiDictProxy

from routing.destinations import GuardedResolver

_sessions: dict[int, tuple[asyncio.AbstractEventLoop, aiohttp.ClientSession, GuardedResolver]] = {}
_CHUNK = 64 * 1024


class UpstreamError(Exception):
    pass


class UpstreamTimeout(UpstreamError):
    """No answer (or no next chunk) within the instance's timeout."""


class UpstreamUnreachable(UpstreamError):
    """No connection, or the connection failed before an answer began."""


class UpstreamBroken(UpstreamError):
    """The answer began but its body failed midway."""


class UpstreamTooLarge(UpstreamError):
    """A body to be read whole is larger than the caller accepts."""


class UpstreamHeaders:
    def __init__(self, raw: "CIMultiDictProxy[str]") -> None:
        self._raw = raw

    def multi_items(self) -> list[tuple[str, str]]:
        return [(name.lower(), value) for name, value in self._raw.items()]

    def get(self, name: str, default: str = "") -> str:
        return self._raw.get(name, default)


class UpstreamResponse:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status_code = response.status
        self.headers = UpstreamHeaders(response.headers)

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except TimeoutError:
            raise UpstreamTimeout("the upstream stopped sending") from None
        except (aiohttp.ClientError, OSError) as error:
            raise UpstreamBroken(type(error).__name__) from None

    # Bodies are never decoded here: upstreams are asked for `identity`.
    aiter_bytes = aiter_raw

    async def aread(self, limit: int) -> bytes:
        """The whole body, refused (UpstreamTooLarge) as soon as it passes `limit` bytes: what is
        held in memory stays bounded whatever the upstream sends."""
        chunks, size = [], 0
        async for chunk in self.aiter_raw():
            size += len(chunk)
            if size > limit:
                raise UpstreamTooLarge(f"more than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        if self._response.content.at_eof():
            self._response.release()  # the connection goes back to the pool
        else:
            self._response.close()  # an abandoned body: closing tells the upstream to stop


def _close_pools(*, only_dead_loops: bool) -> None:
    """Close the sockets of sessions whose event loop has ended (test runs make a loop per test),
    or of all of them at exit: neither can be awaited on its loop any more."""
    for key, (loop, session, _) in list(_sessions.items()):
        if not only_dead_loops or loop.is_closed():
            del _sessions[key]
            session.connector._close()  # type: ignore[union-attr]  # the synchronous close


atexit.register(_close_pools, only_dead_loops=False)


def _session() -> tuple[aiohttp.ClientSession, GuardedResolver]:
    loop = asyncio.get_running_loop()
    known = _sessions.get(id(loop))
    if known is not None and not known[1].closed and known[0] is loop:
        return known[1], known[2]
    _close_pools(only_dead_loops=True)
    # The instance URL policy again, on the addresses a name has when connecting.
    resolver = GuardedResolver()
    connector = aiohttp.TCPConnector(
        limit=settings.GATEWAY_MAX_CONNECTIONS,
        limit_per_host=0,
        keepalive_timeout=settings.GATEWAY_KEEPALIVE_EXPIRY_S,
        resolver=resolver,
    )
    session = aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,
        trust_env=False,
        skip_auto_headers=("User-Agent", "Accept-Encoding"),
    )
    _sessions[id(loop)] = (loop, session, resolver)
    return session, resolver


async def send_upstream(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    content: bytes,
    connect_timeout_s: float,
    request_timeout_s: float,
) -> UpstreamResponse:
    """Send and return once the status and headers are in; the body is read by the caller."""
    timeout = aiohttp.ClientTimeout(
        total=None,
        sock_connect=connect_timeout_s or settings.GATEWAY_CONNECT_TIMEOUT_S,
        sock_read=request_timeout_s or settings.GATEWAY_REQUEST_TIMEOUT_S,
    )
    try:
        session, resolver = _session()
        resolver.check_literal(urlsplit(url).hostname or "")
        response = await session.request(
            method,
            url,
            headers=dict(headers),
            data=content,
            timeout=timeout,
            allow_redirects=False,
        )
    except TimeoutError:
        raise UpstreamTimeout(url) from None
    except (aiohttp.ClientError, OSError) as error:
        raise UpstreamUnreachable(f"{url}: {type(error).__name__}") from None
    return UpstreamResponse(response)
