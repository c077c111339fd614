"""CSRF: a write made with a browser session needs the token (dashboard forms, the login form and
the management API under SessionAuthentication); a write made with a JWT or HTTP Basic does not,
carrying no ambient credential a foreign page could borrow."""

import base64

import pytest
from django.test import Client

from configversions.services import configuration_seed
from routing.models import ServiceInstance

pytestmark = pytest.mark.django_db

PASSWORD = "operator-pass-123"
ADD = "/api/config/instance/add/chat"
INSTANCE = {"name": "m", "baseUrl": "http://ollama:11434"}


@pytest.fixture
def session(staff_user, seeded):
    client = Client(enforce_csrf_checks=True)
    assert client.login(username="operator", password=PASSWORD)
    return client


@pytest.fixture
def seeded(db):
    return configuration_seed()


def test_a_session_write_to_the_api_without_the_token_is_refused(session):
    response = session.post(ADD, INSTANCE, content_type="application/json")
    assert response.status_code == 403
    body = response.json()
    assert body["success"] is False and "CSRF" in body["message"]
    assert not ServiceInstance.objects.exists()


def test_a_session_write_with_the_token_is_accepted(session):
    session.get("/dashboard/overview/")  # a page with a form sets the csrftoken cookie
    token = session.cookies["csrftoken"].value
    response = session.post(
        ADD, INSTANCE, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert response.status_code == 201, response.content
    assert ServiceInstance.objects.filter(name="m").exists()


def test_a_jwt_write_needs_no_token(staff_user, seeded):
    client = Client(enforce_csrf_checks=True)
    login = client.post(
        "/api/auth/jwt/login",
        {"username": "operator", "password": PASSWORD},
        content_type="application/json",
    )
    assert login.status_code == 200, login.content
    jwt = login.json()["data"]["token"]
    response = client.post(
        ADD, INSTANCE, content_type="application/json", headers={"Authorization": f"Bearer {jwt}"}
    )
    assert response.status_code == 201, response.content


def test_a_basic_auth_write_needs_no_token(staff_user, seeded):
    credentials = base64.b64encode(f"operator:{PASSWORD}".encode()).decode()
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        ADD,
        INSTANCE,
        content_type="application/json",
        headers={"Authorization": f"Basic {credentials}"},
    )
    assert response.status_code == 201, response.content


def test_the_dashboard_login_and_forms_need_the_token(staff_user, seeded):
    anonymous = Client(enforce_csrf_checks=True)
    refused = anonymous.post("/dashboard/login/", {"username": "operator", "password": PASSWORD})
    assert refused.status_code == 403
    assert "_auth_user_id" not in anonymous.session
    signed_in = Client(enforce_csrf_checks=True)
    signed_in.force_login(staff_user)
    for path in ("/dashboard/monitoring/errors/reset/", "/dashboard/router/breaker-reset/"):
        assert signed_in.post(path).status_code == 403, path
