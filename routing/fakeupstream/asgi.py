"""The bare ASGI the simulated backend is written in: reading a body, sending an answer."""

import contextlib
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = b"application/json"


async def read_body(receive: Receive) -> bytes:
    message = await receive()
    body = message.get("body", b"")
    if not message.get("more_body"):
        return body
    parts = [body]
    while message.get("more_body"):
        message = await receive()
        parts.append(message.get("body", b""))
    return b"".join(parts)


async def respond(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def chunked(send: Send, status: int, size: int) -> None:
    """A body of `size` bytes without a Content-Length, 64 KiB per message."""
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", JSON)]}
    )
    chunk = b" " * (64 * 1024)
    with contextlib.suppress(OSError):
        for start in range(0, size, len(chunk)):
            body = chunk[: size - start]
            await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def adding_headers(send: Send, pairs: list[list[str]]) -> Send:
    extra = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in pairs]

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message["headers"], *extra]}
        await send(message)

    return sending


async def json_answer(send: Send, payload: Any, status: int = 200) -> None:
    await respond(send, status, JSON, json.dumps(payload).encode())


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
