"""The monitoring management API (seed 002, /api/monitoring/*) in the envelope."""

import pytest

from configversions.models import ConfigVersion
from configversions.services import version_apply
from monitoring import errors, metrics
from monitoring.degradation import Level, auto_level, degradation_evaluate, memory_ratio
from monitoring.live_settings import current_view, refresh_view
from monitoring.tasks import WORKER_HEARTBEAT_KEY
from routerproject.state import get_state

pytestmark = pytest.mark.django_db

SETTINGS_PUTS = [
    ("/api/monitoring/config/enabled", {"enabled": False}, "enabled", False),
    ("/api/monitoring/config/prefix", {"prefix": "router"}, "prefix", "router"),
    (
        "/api/monitoring/config/collection-interval",
        {"collectionInterval": "PT15S"},
        "collectionInterval",
        "PT15S",
    ),
    (
        "/api/monitoring/config/categories",
        {"enabledCategories": ["system", "request"]},
        "enabledCategories",
        ["request", "system"],
    ),
    (
        "/api/monitoring/config/custom-tags",
        {"customTags": {"environment": "production", "version": "1.0.0"}},
        "customTags",
        {"environment": "production", "version": "1.0.0"},
    ),
]


def data(response):
    body = response.json()
    assert set(body) >= {"success", "message", "data", "timestamp"}, body
    return body["data"]


def test_config_has_the_seed_shape(staff_client):
    config = data(staff_client.get("/api/monitoring/config"))
    assert config == {
        "enabled": True,
        "prefix": "jairouter",
        "collectionInterval": "PT30S",
        "enabledCategories": ["request", "backend", "router", "system", "custom"],
        "customTags": {},
        "sampling": {"enabled": False, "rate": 1.0},
        "performance": {"batchSize": 100, "flushInterval": "PT10S"},
    }


@pytest.mark.parametrize(("path", "body", "field", "stored"), SETTINGS_PUTS)
def test_each_setting_is_persisted_as_a_configuration_version(
    staff_client, path, body, field, stored
):
    versions = ConfigVersion.objects.count()
    response = staff_client.put(path, body, format="json")
    assert response.status_code == 200, response.content
    assert data(response)["updatedFields"] == [field]
    assert data(staff_client.get("/api/monitoring/config"))[field] == stored
    latest = ConfigVersion.objects.order_by("-number").first()
    assert ConfigVersion.objects.count() == versions + 1
    assert latest.snapshot["monitoring"][field] == stored
    again = staff_client.put(path, body, format="json")
    assert data(again)["updatedFields"] == [] and ConfigVersion.objects.count() == versions + 1


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/monitoring/config/enabled", {"enabled": "maybe"}, "enabled"),
        ("/api/monitoring/config/prefix", {"prefix": "9bad-prefix"}, "prefix"),
        ("/api/monitoring/config/collection-interval", {"collectionInterval": "30s"}, "collectionInterval"),
        ("/api/monitoring/config/categories", {"enabledCategories": ["nope"]}, "enabledCategories"),
        ("/api/monitoring/config/custom-tags", {"customTags": {"le": "x"}}, "customTags.le"),
        ("/api/monitoring/config", {"sampling": {"rate": 2}}, "sampling.rate"),
    ],
)  # fmt: skip
def test_invalid_settings_are_refused_with_400(staff_client, path, body, field):
    versions = ConfigVersion.objects.count()
    response = staff_client.put(path, body, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["success"] is False and body["errorCode"] == "VALIDATION_ERROR"
    assert field in body["data"]["errors"]
    assert ConfigVersion.objects.count() == versions


def test_readers_may_read_but_not_change_and_anonymous_may_do_neither(reader_client, api_client):
    assert reader_client.get("/api/monitoring/config").status_code == 200
    assert (
        reader_client.put(
            "/api/monitoring/config/enabled", {"enabled": False}, format="json"
        ).status_code
        == 403
    )
    for path in ("/api/monitoring/config", "/api/monitoring/health", "/api/monitoring/overview"):
        assert api_client.get(path).status_code == 401
    assert api_client.post("/api/monitoring/cache/clear").status_code == 401


def test_rollback_restores_monitoring_settings(staff_client, staff_user):
    first = ConfigVersion.objects.order_by("-number").first().number
    staff_client.put("/api/monitoring/config/prefix", {"prefix": "other"}, format="json")
    version_apply(number=first, actor=staff_user)
    assert data(staff_client.get("/api/monitoring/config"))["prefix"] == "jairouter"


def test_snapshot_reports_what_applies_now(staff_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.put(
            "/api/monitoring/config", {"sampling": {"enabled": True, "rate": 0.5}}, format="json"
        )
    snapshot = data(staff_client.get("/api/monitoring/config/snapshot"))
    assert snapshot["config"]["sampling"] == {"enabled": True, "rate": 0.5}
    assert snapshot["version"] == ConfigVersion.objects.order_by("-number").first().number
    assert snapshot["degradationLevel"] == "NORMAL" and snapshot["effectiveSamplingRate"] == 0.5
    assert current_view().sample_rate == 0.5


def test_health_reports_components_as_they_are(staff_client):
    health = data(staff_client.get("/api/monitoring/health"))
    details = health["details"]
    assert set(details) == {
        "metricsCollector", "prometheusRegistry", "configUpdater", "database", "redis", "celery",
    }  # fmt: skip
    assert details["database"] == "UP" and details["prometheusRegistry"] == "UP"
    assert details["celery"] == "DOWN" and health["healthy"] is False
    assert health["status"] == "DOWN" and "heartbeat" in health["problems"]["celery"]
    get_state().set(WORKER_HEARTBEAT_KEY, repr(__import__("time").time()))
    health = data(staff_client.get("/api/monitoring/health"))
    assert health["details"]["celery"] == "UP"
    assert health["healthy"] is True and health["status"] == "UP"


def test_errors_are_counted_per_component_and_reset(staff_client):
    for _ in range(errors.DEGRADED_AFTER):
        errors.record_error("database", RuntimeError("connection refused"))
    errors.record_error("redis", "timeout")
    stats = data(staff_client.get("/api/monitoring/errors/stats"))
    assert stats["totalErrors"] == errors.DEGRADED_AFTER + 1
    assert stats["activeErrorComponents"] == 2 and stats["degradedComponents"] == 1
    assert stats["components"]["database"]["status"] == "DEGRADED"
    assert "connection refused" in stats["components"]["database"]["lastError"]
    response = staff_client.post(
        "/api/monitoring/errors/reset", {"component": "database"}, format="json"
    )
    assert data(response) == ["database"]
    stats = data(staff_client.get("/api/monitoring/errors/stats"))
    assert stats["totalErrors"] == 1 and stats["components"]["database"]["totalErrors"] == 0
    assert (
        staff_client.post(
            "/api/monitoring/errors/reset", {"component": "nope"}, format="json"
        ).status_code
        == 400
    )
    assert data(staff_client.post("/api/monitoring/errors/reset", {}, format="json")) == list(
        errors.COMPONENTS
    )
    assert data(staff_client.get("/api/monitoring/errors/stats"))["totalErrors"] == 0


def test_degradation_levels_and_modes(staff_client):
    status = data(staff_client.get("/api/monitoring/degradation/status"))
    assert status["level"] == "NORMAL" and status["samplingRate"] == 1.0
    assert status["levelDescription"] == "Normal Mode" and status["autoModeEnabled"] is True
    for level, rate in (("PARTIAL", 0.5), ("MINIMAL", 0.1), ("DISABLED", 0.0)):
        status = data(
            staff_client.post("/api/monitoring/degradation/level", {"level": level}, format="json")
        )
        assert status["level"] == level and status["samplingRate"] == rate
        assert status["autoModeEnabled"] is False  # a manual choice is not undone by the job
        assert refresh_view().sample_rate == rate
    assert (
        staff_client.post(
            "/api/monitoring/degradation/level", {"level": "LOW"}, format="json"
        ).status_code
        == 400
    )
    status = data(staff_client.post("/api/monitoring/degradation/force-recovery"))
    assert status["level"] == "NORMAL" and status["timeSinceLastChange"] >= 0
    status = data(
        staff_client.post("/api/monitoring/degradation/auto-mode", {"enabled": True}, format="json")
    )
    assert status["autoModeEnabled"] is True


def test_auto_mode_follows_memory_pressure_and_errors():
    assert auto_level(memory_ratio=0.5, recent_errors=0, degraded_components=0) is Level.NORMAL
    assert auto_level(memory_ratio=0.85, recent_errors=0, degraded_components=0) is Level.PARTIAL
    assert auto_level(memory_ratio=0.5, recent_errors=10, degraded_components=0) is Level.PARTIAL
    assert auto_level(memory_ratio=0.92, recent_errors=0, degraded_components=0) is Level.MINIMAL
    assert auto_level(memory_ratio=0.5, recent_errors=0, degraded_components=3) is Level.MINIMAL
    assert auto_level(memory_ratio=0.99, recent_errors=0, degraded_components=0) is Level.DISABLED
    assert 0.0 <= memory_ratio() <= 1.0
    assert degradation_evaluate(memory=0.93) is Level.MINIMAL
    assert refresh_view().level is Level.MINIMAL
    assert degradation_evaluate(memory=0.1) is Level.NORMAL


def test_cache_stats_and_clear_on_every_worker(staff_client):
    metrics.cache_lookup("apiKeys", hit=True)
    metrics.cache_lookup("apiKeys", hit=False)
    stats = data(staff_client.get("/api/monitoring/cache/stats"))
    assert set(stats["caches"]) == {"liveConfig", "apiKeys", "routingExemplars"}
    keys = stats["caches"]["apiKeys"]
    assert keys["capacity"] and keys["hits"] >= 1 and keys["misses"] >= 1
    assert 0 < keys["hitRatio"] < 1
    state = get_state()
    generations = [state.get(k) for k in ("config:generation", "router:reload-generation")]
    assert data(staff_client.post("/api/monitoring/cache/clear")) == [
        "liveConfig", "apiKeys", "routingExemplars",
    ]  # fmt: skip
    after = [state.get(k) for k in ("config:generation", "router:reload-generation")]
    assert all(a != b for a, b in zip(after, generations, strict=True))


def test_overview_aggregates_live_data(staff_client):
    errors.record_error("configUpdater", "stale")
    staff_client.post("/api/monitoring/degradation/level", {"level": "PARTIAL"}, format="json")
    overview = data(staff_client.get("/api/monitoring/overview"))
    assert overview["enabled"] is True and overview["prefix"] == "jairouter"
    assert overview["errorStats"]["totalErrors"] >= 1
    assert overview["errorStats"]["activeErrorComponents"] >= 1
    assert overview["degradationStatus"] == {
        "level": "PARTIAL", "samplingRate": 0.5, "autoModeEnabled": False,
    }  # fmt: skip
    assert set(overview["cacheStats"]) >= {"usageRatio", "activeRetries"}
    assert overview["circuitBreakerStats"]["state"] == "CLOSED"
    assert overview["circuitBreakerStats"]["failureRate"] == 0.0
    assert overview["healthy"] is False  # no Celery heartbeat in this test
