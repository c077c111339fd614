"""One throttle for every way of presenting a password: the JWT login, HTTP Basic on /api and on the
operations API's /admin/*, and the sign-in forms of the dashboard, the Django admin and the browsable
API. Failed attempts are counted per user name and per client address; once either reaches the
limit, the right password is refused too until the window ends."""

import base64
import logging
import re
from collections.abc import Callable

import pytest
from django.test import Client, override_settings

from authjwt import throttles
from tests.authjwt.conftest import STAFF_PASSWORD
from tests.monitoring.conftest import recorded

pytestmark = pytest.mark.django_db

LIMIT = 3
ADDRESS = "203.0.113.7"


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _outcome(status: int) -> str:
    return {200: "ok", 401: "refused", 403: "refused", 429: "throttled"}[status]


def jwt_login(client: Client, username: str, password: str, address: str) -> str:
    response = client.post(
        "/api/auth/jwt/login",
        {"username": username, "password": password},
        content_type="application/json",
        REMOTE_ADDR=address,
    )
    if response.status_code == 429:
        assert response.json()["errorCode"] == "RATE_LIMITED"
        assert 1 <= int(response["Retry-After"]) <= 60
    return _outcome(response.status_code)


def basic_api(client: Client, username: str, password: str, address: str) -> str:
    response = client.get(
        "/api/auth/jwt/tokens",
        HTTP_AUTHORIZATION=_basic(username, password),
        REMOTE_ADDR=address,
    )
    if response.status_code == 429:
        assert response.json()["errorCode"] == "RATE_LIMITED"
        assert 1 <= int(response["Retry-After"]) <= 60
    return _outcome(response.status_code)


def basic_ops(client: Client, username: str, password: str, address: str) -> str:
    response = client.get(
        "/admin/config", HTTP_AUTHORIZATION=_basic(username, password), REMOTE_ADDR=address
    )
    if response.status_code == 429:
        assert "error" in response.json()
        assert 1 <= int(response["Retry-After"]) <= 60
    return _outcome(response.status_code)


def _form(path: str) -> Callable[[Client, str, str, str], str]:
    def sign_in(client: Client, username: str, password: str, address: str) -> str:
        response = client.post(
            path, {"username": username, "password": password}, REMOTE_ADDR=address
        )
        if response.status_code == 302:
            client.logout()
            return "ok"
        assert response.status_code == 200
        if b"Too many failed sign-in attempts" in response.content:
            return "throttled"
        return "refused"

    return sign_in


WAYS = {
    "jwt-login": jwt_login,
    "basic-api": basic_api,
    "basic-ops": basic_ops,
    "dashboard-form": _form("/dashboard/login/"),
    "django-admin-form": _form("/django-admin/login/?next=/django-admin/"),
    "browsable-api-form": _form("/api-auth/login/?next=/api/"),
}


@pytest.fixture(autouse=True)
def _operations_api_without_a_shared_token(settings):
    settings.TINY_DANCER_AUTH_TOKEN = ""


def test_every_way_signs_in_with_the_right_password(staff_user):
    for name, way in WAYS.items():
        assert way(Client(), "operator", STAFF_PASSWORD, ADDRESS) == "ok", name


@override_settings(JWT_LOGIN_ATTEMPTS_PER_MINUTE=LIMIT)
@pytest.mark.parametrize("guessed_through", list(WAYS))
def test_guesses_through_one_way_close_every_way(staff_user, guessed_through):
    guess = WAYS[guessed_through]
    outcomes = [guess(Client(), "operator", f"guess-{i}", ADDRESS) for i in range(LIMIT + 2)]
    assert outcomes == ["refused"] * LIMIT + ["throttled"] * 2
    for name, way in WAYS.items():
        assert way(Client(), "operator", STAFF_PASSWORD, ADDRESS) == "throttled", name


def test_thirty_wrong_basic_passwords_do_not_let_the_right_one_in(staff_user):
    client = Client()
    outcomes = [basic_api(client, "operator", f"guess-{i}", ADDRESS) for i in range(30)]
    assert outcomes == ["refused"] * 10 + ["throttled"] * 20
    assert basic_api(client, "operator", STAFF_PASSWORD, ADDRESS) == "throttled"


def test_right_passwords_are_not_counted(staff_user):
    # A script calling /api with Basic credentials is not throttled for its own traffic.
    client = Client()
    assert [basic_api(client, "operator", STAFF_PASSWORD, ADDRESS) for _ in range(30)] == [
        "ok"
    ] * 30
    assert basic_api(client, "operator", "wrong", ADDRESS) == "refused"


@override_settings(JWT_LOGIN_ATTEMPTS_PER_MINUTE=LIMIT)
def test_the_user_name_is_throttled_from_every_address(staff_user):
    for i in range(LIMIT):
        assert basic_api(Client(), "Operator", "guess", f"198.51.100.{i}") == "refused"
    assert jwt_login(Client(), "operator", STAFF_PASSWORD, "198.51.100.200") == "throttled"


@override_settings(JWT_LOGIN_ATTEMPTS_PER_MINUTE=LIMIT)
def test_the_address_is_throttled_for_every_user_name(staff_user, reader_user):
    for i in range(LIMIT):
        assert basic_api(Client(), f"nobody-{i}", "guess", ADDRESS) == "refused"
    assert basic_api(Client(), "reader", "reader-pass-123", ADDRESS) == "throttled"
    assert basic_api(Client(), "reader", "reader-pass-123", "198.51.100.1") == "ok"


@override_settings(JWT_LOGIN_ATTEMPTS_PER_MINUTE=LIMIT)
def test_the_throttle_lifts_when_the_window_ends(staff_user, monkeypatch):
    now = [1_000_000 * throttles.WINDOW_SECONDS + 10.0]
    monkeypatch.setattr(throttles, "clock", lambda: now[0])
    for _ in range(LIMIT):
        basic_api(Client(), "operator", "guess", ADDRESS)
    response = Client().get(
        "/api/auth/jwt/tokens",
        HTTP_AUTHORIZATION=_basic("operator", STAFF_PASSWORD),
        REMOTE_ADDR=ADDRESS,
    )
    assert response.status_code == 429
    assert response["Retry-After"] == str(throttles.WINDOW_SECONDS - 10)
    now[0] += throttles.WINDOW_SECONDS - 10
    assert basic_api(Client(), "operator", STAFF_PASSWORD, ADDRESS) == "ok"


@override_settings(JWT_LOGIN_ATTEMPTS_PER_MINUTE=LIMIT)
def test_failed_attempts_are_logged_and_counted(staff_user, caplog):
    refused = recorded("gateway_password_failures_total", result="refused")
    throttled = recorded("gateway_password_failures_total", result="throttled")
    with caplog.at_level(logging.WARNING, logger="authjwt.throttles"):
        for i in range(LIMIT + 1):
            basic_api(Client(), "operator", f"secret-guess-{i}", ADDRESS)
    assert recorded("gateway_password_failures_total", result="refused") == refused + LIMIT
    assert recorded("gateway_password_failures_total", result="throttled") == throttled + 1
    messages = [record.getMessage() for record in caplog.records]
    assert sum("operator" in m and ADDRESS in m for m in messages) == LIMIT + 1
    assert not any("secret-guess" in m for m in messages)


@override_settings(JWT_LOGIN_ATTEMPTS_PER_MINUTE=LIMIT)
def test_the_forms_say_why_they_refuse(staff_user):
    for _ in range(LIMIT):
        WAYS["dashboard-form"](Client(), "operator", "guess", ADDRESS)
    client = Client()
    response = client.post(
        "/dashboard/login/",
        {"username": "operator", "password": STAFF_PASSWORD},
        REMOTE_ADDR=ADDRESS,
    )
    text = response.content.decode()
    assert re.search(r"Too many failed sign-in attempts. Try again in \d+ seconds?\.", text)
    assert "_auth_user_id" not in client.session


@override_settings(JWT_LOGIN_ATTEMPTS_PER_MINUTE=LIMIT, GATEWAY_TRUSTED_PROXIES=["10.0.0.0/8"])
def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(staff_user, reader_user):
    for i in range(LIMIT):
        response = Client().get(
            "/api/auth/jwt/tokens",
            HTTP_AUTHORIZATION=_basic(f"nobody-{i}", "guess"),
            HTTP_X_FORWARDED_FOR=ADDRESS,
            REMOTE_ADDR="10.0.0.1",
        )
        assert response.status_code == 401
    # Another client behind the same proxy is not throttled; the guessing one is.
    other = Client().get(
        "/api/auth/jwt/tokens",
        HTTP_AUTHORIZATION=_basic("reader", "reader-pass-123"),
        HTTP_X_FORWARDED_FOR="198.51.100.9",
        REMOTE_ADDR="10.0.0.1",
    )
    assert other.status_code == 200
    guessing = Client().get(
        "/api/auth/jwt/tokens",
        HTTP_AUTHORIZATION=_basic("reader", "reader-pass-123"),
        HTTP_X_FORWARDED_FOR=ADDRESS,
        REMOTE_ADDR="10.0.0.1",
    )
    assert guessing.status_code == 429
