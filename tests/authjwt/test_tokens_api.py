"""The seed's JWT Token Management endpoints: list, detail, revoke, revoke-batch, cleanup, stats."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from authjwt import blacklist
from authjwt.models import IssuedToken, TokenCleanup, TokenStatus
from routerproject.state import get_state
from tests.authjwt.conftest import READER_PASSWORD, STAFF_PASSWORD, bearer, login

pytestmark = pytest.mark.django_db
# A token id that no test creates; fixed, since test ids built from it must be the same in every
# process that collects them (the services pass runs on several, pytest-xdist).
UNKNOWN_TOKEN = "0b6a4c1e-7d2f-4e8a-9c3b-5f1d2e3a4b5c"

TOKEN_FIELDS = {
    "id",
    "userId",
    "tokenHash",
    "issuedAt",
    "expiresAt",
    "status",
    "deviceInfo",
    "ipAddress",
    "createdAt",
    "updatedAt",
}


def _expire(**filters) -> None:
    IssuedToken.objects.filter(**filters).update(expires_at=timezone.now() - timedelta(minutes=1))


def test_list_is_paged_in_the_seeds_shape(staff_jwt_client, staff_login):
    response = staff_jwt_client.get("/api/auth/jwt/tokens")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["message"] == "Token list retrieved successfully"
    page = body["data"]
    assert set(page) == {"content", "totalElements", "totalPages", "size", "number"}
    assert page["totalElements"] == 2 and page["size"] == 20 and page["number"] == 0
    assert set(page["content"][0]) >= TOKEN_FIELDS
    assert page["content"][0]["deviceInfo"] == "pytest-agent/1.0"


def test_list_filters_by_user_and_status(staff_jwt_client, staff_user, reader_user, api_client):
    login(api_client, "reader", READER_PASSWORD)
    reader_ids = {
        str(pk) for pk in IssuedToken.objects.filter(user=reader_user).values_list("pk", flat=True)
    }
    by_user = staff_jwt_client.get(f"/api/auth/jwt/tokens?userId={reader_user.pk}").json()["data"]
    assert {t["id"] for t in by_user["content"]} == reader_ids
    assert (
        staff_jwt_client.get("/api/auth/jwt/tokens?userId=nobody").json()["data"]["totalElements"]
        == 0
    )

    _expire(user=reader_user)
    expired = staff_jwt_client.get("/api/auth/jwt/tokens?status=EXPIRED").json()["data"]
    assert {t["id"] for t in expired["content"]} == reader_ids
    assert all(t["status"] == "EXPIRED" for t in expired["content"])
    active = staff_jwt_client.get("/api/auth/jwt/tokens?status=ACTIVE").json()["data"]
    assert active["totalElements"] == 2 and not reader_ids & {t["id"] for t in active["content"]}


def test_list_rejects_an_unknown_status_and_bad_paging(staff_jwt_client):
    assert staff_jwt_client.get("/api/auth/jwt/tokens?status=LOST").status_code == 400
    assert staff_jwt_client.get("/api/auth/jwt/tokens?size=0").status_code == 400
    assert staff_jwt_client.get("/api/auth/jwt/tokens?page=x").status_code == 400


def test_list_pages_and_keeps_a_fixed_query_count(
    staff_jwt_client, staff_user, api_client, django_assert_max_num_queries
):
    for _ in range(4):
        login(api_client, "operator", STAFF_PASSWORD)
    page = staff_jwt_client.get("/api/auth/jwt/tokens?page=1&size=4").json()["data"]
    assert page["totalElements"] == 10 and page["totalPages"] == 3 and page["number"] == 1
    assert len(page["content"]) == 4
    # authentication (user) + count + page, whatever the page size
    with django_assert_max_num_queries(4):
        staff_jwt_client.get("/api/auth/jwt/tokens?size=10")


def test_detail_has_the_revocation_fields(staff_jwt_client, staff_login):
    response = staff_jwt_client.get(f"/api/auth/jwt/tokens/{staff_login['tokenId']}")
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Token details retrieved successfully"
    data = body["data"]
    assert TOKEN_FIELDS | {"revokeReason", "revokedAt", "revokedBy"} <= set(data)
    assert data["revokeReason"] is None and data["revokedAt"] is None and data["revokedBy"] is None


@pytest.mark.parametrize("token_id", [UNKNOWN_TOKEN, "not-a-uuid"])
def test_detail_of_an_unknown_token_is_404(staff_jwt_client, token_id):
    response = staff_jwt_client.get(f"/api/auth/jwt/tokens/{token_id}")
    assert response.status_code == 404
    assert response.json()["errorCode"] == "NOT_FOUND"


def test_revoke_takes_effect_on_the_next_request(staff_jwt_client, reader_login, staff_user):
    victim = bearer(reader_login["token"])
    assert victim.get("/api/auth/jwt/tokens").status_code == 200
    response = staff_jwt_client.post(
        f"/api/auth/jwt/tokens/{reader_login['tokenId']}/revoke",
        {"reason": "Security breach detected"},
        format="json",
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["tokenId"] == reader_login["tokenId"]
    assert data["reason"] == "Security breach detected" and data["revokedAt"]
    assert victim.get("/api/auth/jwt/tokens").status_code == 401

    detail = staff_jwt_client.get(f"/api/auth/jwt/tokens/{reader_login['tokenId']}").json()["data"]
    assert detail["status"] == "REVOKED" and detail["revokedBy"] == "operator"
    # The session's refresh token went with it.
    again = victim.post(
        "/api/auth/jwt/refresh", {"refreshToken": reader_login["refreshToken"]}, format="json"
    )
    assert again.status_code == 401


def test_revoke_errors(staff_jwt_client, reader_login):
    url = f"/api/auth/jwt/tokens/{reader_login['tokenId']}/revoke"
    assert staff_jwt_client.post(url, {}, format="json").status_code == 200
    conflict = staff_jwt_client.post(url, {}, format="json")
    assert conflict.status_code == 409 and conflict.json()["errorCode"] == "CONFLICT"
    missing = staff_jwt_client.post(
        f"/api/auth/jwt/tokens/{uuid.uuid4()}/revoke", {}, format="json"
    )
    assert missing.status_code == 404


def test_revoke_batch_reports_each_token(staff_jwt_client, staff_user, api_client):
    first = login(api_client, "operator", STAFF_PASSWORD)
    second = login(api_client, "operator", STAFF_PASSWORD)
    missing = str(uuid.uuid4())
    response = staff_jwt_client.post(
        "/api/auth/jwt/tokens/revoke-batch",
        {"tokenIds": [first["tokenId"], second["tokenId"], missing, "junk"], "reason": "rotation"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Batch revocation completed"
    assert body["data"] == {
        "successCount": 2,
        "failureCount": 2,
        "revokedTokens": [first["tokenId"], second["tokenId"]],
        "failedTokens": [missing, "junk"],
    }
    assert bearer(first["token"]).get("/api/auth/jwt/tokens").status_code == 401
    assert (
        staff_jwt_client.post(
            "/api/auth/jwt/tokens/revoke-batch", {"tokenIds": []}, format="json"
        ).status_code
        == 400
    )


def test_cleanup_removes_expired_tokens_and_blacklist_entries(
    staff_jwt_client, reader_user, api_client
):
    old = login(api_client, "reader", READER_PASSWORD)
    revoked = login(api_client, "reader", READER_PASSWORD)
    staff_jwt_client.post(f"/api/auth/jwt/tokens/{revoked['tokenId']}/revoke", {}, format="json")
    _expire(user=reader_user)
    jti = IssuedToken.objects.get(pk=revoked["tokenId"]).jti

    response = staff_jwt_client.post(
        "/api/auth/jwt/cleanup", {"cleanupType": "EXPIRED_TOKENS"}, format="json"
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["cleanupType"] == "EXPIRED_TOKENS"
    assert data["expiredTokensRemoved"] == 2 and data["expiredBlacklistEntriesRemoved"] == 0
    assert data["cleanupDuration"].startswith("PT") and data["cleanupDuration"].endswith("S")
    assert not IssuedToken.objects.filter(pk=old["tokenId"]).exists()

    data = staff_jwt_client.post("/api/auth/jwt/cleanup", {}, format="json").json()["data"]
    assert data["cleanupType"] == "ALL" and data["expiredBlacklistEntriesRemoved"] == 2
    assert not IssuedToken.objects.filter(user=reader_user).exists()
    assert not blacklist.is_revoked(jti)  # removed from the set (and refused anyway: unknown)

    assert not get_state().set_contains(blacklist.REVOKED_SET_KEY, jti)
    assert TokenCleanup.objects.count() == 2


def test_cleanup_rejects_an_unknown_type(staff_jwt_client):
    response = staff_jwt_client.post(
        "/api/auth/jwt/cleanup", {"cleanupType": "SOME"}, format="json"
    )
    assert response.status_code == 400


def test_blacklist_stats_report_measured_figures(staff_jwt_client, reader_login):
    staff_jwt_client.post(
        f"/api/auth/jwt/tokens/{reader_login['tokenId']}/revoke", {}, format="json"
    )
    for _ in range(3):
        staff_jwt_client.get("/api/auth/jwt/tokens")
    staff_jwt_client.post("/api/auth/jwt/cleanup", {}, format="json")
    response = staff_jwt_client.get("/api/auth/jwt/blacklist/stats")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["blacklistSize"] == 2  # the reader's access and refresh tokens
    assert data["sharedStateEntries"] >= 2
    assert data["lastCleanup"] is not None
    assert data["nextScheduledCleanup"].endswith("02:00:00Z")
    metrics = data["performanceMetrics"]
    assert metrics["totalValidations"] >= 5
    assert 0 < metrics["cacheHitRate"] <= 1
    assert metrics["averageValidationTime"].endswith("ms")
    status = data["configurationStatus"]
    assert status["fallbackStorage"] == "database" and status["fallbackInUse"] is False
    assert status["primaryStorage"] in {"memory", "redis"}
    assert status["redisConnectionStatus"] in {"NOT_CONFIGURED", "HEALTHY"}
    assert data["memoryUsage"]["used"].endswith("MB")


# Permissions


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/auth/jwt/tokens"),
        ("get", f"/api/auth/jwt/tokens/{UNKNOWN_TOKEN}"),
        ("post", f"/api/auth/jwt/tokens/{UNKNOWN_TOKEN}/revoke"),
        ("post", "/api/auth/jwt/tokens/revoke-batch"),
        ("post", "/api/auth/jwt/cleanup"),
        ("get", "/api/auth/jwt/blacklist/stats"),
        ("get", "/api/auth/api-keys"),
        ("post", "/api/auth/api-keys"),
    ],
)
def test_management_endpoints_need_authentication(api_client, method, url):
    response = getattr(api_client, method)(url, {}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["errorCode"] == "UNAUTHORIZED"


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (f"/api/auth/jwt/tokens/{UNKNOWN_TOKEN}/revoke", {}),
        ("/api/auth/jwt/tokens/revoke-batch", {"tokenIds": [UNKNOWN_TOKEN]}),
        ("/api/auth/jwt/cleanup", {}),
        ("/api/auth/api-keys", {"name": "x"}),
    ],
)
def test_readers_cannot_change_anything(reader_jwt_client, url, body):
    response = reader_jwt_client.post(url, body, format="json")
    assert response.status_code == 403
    assert response.json()["errorCode"] == "FORBIDDEN"


@pytest.mark.parametrize(
    "url", ["/api/auth/jwt/tokens", "/api/auth/jwt/blacklist/stats", "/api/auth/api-keys"]
)
def test_readers_can_read(reader_jwt_client, url):
    assert reader_jwt_client.get(url).status_code == 200


def test_a_django_session_works_for_the_browsable_api(client, staff_user):
    client.force_login(staff_user)
    assert client.get("/api/auth/jwt/tokens", HTTP_ACCEPT="application/json").status_code == 200
    assert client.get("/api/auth/jwt/tokens", HTTP_ACCEPT="text/html").status_code == 200


def test_basic_authentication_still_works(api_client, staff_user):
    api_client.credentials(HTTP_AUTHORIZATION="Basic b3BlcmF0b3I6b3BlcmF0b3ItcGFzcy0xMjM=")
    assert api_client.get("/api/auth/jwt/tokens").status_code == 200


def test_staff_session_clients_can_revoke(staff_client, reader_login):
    url = f"/api/auth/jwt/tokens/{reader_login['tokenId']}/revoke"
    assert staff_client.post(url, {}, format="json").status_code == 200
    assert IssuedToken.objects.get(pk=reader_login["tokenId"]).status == TokenStatus.REVOKED


def test_blacklist_stats_say_when_redis_is_unreachable(staff_jwt_client, reader_login, monkeypatch):
    from authjwt import selectors
    from routerproject.state import RedisState

    unreachable = RedisState("redis://127.0.0.1:1/0", socket_timeout=0.2)
    monkeypatch.setattr(selectors, "get_state", lambda: unreachable)
    monkeypatch.setattr(blacklist, "get_state", lambda: unreachable)
    staff_jwt_client.post(
        f"/api/auth/jwt/tokens/{reader_login['tokenId']}/revoke", {}, format="json"
    )
    assert bearer(reader_login["token"]).get("/api/auth/jwt/tokens").status_code == 401
    data = staff_jwt_client.get("/api/auth/jwt/blacklist/stats").json()["data"]
    status = data["configurationStatus"]
    assert status["primaryStorage"] == "redis"
    assert status["redisConnectionStatus"] == "UNREACHABLE"
    assert status["fallbackInUse"] is True and status["lastFallbackSecondsAgo"] is not None
    assert data["blacklistSize"] == 2 and data["sharedStateEntries"] is None
    assert data["performanceMetrics"]["cacheHitRate"] < 1
