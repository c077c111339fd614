"""The schema describes the configuration endpoints as they behave: the service type names, the
nested rate limit, breaker and fallback settings (found by the schema fuzz: they were documented as
"any JSON", so requests that followed the schema were refused and answers were not checked)."""

import pytest

from routing.service_types import RateLimitAlgorithm, ServiceKind
from tests.apischema import api_schema, assert_documented, signed_in_client

pytestmark = pytest.mark.django_db

SERVICE = "/api/config/type/services/{service_type}"
LOGIN = {"username": "operator", "password": "operator-pass-123"}


@pytest.fixture
def staff(staff_user):
    with signed_in_client(**LOGIN) as client:
        yield client


def _request_schema(path: str, method: str) -> dict:
    definition = api_schema()[path][method].definition.raw
    reference = definition["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return api_schema().raw_schema["components"]["schemas"][reference.rsplit("/", 1)[-1]]


def test_service_type_paths_enumerate_the_service_kinds():
    parameters = api_schema()[SERVICE]["GET"].definition.raw["parameters"]
    (service_type,) = [p for p in parameters if p["name"] == "service_type"]
    assert sorted(service_type["schema"]["enum"]) == sorted(kind.value for kind in ServiceKind)


def test_the_nested_settings_are_described():
    properties = _request_schema(SERVICE, "PUT")["properties"]
    rate_limit = properties["rateLimit"]
    assert rate_limit["nullable"] is True and rate_limit["required"] == ["algorithm", "capacity"]
    assert set(rate_limit["properties"]["algorithm"]["enum"]) == set(RateLimitAlgorithm)
    assert properties["circuitBreaker"]["minProperties"] == 1
    assert set(properties["circuitBreaker"]["properties"]) == {
        "enabled",
        "failureThreshold",
        "recoveryTimeout",
        "successThreshold",
    }
    assert properties["fallback"]["properties"]["response"]["required"] == ["body"]


def test_a_request_following_the_schema_is_accepted_and_answered_as_documented(staff):
    body = {
        "rateLimit": {"algorithm": "sliding_window", "capacity": 5, "windowSeconds": 2},
        "circuitBreaker": {"failureThreshold": 3},
        "fallback": {"response": {"status": 503, "body": {"error": "busy"}}},
    }
    answer = staff.put("/api/config/type/services/chat", json=body)
    assert answer.status_code == 200, answer.text
    assert_documented("PUT", SERVICE, answer)
    data = answer.json()["data"]
    assert data["rateLimit"]["scope"] == "service" and data["circuitBreaker"]["recoveryTimeout"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"circuitBreaker": {}}, "circuitBreaker"),  # documented by minProperties
        ({"fallback": {}}, "fallback"),  # documented by anyOf
        ({"rateLimit": {"algorithm": "token_bucket"}}, "rateLimit.capacity"),
    ],
)
def test_what_the_schema_excludes_is_refused_as_documented(staff, body, field):
    answer = staff.put("/api/config/type/services/chat", json=body)
    assert answer.status_code == 400
    assert field in answer.json()["data"]["errors"]
    assert_documented("PUT", SERVICE, answer)


def test_an_instance_answer_matches_its_documented_shape(staff):
    answer = staff.post(
        "/api/config/instance/add/chat",
        json={
            "name": "m",
            "baseUrl": "http://upstream:8000",
            "path": "/v1/chat/completions",
            "rateLimit": {"algorithm": "token_bucket", "capacity": 2},
            "circuitBreaker": {},
        },
    )
    assert answer.status_code == 201, answer.text
    assert_documented("POST", "/api/config/instance/add/{service_type}", answer)
    assert answer.json()["data"]["circuitBreaker"]["failureThreshold"] == 5
