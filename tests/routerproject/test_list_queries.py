"""Every list endpoint of the management API answers in a fixed number of queries, however many rows
it lists (no query per row), and the number is pinned so a change that adds one is seen."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from authjwt.services import api_key_create, user_login
from monitoring.services import request_records_write
from routing.services import instance_add
from tests.monitoring.history_rows import row

pytestmark = pytest.mark.django_db


def _grow(kind: str, count: int, user) -> None:
    for i in range(count):
        if kind == "tokens":
            user_login(username=user.username, password="operator-pass-123", ip_address="127.0.0.1")
        elif kind == "api-keys":
            api_key_create(name=f"key-{kind}-{i}-{count}")
        elif kind == "requests":
            request_records_write(rows=[row(request_id=f"r-{i}-{count}")])
        else:  # instances (each also writes a configuration version)
            instance_add(
                actor=None,
                service_type="chat",
                name=f"m-{i}-{count}",
                base_url=f"http://vllm-{i}-{count}:8000",
            )


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(captured)


# (what grows, URL, queries however many rows): a page's rows and their count; the service types
# with their instances prefetched; the versions in one query; a service type's instances, and its
# models, with the service type; the models of every service type; a page of the request history
# and its count.
LISTS = [
    ("tokens", "/api/auth/jwt/tokens", 2),
    ("api-keys", "/api/auth/api-keys", 2),
    ("instances", "/api/config/type/services", 2),
    ("instances", "/api/config/version", 1),
    ("instances", "/api/config/instance/type/chat", 2),
    ("instances", "/api/config/type/chat/models", 3),
    ("instances", "/api/models", 1),
    ("requests", "/api/requests?status=2xx", 2),
]


@pytest.mark.parametrize(("kind", "url", "pinned"), LISTS, ids=[url for _, url, _ in LISTS])
def test_a_list_takes_the_same_queries_for_2_rows_as_for_12(
    staff_client, staff_user, kind, url, pinned
):
    _grow(kind, 2, staff_user)
    staff_client.get(url)  # per-process caches (the live configuration, sessions) filled first
    few = _queries(staff_client, url)
    _grow(kind, 10, staff_user)
    staff_client.get(url)
    many = _queries(staff_client, url)
    assert few == many == pinned
