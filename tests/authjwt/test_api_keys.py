"""API keys: the management endpoints and the `/v1` hot-path check."""

import uuid
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.db import OperationalError
from django.test import override_settings
from django.utils import timezone

from authjwt import keys
from authjwt.keys import ApiKeyError, authenticate_api_key, authenticate_client, extract_api_key
from authjwt.models import ApiKey
from authjwt.services import api_key_create, api_key_revoke, api_key_update
from routerproject.state import get_state

pytestmark = pytest.mark.django_db

authenticate = async_to_sync(authenticate_api_key)
authenticate_headers = async_to_sync(authenticate_client)


def _refused(raw_key: str, service_type: str = "chat") -> ApiKeyError:
    with pytest.raises(ApiKeyError) as caught:
        authenticate(raw_key, service_type=service_type)
    return caught.value


def test_create_shows_the_key_once_and_stores_only_its_digest(staff_jwt_client):
    response = staff_jwt_client.post(
        "/api/auth/api-keys",
        {"name": "ci", "allowedServiceTypes": ["chat", "embedding"], "requestsPerMinute": 60},
        format="json",
    )
    assert response.status_code == 201
    data = response.json()["data"]
    raw = data["key"]
    assert raw.startswith("sk-") and len(raw) >= 43
    assert data["keyPrefix"] == raw[:10] + "…"
    assert data["allowedServiceTypes"] == ["chat", "embedding"]
    assert data["status"] == "ACTIVE" and data["createdBy"] == "operator"
    stored = ApiKey.objects.get(pk=data["id"])
    assert stored.key_hash == keys.hash_api_key(raw) and raw not in str(stored.__dict__)

    listed = staff_jwt_client.get("/api/auth/api-keys").json()["data"]
    assert listed["totalElements"] == 1
    assert "key" not in listed["content"][0] and raw not in str(listed)
    detail = staff_jwt_client.get(f"/api/auth/api-keys/{data['id']}").json()["data"]
    assert detail["keyPrefix"] == data["keyPrefix"] and "key" not in detail


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "x", "allowedServiceTypes": ["bad type!"]},
        {"name": "x", "requestsPerMinute": 0},
    ],
)
def test_create_validates_its_input(staff_jwt_client, body):
    assert staff_jwt_client.post("/api/auth/api-keys", body, format="json").status_code == 400


def test_update_and_revoke_through_the_api(staff_jwt_client):
    created = staff_jwt_client.post("/api/auth/api-keys", {"name": "a"}, format="json").json()[
        "data"
    ]
    url = f"/api/auth/api-keys/{created['id']}"
    patched = staff_jwt_client.patch(url, {"enabled": False, "name": "b"}, format="json")
    assert patched.status_code == 200
    assert patched.json()["data"]["status"] == "DISABLED" and patched.json()["data"]["name"] == "b"
    revoked = staff_jwt_client.post(f"{url}/revoke", {}, format="json")
    assert revoked.status_code == 200 and revoked.json()["data"]["status"] == "REVOKED"
    assert staff_jwt_client.post(f"{url}/revoke", {}, format="json").status_code == 409
    assert staff_jwt_client.patch(url, {"enabled": True}, format="json").status_code == 409
    missing = f"/api/auth/api-keys/{uuid.uuid4()}"
    assert staff_jwt_client.get(missing).status_code == 404
    assert staff_jwt_client.patch(missing, {"name": "c"}, format="json").status_code == 404
    assert staff_jwt_client.post(f"{missing}/revoke", {}, format="json").status_code == 404
    assert staff_jwt_client.get("/api/auth/api-keys/not-a-uuid").status_code == 404


def test_readers_cannot_update_or_revoke_keys(reader_jwt_client, staff_user):
    api_key, _ = api_key_create(name="x", actor=staff_user)
    url = f"/api/auth/api-keys/{api_key.pk}"
    assert reader_jwt_client.patch(url, {"name": "y"}, format="json").status_code == 403
    assert reader_jwt_client.post(f"{url}/revoke", {}, format="json").status_code == 403
    assert reader_jwt_client.get(url).status_code == 200


# Hot path


def test_extract_reads_bearer_or_x_api_key():
    assert extract_api_key({"Authorization": "Bearer sk-abc"}) == "sk-abc"
    assert extract_api_key({"authorization": "bearer  sk-abc "}) == "sk-abc"
    assert extract_api_key({"X-API-Key": "sk-xyz"}) == "sk-xyz"
    assert extract_api_key({"Authorization": "Basic Zm9vOmJhcg=="}) is None
    assert extract_api_key({}) is None


def test_a_valid_key_is_served_from_the_cache_without_a_query(django_assert_num_queries):
    api_key, raw = api_key_create(name="app", allowed_service_types=["chat"])
    principal = authenticate(raw, service_type="chat")
    assert principal.key_id == str(api_key.pk) and principal.name == "app"
    with django_assert_num_queries(0):
        for _ in range(5):
            authenticate(raw, service_type="chat")


@pytest.mark.parametrize(
    "change",
    [
        lambda key: api_key_revoke(api_key_id=key.pk, actor=None),
        lambda key: api_key_update(api_key_id=key.pk, changes={"enabled": False}),
    ],
    ids=["revoked", "disabled"],
)
def test_a_revoked_or_disabled_key_is_refused_on_the_next_request(change):
    api_key, raw = api_key_create(name="app")
    authenticate(raw, service_type="chat")  # cached
    change(api_key)
    error = _refused(raw)
    assert error.status == 401 and error.error_type == "authentication_error"


def test_another_workers_change_reaches_this_cache_through_the_generation():
    api_key, raw = api_key_create(name="app")
    authenticate(raw, service_type="chat")
    # Another worker revoked it: the database changed and the shared generation moved on.
    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=timezone.now())
    assert authenticate(raw, service_type="chat")  # still cached: nothing said it changed
    get_state().set(keys.GENERATION_KEY, "from-another-worker")
    assert _refused(raw).status == 401


def test_unknown_missing_and_malformed_keys_get_openais_401():
    for raw in ["sk-" + "x" * 43, "", "not-a-key"]:
        error = _refused(raw)
        assert error.status == 401
        body = error.body()["error"]
        assert set(body) == {"message", "type", "param", "code"}
        assert body["type"] == "invalid_request_error" and body["code"] == "invalid_api_key"
        assert body["param"] is None
        assert error.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_expired_key_is_refused():
    _, raw = api_key_create(name="old", expires_at=timezone.now() + timedelta(seconds=1))
    authenticate(raw, service_type="chat")
    ApiKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    keys.invalidate_cache()
    assert _refused(raw).body()["error"]["message"] == "This API key has expired."


def test_a_key_limited_to_service_types_gets_403_elsewhere():
    _, raw = api_key_create(name="emb", allowed_service_types=["embedding"])
    assert authenticate(raw, service_type="embedding")
    error = _refused(raw, "chat")
    assert error.status == 403 and error.code == "service_type_not_allowed"


def test_client_authentication_honours_the_require_setting():
    _, raw = api_key_create(name="app")
    with override_settings(GATEWAY_REQUIRE_API_KEY=True):
        with pytest.raises(ApiKeyError):
            authenticate_headers({}, service_type="chat")
        assert authenticate_headers({"X-API-Key": raw}, service_type="chat").name == "app"
    with override_settings(GATEWAY_REQUIRE_API_KEY=False):
        assert authenticate_headers({}, service_type="chat") is None
        with pytest.raises(ApiKeyError):  # a key that is sent must still be valid
            authenticate_headers({"Authorization": "Bearer sk-wrong"}, service_type="chat")


def test_a_failing_state_falls_back_to_the_database(monkeypatch, django_assert_num_queries):
    api_key, raw = api_key_create(name="app")
    authenticate(raw, service_type="chat")
    state = get_state()

    async def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(state, "aget_many", broken)
    with django_assert_num_queries(1):
        assert authenticate(raw, service_type="chat")
    ApiKey.objects.filter(pk=api_key.pk).update(enabled=False)  # no invalidation reached anyone
    assert _refused(raw).status == 401


def test_an_expired_cache_entry_answers_while_the_database_is_unreachable(monkeypatch, settings):
    api_key, raw = api_key_create(name="app")
    _, unseen = api_key_create(name="never used")
    authenticate(raw, service_type="chat")
    settings.API_KEY_CACHE_MAX_AGE_SECONDS = 0  # every entry is due to be read again

    async def database_down(digest):
        raise OperationalError("connection refused")

    monkeypatch.setattr(keys, "_load", database_down)
    assert authenticate(raw, service_type="chat").key_id == str(api_key.pk)
    with pytest.raises(OperationalError):  # nothing to answer from: the gateway says 503
        authenticate(unseen, service_type="chat")
