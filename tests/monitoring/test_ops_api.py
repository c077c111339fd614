"""The router's operations API (seed 000): readiness, info, and /admin/* with its authentication."""

import base64
import shutil

import pytest

from configversions.models import ConfigVersion
from monitoring import metrics
from routing.live_config import get_live_config
from routing.neural_runtime import runtime
from routing.services_section import router_export
from tests.monitoring.conftest import recorded

TOKEN = "t" * 40
UNAUTHORIZED = {"error": "Missing or invalid Authorization header"}
ADMIN = [
    ("post", "/admin/reload"),
    ("get", "/admin/config"),
    ("put", "/admin/config"),
    ("get", "/admin/circuit-breaker"),
    ("post", "/admin/circuit-breaker/reset"),
]

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(settings):
    settings.TINY_DANCER_AUTH_TOKEN = TOKEN
    return {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


def copy_scorer(target):
    """The shipped prompt scorer and its exemplar bank, copied to `target` (and beside it)."""
    source = "models/fastgrnn.safetensors"
    shutil.copy(source, target)
    shutil.copy(
        source.replace(".safetensors", ".exemplars.safetensors"),
        target.with_name(target.stem + ".exemplars.safetensors"),
    )
    return target


def jwt_for(client, username: str, password: str) -> dict:
    data = client.post(
        "/api/auth/jwt/login", {"username": username, "password": password},
        content_type="application/json",
    ).json()["data"]  # fmt: skip
    return {"HTTP_AUTHORIZATION": f"Bearer {data['token']}"}


def test_readiness_is_ready_with_a_model_and_a_closed_breaker(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "ready": True,
        "circuit_breaker": "closed",
        "model_loaded": True,
        "version": "0.1.0",
        "uptime_seconds": body["uptime_seconds"],
    }


def test_readiness_is_503_when_the_breaker_is_open(client):
    router = runtime.current(get_live_config().router)
    for _ in range(router.config.circuit_breaker_threshold):
        router._record(now=__import__("time").time(), success=False)
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["ready"] is False and response.json()["circuit_breaker"] == "open"
    runtime.reset_breaker()


def test_readiness_is_503_without_a_model(
    client, staff_user, tmp_path, django_capture_on_commit_callbacks
):
    from routing.services import router_settings_update

    with django_capture_on_commit_callbacks(execute=True):
        router_settings_update(actor=staff_user, model_path=str(tmp_path / "missing.safetensors"))
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["model_loaded"] is False


def test_info_reports_config_and_measured_router_metrics(client):
    before = client.get("/info").json()["metrics"]
    metrics.observe_router_decision(lightweight=True, inference_seconds=0.0003)
    metrics.observe_router_decision(lightweight=False, inference_seconds=None, error=True)
    body = client.get("/info").json()
    assert body["api_version"] == "v1" and body["version"] == "0.1.0"
    assert body["config"] == router_export() and body["circuit_breaker_enabled"] is True
    after = body["metrics"]
    assert set(after) == {
        "total_requests", "lightweight_routes", "powerful_routes", "avg_inference_time_us",
        "p50_latency_us", "p95_latency_us", "p99_latency_us", "error_count",
        "circuit_breaker_trips",
    }  # fmt: skip
    assert after["total_requests"] == before["total_requests"] + 2
    assert after["lightweight_routes"] == before["lightweight_routes"] + 1
    assert after["error_count"] == before["error_count"] + 1
    assert after["avg_inference_time_us"] > 0


@pytest.mark.parametrize(("method", "path"), ADMIN)
def test_admin_refuses_a_missing_or_wrong_token_and_counts_it(client, token, method, path):
    before = recorded("gateway_admin_auth_failures_total")
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": TOKEN}):
        response = getattr(client, method)(path, **headers)
        assert response.status_code == 401
        assert response.json() == UNAUTHORIZED
    assert recorded("gateway_admin_auth_failures_total") == before + 3


@pytest.mark.parametrize(("method", "path"), ADMIN)
def test_without_a_token_admin_needs_a_staff_operator(
    client, settings, staff_user, reader_user, method, path
):
    settings.TINY_DANCER_AUTH_TOKEN = ""
    assert getattr(client, method)(path).status_code == 401
    reader = jwt_for(client, "reader", "reader-pass-123")
    assert getattr(client, method)(path, **reader).status_code == 401
    client.force_login(staff_user)  # a session cookie alone is not enough (CSRF-exempt views)
    assert getattr(client, method)(path).status_code == 401
    client.logout()
    staff = jwt_for(client, "operator", "operator-pass-123")
    basic = base64.b64encode(b"operator:operator-pass-123").decode()
    for headers in (staff, {"HTTP_AUTHORIZATION": f"Basic {basic}"}):
        body = {"data": "{}", "content_type": "application/json"} if method != "get" else {}
        response = getattr(client, method)(path, **body, **headers)
        assert response.status_code == 200, response.content


def test_admin_config_reads_the_reference_fields(client, token):
    body = client.get("/admin/config", **token).json()
    assert body == {
        "model_path": "./models/fastgrnn.safetensors",
        "confidence_threshold": 0.85,
        "max_uncertainty": 0.15,
        "enable_circuit_breaker": True,
        "circuit_breaker_threshold": 5,
        "enable_quantization": True,
        "target_powerful_share": 0.4,
        "database_path": None,
    }


def test_admin_config_update_is_validated_and_versioned(client, token):
    versions = ConfigVersion.objects.count()
    response = client.put(
        "/admin/config",
        {"confidence_threshold": 0.9, "max_uncertainty": 0.15, "circuit_breaker_threshold": 10},
        content_type="application/json",
        **token,
    )
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "message": "Configuration updated",
        "updated_fields": ["confidence_threshold", "circuit_breaker_threshold"],
    }
    assert ConfigVersion.objects.count() == versions + 1
    latest = ConfigVersion.objects.order_by("-number").first()
    assert latest.snapshot["router"]["confidence_threshold"] == 0.9
    assert client.get("/admin/config", **token).json()["circuit_breaker_threshold"] == 10

    for bad in ({"confidence_threshold": 7}, {"unknown": 1}, {"circuit_breaker_threshold": "x"}):
        response = client.put("/admin/config", bad, content_type="application/json", **token)
        assert response.status_code == 400, bad
        assert response.json()["success"] is False
    response = client.put("/admin/config", "[", content_type="application/json", **token)
    assert response.status_code == 400
    assert ConfigVersion.objects.count() == versions + 1


def test_admin_reload_swaps_a_good_file_and_keeps_the_model_on_a_bad_one(
    client, token, tmp_path, staff_user, django_capture_on_commit_callbacks
):
    from routing.services import router_settings_update

    good = copy_scorer(tmp_path / "good.safetensors")
    with django_capture_on_commit_callbacks(execute=True):
        router_settings_update(actor=staff_user, model_path=str(good))
    response = client.post("/admin/reload", **token)
    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "Model reloaded successfully"}
    served = runtime.current(get_live_config().router).served_model
    assert served is not None and served.path == str(good)

    good.write_bytes(b"not a safetensors file")
    assert client.post("/admin/reload", **token).status_code == 500
    copy_scorer(good)
    (tmp_path / "good.exemplars.safetensors").write_bytes(b"not a bank")
    response = client.post("/admin/reload", **token)
    assert response.status_code == 500
    body = response.json()
    assert body["success"] is False and body["message"].startswith("Failed to reload model: ")
    assert runtime.current(get_live_config().router).served_model is served
    assert client.get("/health/ready").status_code == 200


def test_admin_circuit_breaker_status_and_reset(client, token):
    router = runtime.current(get_live_config().router)
    router._record(now=__import__("time").time(), success=False)
    body = client.get("/admin/circuit-breaker", **token).json()
    assert body["enabled"] is True and body["state"] == "closed"
    assert body["failure_count"] == 1 and isinstance(body["success_count"], int)
    for _ in range(5):
        router._record(now=__import__("time").time(), success=False)
    assert client.get("/admin/circuit-breaker", **token).json()["state"] == "open"
    response = client.post("/admin/circuit-breaker/reset", **token)
    assert response.json() == {"success": True, "message": "Circuit breaker reset successfully"}
    body = client.get("/admin/circuit-breaker", **token).json()
    assert body["state"] == "closed" and body["failure_count"] == 0


def test_admin_methods_are_checked(client, token):
    assert client.get("/admin/reload", **token).status_code == 405
    assert client.delete("/admin/config", **token).status_code == 405


def test_cors_is_off_by_default_and_allows_configured_origins(client, settings, token):
    response = client.get("/info", HTTP_ORIGIN="https://dash.example.com")
    assert "Access-Control-Allow-Origin" not in response
    settings.TINY_DANCER_CORS_ORIGINS = ["https://dash.example.com"]
    response = client.get("/info", HTTP_ORIGIN="https://dash.example.com")
    assert response["Access-Control-Allow-Origin"] == "https://dash.example.com"
    assert "Access-Control-Allow-Origin" not in client.get("/info", HTTP_ORIGIN="https://evil.test")
    preflight = client.options(
        "/admin/config",
        HTTP_ORIGIN="https://dash.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="PUT",
    )
    assert preflight.status_code == 204
    assert "Authorization" in preflight["Access-Control-Allow-Headers"]


def test_liveness_and_metrics_stay_public(client, token):
    assert client.get("/health").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_the_django_admin_is_elsewhere(client):
    assert client.get("/django-admin/login/").status_code == 200


def test_the_reload_task_reports_a_bad_file_and_reloads_a_good_one(
    staff_user, tmp_path, django_capture_on_commit_callbacks
):
    from routing.services import router_settings_update
    from routing.tasks import reload_router_model

    assert reload_router_model.delay().get()["success"] is True
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"junk")
    with django_capture_on_commit_callbacks(execute=True):
        router_settings_update(actor=staff_user, model_path=str(bad))
    result = reload_router_model.delay().get()
    assert result["success"] is False and result["message"].startswith("Failed to reload model")
