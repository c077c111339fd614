import pytest
from rest_framework.test import APIClient

from routerproject import generations

STAFF_PASSWORD = "operator-pass-123"
READER_PASSWORD = "reader-pass-123"


@pytest.fixture(autouse=True)
def _fresh_process_views():
    generations.forget()
    yield
    generations.forget()


def login(client: APIClient, username: str, password: str, **extra) -> dict:
    response = client.post(
        "/api/auth/jwt/login", {"username": username, "password": password}, format="json", **extra
    )
    assert response.status_code == 200, response.content
    return response.json()["data"]


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def staff_login(staff_user, api_client) -> dict:
    return login(api_client, "operator", STAFF_PASSWORD, HTTP_USER_AGENT="pytest-agent/1.0")


@pytest.fixture
def reader_login(reader_user, api_client) -> dict:
    return login(api_client, "reader", READER_PASSWORD)


@pytest.fixture
def staff_jwt_client(staff_login) -> APIClient:
    return bearer(staff_login["token"])


@pytest.fixture
def reader_jwt_client(reader_login) -> APIClient:
    return bearer(reader_login["token"])
