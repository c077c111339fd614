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
metrics (the data plane records its own metrics in a later issue) and the request signals (the /v1
views do no database work; the live configuration rebuilds in its own thread).
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.urls import set_script_prefix

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]

V1_PREFIX = "/v1/"


class V1Handler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        self._middleware_chain = convert_exception_to_response(self._get_response_async)  # type: ignore[attr-defined]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            assert error_response is not None
            body_file.close()
            await self.send_response(error_response, send)
            return

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
            processor.result().close()
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
