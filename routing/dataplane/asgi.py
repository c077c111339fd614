"""A lean Django ASGI handler for /v1: the same request class, URLconf and async views, without
what costs thread hops on every request.

Profiled (cProfile over the full ASGI app, 300 requests): under Django's stock handler one /v1
request made 20 `sync_to_async` thread hops — two per `MiddlewareMixin` middleware (Security,
Session, Common, CSRF, Auth, Messages, XFrame and both django_prometheus ones run their
process_request/process_response through a thread in async mode; only ServeStatic is async-native),
one for `response.close()`, and the sync `close_old_connections` receivers of request_started and
request_finished — plus a new thread for every request, from the per-request ThreadSensitiveContext.
None of that middleware serves the /v1 API (no sessions, cookies, CSRF or HTML there), so /v1 skips
it; every other path keeps Django's full stack. What /v1 gives up: django_prometheus's per-view
metrics (the data plane records its own, monitoring.metrics) and the request signals (the /v1
views do no database work; the live configuration rebuilds in its own thread).

The body is read here with a bound (`GATEWAY_MAX_BODY_BYTES`): a declared Content-Length above it
is refused before any byte is read, and a body without one (chunked) is counted as it arrives and
refused as soon as it passes the bound, so no client makes a worker hold more than that. A body that
is large (above `PREAUTH_BODY_BYTES`) or of unknown size is only read once the client's API key is
accepted, so a client without a key cannot make a worker read megabytes; small bodies, the common
case, have their key checked by the pipeline instead. Either way the key is looked up once:
`admission.authenticate` keeps its answer on the request.
"""

import asyncio
import contextlib
import io
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import set_script_prefix
from django.utils.log import log_response

from . import errors
from .admission import authenticate
from .relay import RelayedStream
from .urls import FIXED_ROUTES
from .views import refused

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]

V1_PREFIX = "/v1/"
# Bodies declared larger than this, or sent without a length, wait for the API key check.
PREAUTH_BODY_BYTES = 64 * 1024


def declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length" and value.isdigit():
            return int(value)
    return None


async def read_bounded_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is known to exceed `limit` bytes (the rest unread).
    A client that disconnects raises RequestAborted."""
    declared = declared_length(scope)
    if declared is not None and declared > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestAborted()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def close_response(response: HttpResponseBase) -> None:
    """`response.close()` without Django's `request_finished` signal, whose receivers close the
    database connections of the thread that sends it: /v1 sends it from the event loop's thread,
    which never holds one (its rare queries run in `sync_to_async` threads)."""
    if isinstance(response, RelayedStream):
        response.finish()
    for closer in response._resource_closers:  # type: ignore[attr-defined]
        with contextlib.suppress(Exception):
            closer()
    response._resource_closers.clear()  # type: ignore[attr-defined]
    response.closed = True


class V1Handler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        # The fixed /v1 paths go straight to their view (wrapped as Django wraps a view, so an
        # exception still answers 500 without a traceback); the others through the URL resolver.
        self._fixed: dict[str, Callable[[HttpRequest], Awaitable[HttpResponseBase]]] = {
            V1_PREFIX + route: convert_exception_to_response(view)  # type: ignore[misc]
            for route, view in FIXED_ROUTES.items()
        }

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        self._middleware_chain = convert_exception_to_response(self._get_response_async)  # type: ignore[attr-defined]

    async def run_get_response(self, request: HttpRequest) -> HttpResponseBase:
        view = self._fixed.get(request.path_info)
        if view is None:
            return await super().run_get_response(request)
        # What Django's get_response_async does around the view, without resolving the path.
        response: HttpResponseBase = await view(request)
        response._resource_closers.append(request.close)  # type: ignore[attr-defined]
        response._handler_class = self.__class__  # type: ignore[attr-defined]
        if response.status_code >= 400:
            await sync_to_async(log_response, thread_sensitive=False)(
                "%s: %s",
                response.reason_phrase,
                request.path,
                response=response,  # type: ignore[arg-type]
                request=request,
            )
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = settings.GATEWAY_MAX_BODY_BYTES
        set_script_prefix(get_script_prefix(scope))
        # The body is attached below, once read: Django never reads it from this file.
        body_file = io.BytesIO()
        request, _ = self.create_request(scope, body_file)
        if request is None:
            # Django could not build a request (a path that is not UTF-8): answered in OpenAI's shape.
            await self.send_response(
                errors.bad_request("The request is malformed.").response(), send
            )
            return
        declared = declared_length(scope)
        if scope["method"] == "POST" and (declared is None or declared > PREAUTH_BODY_BYTES):
            try:
                await authenticate(request, None)
            except errors.GatewayError as refusal:
                await self.send_response(refused(request, refusal), send)
                return
        try:
            body = await read_bounded_body(scope, receive, limit)
        except RequestAborted:
            return
        if body is None:
            # Without the listener below: the unread body is not a disconnect.
            await self.send_response(refused(request, errors.body_too_large(limit)), send)
            return
        # Read already: Django's own read would apply DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) instead.
        request._body = body

        async def process_request() -> Any:
            response = await self.run_get_response(request)
            # The client may leave while the answer is being sent.
            with contextlib.suppress(asyncio.CancelledError):
                await self.send_response(response, send)
            return response

        # As Django's handler: a disconnect while the view runs or streams cancels it.
        listener = asyncio.create_task(self.listen_for_disconnect(receive))
        processor = asyncio.create_task(process_request())
        await asyncio.wait((listener, processor), return_when=asyncio.FIRST_COMPLETED)
        for task in (listener, processor):
            if task.done():
                with contextlib.suppress(RequestAborted):
                    task.result()
            else:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if not processor.cancelled() and processor.exception() is None:
            # The gateway's responses close without I/O (a lease already released is a no-op).
            close_response(processor.result())
        body_file.close()


def with_lean_v1(application: ASGIApp) -> ASGIApp:
    """Route /v1/ HTTP requests to `V1Handler`, everything else to `application`."""
    v1 = V1Handler()

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(V1_PREFIX):
            await v1(scope, receive, send)
        else:
            await application(scope, receive, send)

    return dispatch
