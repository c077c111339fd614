"""Paged lists: the bounds the paginator enforces are the ones the schema declares."""

import pytest

from routerproject.pagination import MAX_PAGE, MAX_PAGE_SIZE
from tests.apischema import api_client, api_schema, assert_documented

pytestmark = pytest.mark.django_db


def _query_parameters(path: str) -> dict[str, dict]:
    definition = api_schema()[path]["GET"].definition.raw
    return {p["name"]: p["schema"] for p in definition["parameters"] if p["in"] == "query"}


@pytest.mark.parametrize("path", ["/api/auth/jwt/tokens", "/api/auth/api-keys"])
def test_the_schema_declares_the_page_bounds(path):
    parameters = _query_parameters(path)
    assert (parameters["page"]["minimum"], parameters["page"]["maximum"]) == (0, MAX_PAGE)
    assert (parameters["size"]["minimum"], parameters["size"]["maximum"]) == (1, MAX_PAGE_SIZE)


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"size": MAX_PAGE_SIZE}, 200),
        ({"size": MAX_PAGE_SIZE + 1}, 400),
        ({"page": MAX_PAGE}, 200),
        ({"page": MAX_PAGE + 1}, 400),
    ],
)
def test_answers_at_the_bounds_are_documented(staff_user, query, status):
    with api_client() as anonymous:
        token = anonymous.post(
            "/api/auth/jwt/login", json={"username": "operator", "password": "operator-pass-123"}
        ).json()["data"]["token"]
    with api_client(token) as staff:
        answer = staff.get("/api/auth/api-keys", params=query)
    assert answer.status_code == status, answer.text
    assert_documented("GET", "/api/auth/api-keys", answer)


def test_a_refused_page_names_the_parameter_in_the_message(staff_client):
    # Seen in the schema fuzz's answers: errors raised with field details but no message said only
    # "Parameter validation failed".
    body = staff_client.get("/api/auth/api-keys", {"page": "first"}).json()
    assert body["message"] == "Parameter validation failed: page: Must be an integer."
    assert body["data"] == {"errors": {"page": ["Must be an integer."]}}
