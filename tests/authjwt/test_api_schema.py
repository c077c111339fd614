"""The /api/auth operations document the errors they really answer (found by the schema fuzz: the
schema listed only their 200/201)."""

import uuid

import pytest
from django.test import override_settings

from tests.apischema import api_client, assert_documented, signed_in_client
from tests.authjwt.conftest import STAFF_PASSWORD

pytestmark = pytest.mark.django_db

STAFF = {"username": "operator", "password": STAFF_PASSWORD}


@pytest.fixture
def staff(staff_user):
    with signed_in_client(**STAFF) as client:
        yield client


# One failed password uses up the attempts (a body without a password is not one).
@override_settings(JWT_LOGIN_ATTEMPTS_PER_MINUTE=1)
def test_login_documents_refused_and_throttled_answers(staff_user):
    path = "/api/auth/jwt/login"
    with api_client() as client:
        answers = [
            client.post(path, json={}),
            client.post(path, json={**STAFF, "password": "wrong"}),
            client.post(path, json=STAFF),
        ]
    assert [a.status_code for a in answers] == [400, 401, 429]
    for answer in answers:
        assert_documented("POST", path, answer)


def test_refresh_documents_refused_answers(staff_user):
    path = "/api/auth/jwt/refresh"
    with api_client() as client:
        answers = [client.post(path, json={}), client.post(path, json={"refreshToken": "x.y.z"})]
    assert [a.status_code for a in answers] == [400, 401]
    for answer in answers:
        assert_documented("POST", path, answer)


def test_logout_and_validate_document_their_errors(staff):
    with api_client() as anonymous:
        unauthenticated = anonymous.post("/api/auth/jwt/logout", json={})
        invalid = anonymous.post("/api/auth/jwt/validate", json={})
    bad_flag = staff.post("/api/auth/jwt/logout", json={"allSessions": "maybe"})
    assert (unauthenticated.status_code, invalid.status_code, bad_flag.status_code) == (
        401,
        400,
        400,
    )
    assert_documented("POST", "/api/auth/jwt/logout", unauthenticated)
    assert_documented("POST", "/api/auth/jwt/logout", bad_flag)
    assert_documented("POST", "/api/auth/jwt/validate", invalid)


def test_token_operations_document_their_errors(staff):
    tokens = "/api/auth/jwt/tokens"
    unknown = str(uuid.uuid4())
    answers = [
        ("GET", tokens, staff.get(tokens, params={"status": "SOON"}), 400),
        ("GET", tokens, staff.get(tokens, params={"size": 0}), 400),
        ("GET", f"{tokens}/{{tokenId}}", staff.get(f"{tokens}/{unknown}"), 404),
        ("POST", f"{tokens}/{{tokenId}}/revoke", staff.post(f"{tokens}/{unknown}/revoke"), 404),
        ("POST", f"{tokens}/revoke-batch", staff.post(f"{tokens}/revoke-batch", json={}), 400),
        (
            "POST",
            "/api/auth/jwt/cleanup",
            staff.post("/api/auth/jwt/cleanup", json={"cleanupType": 1}),
            400,
        ),
    ]
    for method, path, answer, status in answers:
        assert answer.status_code == status, (path, answer.text)
        assert_documented(method, path, answer)


def test_revoking_a_revoked_token_documents_its_409(staff_user, reader_user):
    with api_client() as anonymous:
        reader = anonymous.post(
            "/api/auth/jwt/login", json={"username": "reader", "password": "reader-pass-123"}
        ).json()["data"]
        staff_token = anonymous.post("/api/auth/jwt/login", json=STAFF).json()["data"]["token"]
    path = f"/api/auth/jwt/tokens/{reader['tokenId']}/revoke"
    with api_client(staff_token) as staff:
        assert staff.post(path, json={}).status_code == 200
        again = staff.post(path, json={})
    assert again.status_code == 409
    assert_documented("POST", "/api/auth/jwt/tokens/{tokenId}/revoke", again)


def test_api_key_operations_document_their_errors(staff):
    keys = "/api/auth/api-keys"
    created = staff.post(keys, json={"name": "ci"}).json()["data"]["id"]
    staff.post(f"{keys}/{created}/revoke")
    unknown = str(uuid.uuid4())
    answers = [
        ("GET", keys, staff.get(keys, params={"page": -1}), 400),
        ("POST", keys, staff.post(keys, json={"name": ""}), 400),
        ("GET", f"{keys}/{{apiKeyId}}", staff.get(f"{keys}/{unknown}"), 404),
        (
            "PATCH",
            f"{keys}/{{apiKeyId}}",
            staff.patch(f"{keys}/{created}", json={"name": "x"}),
            409,
        ),
        ("POST", f"{keys}/{{apiKeyId}}/revoke", staff.post(f"{keys}/{created}/revoke"), 409),
        ("POST", f"{keys}/{{apiKeyId}}/revoke", staff.post(f"{keys}/{unknown}/revoke"), 404),
    ]
    for method, path, answer, status in answers:
        assert answer.status_code == status, (path, answer.text)
        assert_documented(method, path, answer)


def test_reader_writes_document_their_403(reader_user):
    with api_client() as anonymous:
        token = anonymous.post(
            "/api/auth/jwt/login", json={"username": "reader", "password": "reader-pass-123"}
        ).json()["data"]["token"]
    with api_client(token) as reader:
        answer = reader.post("/api/auth/api-keys", json={"name": "nope"})
    assert answer.status_code == 403
    assert_documented("POST", "/api/auth/api-keys", answer)
