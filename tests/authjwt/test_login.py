"""Login, refresh (rotation), logout and validate."""

import pytest
from django.test import override_settings

from authjwt.models import IssuedToken, TokenStatus, TokenType
from authjwt.services import ROTATED_REASON, token_digest
from tests.authjwt.conftest import STAFF_PASSWORD, bearer, login

pytestmark = pytest.mark.django_db


def test_login_returns_a_bearer_pair_and_records_both_tokens(staff_user, api_client):
    data = login(
        api_client,
        "operator",
        STAFF_PASSWORD,
        HTTP_USER_AGENT="Mozilla/5.0 test",
        REMOTE_ADDR="192.168.1.100",
    )
    assert data["tokenType"] == "Bearer"
    assert data["expiresIn"] == 3600
    assert data["token"] and data["refreshToken"] and data["token"] != data["refreshToken"]
    rows = {row.token_type: row for row in IssuedToken.objects.filter(user=staff_user)}
    assert set(rows) == {TokenType.ACCESS, TokenType.REFRESH}
    access = rows[TokenType.ACCESS]
    assert str(access.pk) == data["tokenId"]
    assert access.token_hash == token_digest(data["token"])
    assert access.device_info == "Mozilla/5.0 test"
    assert access.ip_address == "192.168.1.100"
    assert access.status == TokenStatus.ACTIVE
    assert rows[TokenType.REFRESH].session_id == access.session_id
    # The token itself is never stored.
    stored = [
        str(v)
        for v in IssuedToken.objects.values_list(*[f.attname for f in IssuedToken._meta.fields])
    ]
    assert not any(data["token"] in value for value in stored)
    staff_user.refresh_from_db()
    assert staff_user.last_login is not None


@pytest.mark.parametrize(
    ("username", "password"), [("operator", "wrong-password"), ("nobody", "whatever")]
)
def test_login_refuses_bad_credentials_with_401(staff_user, api_client, username, password):
    response = api_client.post(
        "/api/auth/jwt/login", {"username": username, "password": password}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["errorCode"] == "UNAUTHORIZED"
    assert not IssuedToken.objects.exists()


def test_login_refuses_inactive_users(staff_user, api_client):
    staff_user.is_active = False
    staff_user.save()
    response = api_client.post(
        "/api/auth/jwt/login", {"username": "operator", "password": STAFF_PASSWORD}, format="json"
    )
    assert response.status_code == 401


def test_login_needs_both_fields(api_client):
    response = api_client.post("/api/auth/jwt/login", {"username": "x"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["data"]["errors"]


@override_settings(JWT_LOGIN_ATTEMPTS_PER_MINUTE=3)
def test_brute_force_logins_are_throttled_with_retry_after(staff_user, api_client):
    statuses = [
        api_client.post(
            "/api/auth/jwt/login", {"username": "operator", "password": f"guess-{i}"}, format="json"
        ).status_code
        for i in range(3)
    ]
    assert statuses == [401, 401, 401]
    response = api_client.post(
        "/api/auth/jwt/login", {"username": "operator", "password": STAFF_PASSWORD}, format="json"
    )
    assert response.status_code == 429
    assert response.json()["errorCode"] == "RATE_LIMITED"
    assert 1 <= int(response["Retry-After"]) <= 60


@override_settings(JWT_LOGIN_ATTEMPTS_PER_MINUTE=2)
def test_the_throttle_also_counts_per_user_name_across_addresses(staff_user, api_client):
    for i, address in enumerate(["10.0.0.1", "10.0.0.2"]):
        api_client.post(
            "/api/auth/jwt/login",
            {"username": "Operator", "password": f"guess-{i}"},
            format="json",
            REMOTE_ADDR=address,
        )
    response = api_client.post(
        "/api/auth/jwt/login",
        {"username": "operator", "password": "guess"},
        format="json",
        REMOTE_ADDR="10.0.0.3",
    )
    assert response.status_code == 429


def test_refresh_rotates_and_blacklists_the_old_refresh_token(staff_login, api_client):
    response = api_client.post(
        "/api/auth/jwt/refresh", {"refreshToken": staff_login["refreshToken"]}, format="json"
    )
    assert response.status_code == 200
    new = response.json()["data"]
    assert new["refreshToken"] != staff_login["refreshToken"]
    old = IssuedToken.objects.get(token_hash=token_digest(staff_login["refreshToken"]))
    assert old.status == TokenStatus.REVOKED and old.revoke_reason == ROTATED_REASON
    assert IssuedToken.objects.get(pk=new["tokenId"]).session_id == old.session_id
    assert bearer(new["token"]).get("/api/auth/jwt/tokens").status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_whole_session(staff_login, api_client):
    first = api_client.post(
        "/api/auth/jwt/refresh", {"refreshToken": staff_login["refreshToken"]}, format="json"
    ).json()["data"]
    replay = api_client.post(
        "/api/auth/jwt/refresh", {"refreshToken": staff_login["refreshToken"]}, format="json"
    )
    assert replay.status_code == 401
    assert bearer(first["token"]).get("/api/auth/jwt/tokens").status_code == 401
    assert not IssuedToken.objects.filter(status=TokenStatus.ACTIVE).exists()


@pytest.mark.parametrize("kind", ["garbage", "access"])
def test_refresh_refuses_anything_but_a_refresh_token(staff_login, api_client, kind):
    token = "not.a.jwt" if kind == "garbage" else staff_login["token"]
    response = api_client.post("/api/auth/jwt/refresh", {"refreshToken": token}, format="json")
    assert response.status_code == 401
    assert response.json()["errorCode"] == "UNAUTHORIZED"


def test_logout_revokes_the_callers_session_only(staff_user, api_client):
    first = login(api_client, "operator", STAFF_PASSWORD)
    second = login(api_client, "operator", STAFF_PASSWORD)
    response = bearer(first["token"]).post("/api/auth/jwt/logout", {}, format="json")
    assert response.status_code == 200
    assert response.json()["data"]["revokedTokens"] == 2
    assert bearer(first["token"]).get("/api/auth/jwt/tokens").status_code == 401
    refresh = api_client.post(
        "/api/auth/jwt/refresh", {"refreshToken": first["refreshToken"]}, format="json"
    )
    assert refresh.status_code == 401
    assert bearer(second["token"]).get("/api/auth/jwt/tokens").status_code == 200


def test_logout_of_all_sessions(staff_user, api_client):
    first = login(api_client, "operator", STAFF_PASSWORD)
    second = login(api_client, "operator", STAFF_PASSWORD)
    response = bearer(first["token"]).post(
        "/api/auth/jwt/logout", {"allSessions": True}, format="json"
    )
    assert response.json()["data"]["revokedTokens"] == 4
    assert bearer(second["token"]).get("/api/auth/jwt/tokens").status_code == 401


def test_logout_needs_authentication(api_client):
    response = api_client.post("/api/auth/jwt/logout", {}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_validate_says_whether_a_token_is_valid(staff_login, api_client):
    valid = api_client.post(
        "/api/auth/jwt/validate", {"token": staff_login["token"]}, format="json"
    )
    assert valid.status_code == 200
    body = valid.json()["data"]
    assert body["valid"] is True and body["status"] == "ACTIVE" and body["tokenType"] == "ACCESS"
    assert body["tokenId"] == staff_login["tokenId"]

    bearer(staff_login["token"]).post("/api/auth/jwt/logout", {}, format="json")
    revoked = api_client.post(
        "/api/auth/jwt/validate", {"token": staff_login["token"]}, format="json"
    ).json()["data"]
    assert revoked["valid"] is False and revoked["status"] == "REVOKED"

    garbage = api_client.post("/api/auth/jwt/validate", {"token": "abc"}, format="json")
    assert garbage.status_code == 200 and garbage.json()["data"]["valid"] is False
    assert api_client.post("/api/auth/jwt/validate", {}, format="json").status_code == 400


def test_a_bad_bearer_token_is_refused_with_401(api_client, db):
    response = bearer("not-a-token").get("/api/auth/jwt/tokens")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_refused_tokens_are_explained_in_plain_words(staff_login):
    # The handler used to render simplejwt's {"detail", "code", "messages"} as a Python repr.
    garbage = bearer("not-a-token").get("/api/auth/jwt/tokens").json()
    assert garbage["message"] == "Given token not valid for any token type"
    bearer(staff_login["token"]).post("/api/auth/jwt/logout", {}, format="json")
    revoked = bearer(staff_login["token"]).get("/api/auth/jwt/tokens").json()
    assert revoked["message"] == "Token has been revoked"
    assert revoked["errorCode"] == "UNAUTHORIZED" and revoked["data"] is None


@override_settings(JWT_LOGIN_ATTEMPTS_PER_MINUTE=2)
def test_logins_stay_throttled_when_the_state_fails(staff_user, api_client, monkeypatch):
    from authjwt import throttles
    from routerproject.state import MemoryState, get_state

    monkeypatch.setattr(throttles, "_local", MemoryState())

    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(get_state(), "incr", broken)
    statuses = [
        api_client.post(
            "/api/auth/jwt/login", {"username": "operator", "password": "guess"}, format="json"
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [401, 401, 429]
