"""Schema fuzzing of the management API: schemathesis draws requests for every `/api` operation from
the project's own OpenAPI schema (served at /api/schema/) and checks each answer: never a 5xx, a
documented status code, a body matching its schema, and errors in the /api envelope.

The requests go through Django's WSGI handler in this process, with the middleware of the real
deployment, against a database (and shared state) seeded with a demo configuration, an API key and
a token, so that known identifiers reach the success paths. Each operation is one test on a fresh
database. Examples are derandomized: a run draws the same requests every time.

It runs in one backend pass: the services pass (PostgreSQL and Redis) when PostgreSQL answers, else
the embedded pass. PostgreSQL refuses input SQLite stores (NUL bytes), so it finds more, and two
passes would double the two minutes the fuzz takes (see docs/reliability.md).
"""

import uuid
from datetime import datetime
from typing import Any

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.db import connection
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from authjwt import services as auth_services
from authjwt.models import ApiKey, IssuedToken
from configversions.selectors import live_snapshot
from configversions.services import configuration_import, configuration_seed
from routerproject import generations
from routing.demo import demo_services
from routing.services import service_type_update
from tests.apischema import SCHEMA_URL, wsgi_app
from tests.backends import postgres_problem

pytestmark = pytest.mark.fuzz

# Per operation, on top of the coverage phase's boundary and invalid cases: about 3,800 requests,
# two minutes on two cores.
EXAMPLES_PER_OPERATION = 25
STAFF = {"username": "fuzz-operator", "password": "fuzz-operator-pass-1"}

KNOWN_API_KEY = uuid.UUID("00000000-0000-4000-8000-00000000a001")
KNOWN_TOKEN = uuid.UUID("00000000-0000-4000-8000-00000000b001")
KNOWN_INSTANCE = ("demo-chat", "http://127.0.0.1:9")
# Values the fuzzer also draws, in path parameters, query parameters and top-level body fields of
# those names, so that its requests reach existing resources and their success paths.
KNOWN_VALUES: dict[str, list[Any]] = {
    "service_type": ["chat"],
    "version": [1, 2, 3],
    "other": [1, 2, 3],
    "apiKeyId": [str(KNOWN_API_KEY)],
    "tokenId": [str(KNOWN_TOKEN)],
    "modelName": [KNOWN_INSTANCE[0]],
    "baseUrl": [KNOWN_INSTANCE[1]],
    "instanceId": ["@".join(KNOWN_INSTANCE)],
    "collectionInterval": ["PT30S"],
}
SUCCESS_KEYS = {"success", "message", "data", "timestamp"}
ERROR_KEYS = SUCCESS_KEYS | {"errorCode"}

schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, wsgi_app()).include(path_regex=r"^/api/")


def _or_known(values: Any) -> Any:
    """A strategy for the generated values or, name by name, a known one instead."""
    if not isinstance(values, dict) or not values:
        return st.just(values)
    return st.fixed_dictionaries(
        {
            name: st.sampled_from([value, *KNOWN_VALUES.get(name, [])])
            for name, value in values.items()
        }
    )


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    return _or_known(path_parameters)


@schema.hook
def flatmap_query(context: Any, query: dict[str, Any] | None) -> Any:
    return _or_known(query)


@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    return _or_known(body)


@schemathesis.check
def api_envelope(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """Every /api answer is the envelope: {success: true, message, data, timestamp}, and every
    error {success: false, message, data, errorCode, timestamp} with a readable message."""
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), f"answered as {content_type!r}"
    body = response.json()
    assert isinstance(body, dict), f"body is not an object: {body!r}"
    failed = response.status_code >= 400
    assert set(body) == (ERROR_KEYS if failed else SUCCESS_KEYS), f"envelope keys {sorted(body)}"
    assert body["success"] is (not failed), f"success is {body['success']!r}"
    message = body["message"]
    assert isinstance(message, str) and message, "no message"
    assert "ErrorDetail(" not in message and not message.startswith("{"), (
        f"message is a Python repr: {message[:120]}"
    )
    try:
        datetime.fromisoformat(body["timestamp"])
    except (TypeError, ValueError):
        raise AssertionError(f"timestamp {body['timestamp']!r} is not ISO 8601") from None
    if failed:
        assert isinstance(body["errorCode"], str) and body["errorCode"].isupper(), (
            f"errorCode {body['errorCode']!r} is not an UPPER_CASE code"
        )
        assert body["data"] is None or isinstance(body["data"], dict), "error data not an object"


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    api_envelope,
]


class Operator:
    """The fuzzer's staff credentials: a JWT from the login endpoint. When the fuzzed logout revoked
    it, a new session comes from the login service: the endpoint's throttle (10 a minute) would
    count the fuzzer's own logins and refuse them."""

    def __init__(self, client: Any) -> None:
        self.client = client
        response = client.post("/api/auth/jwt/login", STAFF, content_type="application/json")
        assert response.status_code == 200, response.content
        self.token = response.json()["data"]["token"]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def renew_if_revoked(self) -> None:
        if self.client.get("/api/config/version/current", headers=self.headers).status_code == 401:
            self.token = auth_services.user_login(**STAFF).access_token


def _seed(django_user_model: Any) -> None:
    staff = django_user_model.objects.create_user(**STAFF, is_staff=True)
    reader = django_user_model.objects.create_user(username="fuzz-reader", password="reader-1")
    configuration_seed()  # version 1: the defaults
    services = demo_services("http://127.0.0.1:9")
    del services["rerank"], services["tts"]  # left for the fuzzed creation to succeed
    configuration_import(
        content={**live_snapshot(), "services": services}, actor=staff, operation="fuzz seed"
    )  # version 2
    service_type_update(name="embedding", actor=staff, retries=2)  # version 3
    api_key, _ = auth_services.api_key_create(name="fuzz key", actor=staff)
    ApiKey.objects.filter(pk=api_key.pk).update(id=KNOWN_API_KEY)
    pair = auth_services.user_login(username="fuzz-reader", password="reader-1")
    IssuedToken.objects.filter(pk=pair.access_record.pk).update(id=KNOWN_TOKEN)
    assert reader.issued_tokens.count() == 2


@pytest.fixture
def fuzzing_pass() -> None:
    if connection.vendor == "postgresql":
        return
    if postgres_problem() is None:
        pytest.skip("fuzzed in the services pass (PostgreSQL and Redis)")
    if django_settings.STATE_BACKEND != "memory":
        pytest.skip("fuzzed in the embedded pass (PostgreSQL does not answer)")


@pytest.fixture
def operator(
    fuzzing_pass: None, transactional_db: None, django_user_model: Any, client: Any
) -> Operator:
    generations.forget()
    _seed(django_user_model)
    return Operator(client)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_operation_conforms_to_its_schema(case: schemathesis.Case, operator: Operator) -> None:
    case.call_and_validate(headers=operator.headers, checks=CHECKS)
    if case.path == "/api/auth/jwt/logout":
        operator.renew_if_revoked()
