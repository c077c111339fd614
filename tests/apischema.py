"""The management API's OpenAPI schema (as /api/schema/ serves it) and a check that a real answer is
one the schema documents: its status code listed for the operation, its body matching."""

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections

SCHEMA_URL = "/api/schema/?format=json"


@functools.cache
def wsgi_app() -> Any:
    return get_wsgi_application()


@functools.cache
def api_schema() -> Any:
    return schemathesis.openapi.from_wsgi(SCHEMA_URL, wsgi_app())


_open_clients = 0


@contextmanager
def api_client(token: str | None = None) -> Iterator[httpx.Client]:
    """An HTTP client for the project's WSGI app in this process. Like Django's test client, it
    keeps the handler from closing the database connection, which holds the test's transaction."""
    global _open_clients
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.WSGITransport(app=wsgi_app())
    if _open_clients == 0:
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
    _open_clients += 1
    try:
        with httpx.Client(transport=transport, base_url="http://localhost", headers=headers) as c:
            yield c
    finally:
        _open_clients -= 1
        if _open_clients == 0:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


@contextmanager
def signed_in_client(username: str, password: str) -> Iterator[httpx.Client]:
    """`api_client` with the access token of a login through the API itself."""
    credentials = {"username": username, "password": password}
    with api_client() as anonymous:
        token = anonymous.post("/api/auth/jwt/login", json=credentials).json()["data"]["token"]
    with api_client(token) as client:
        yield client


def assert_documented(method: str, path: str, response: httpx.Response) -> None:
    """`path` is the schema's template, e.g. `/api/auth/jwt/tokens/{tokenId}`."""
    operation = api_schema()[path][method.upper()]
    documented = sorted(operation.definition.raw["responses"])
    assert str(response.status_code) in documented, (
        f"{method.upper()} {path} answered {response.status_code}, documents {documented}: "
        f"{response.text[:300]}"
    )
    operation.validate_response(response)
