"""The monitoring page: settings through the versioned service, errors on their fields, the
degradation controls, error resets and the cache clear (with a confirmation)."""

import pytest
from django.test import Client

from configversions.selectors import current_version_number, version_list
from monitoring.degradation import degradation_set_auto, degradation_status
from monitoring.errors import component_stats, record_error
from monitoring.selectors import monitoring_settings
from routerproject.state import GENERATION_KEY, get_state

pytestmark = pytest.mark.django_db

SETTINGS = {
    "enabled": "on",
    "metric_prefix": "jairouter",
    "collection_interval": "PT30S",
    "enabled_categories": ["request", "backend", "router", "system", "custom"],
    "custom_tags": "",
    "sampling_enabled": "",
    "sampling_rate": "1.0",
    "batch_size": "100",
    "flush_interval": "PT10S",
}


def _save(client: Client, **changes):
    data = {k: v for k, v in {**SETTINGS, **changes}.items() if v != ""}
    return client.post("/dashboard/monitoring/settings/", data)


def test_a_reader_sees_the_settings_and_status_but_no_controls(reader_browser):
    page = reader_browser.get("/dashboard/monitoring/").content.decode()
    assert 'name="metric_prefix" value="jairouter"' in page
    assert '<fieldset class="fields" disabled>' in page
    assert "NORMAL" in page and "metricsCollector" in page and "liveConfig" in page
    for control in ("Set level", "Force recovery", "Clear caches", "Reset every component"):
        assert control not in page


def test_a_reader_cannot_change_anything(reader_browser):
    before = current_version_number()
    assert _save(reader_browser, metric_prefix="gw").status_code == 403
    for path in (
        "/dashboard/monitoring/degradation/level/",
        "/dashboard/monitoring/degradation/recover/",
        "/dashboard/monitoring/errors/reset/",
        "/dashboard/monitoring/cache/clear/",
    ):
        assert reader_browser.post(path, {"level": "MINIMAL"}).status_code == 403
    assert monitoring_settings()["prefix"] == "jairouter"
    assert current_version_number() == before
    assert degradation_status()["level"] == "NORMAL"


def test_saving_goes_through_the_service_and_makes_a_version(staff_browser):
    before = current_version_number()
    response = _save(
        staff_browser,
        metric_prefix="gateway",
        custom_tags='{"env": "prod"}',
        sampling_enabled="on",
        sampling_rate="0.5",
        enabled_categories=["request", "router"],
        batch_size="250",
    )
    assert response.status_code == 302
    stored = monitoring_settings()
    assert stored["prefix"] == "gateway" and stored["customTags"] == {"env": "prod"}
    assert stored["sampling"] == {"enabled": True, "rate": 0.5}
    assert stored["enabledCategories"] == ["request", "router"]
    assert stored["performance"] == {"batchSize": 250, "flushInterval": "PT10S"}
    assert current_version_number() == before + 1
    assert version_list().last().operation == "update monitoring settings"
    page = staff_browser.get("/dashboard/monitoring/").content.decode()
    assert "Monitoring settings saved" in page and 'value="gateway"' in page
    assert (
        _save(
            staff_browser,
            metric_prefix="gateway",
            custom_tags='{"env": "prod"}',
            sampling_enabled="on",
            sampling_rate="0.5",
            enabled_categories=["request", "router"],
            batch_size="250",
        ).status_code
        == 302
    )
    assert current_version_number() == before + 1  # nothing changed, no version


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"metric_prefix": "9bad"}, "metric_prefix", "Must be a Prometheus name"),
        ({"metric_prefix": "tiny_dancer"}, "metric_prefix", "This prefix is reserved."),
        ({"collection_interval": "30s"}, "collection_interval", "positive ISO-8601 duration"),
        ({"sampling_rate": "1.5"}, "sampling_rate", "Must be a number between 0 and 1."),
        ({"batch_size": "0"}, "batch_size", "Must be an integer between 1 and 100000."),
        ({"flush_interval": "PT0S"}, "flush_interval", "positive ISO-8601 duration"),
        ({"custom_tags": '{"instance": "x"}'}, "custom_tags", "instance: This label is used"),
        ({"custom_tags": "{oops"}, "custom_tags", "Not valid JSON"),
    ],
)
def test_the_services_errors_show_on_their_fields(staff_browser, changes, field, message):
    before = current_version_number()
    response = _save(staff_browser, **changes)
    assert response.status_code == 200
    form = response.context["form"]
    assert any(message in error for error in form.errors[field]), form.errors
    assert f'id="id_{field}_error"' in response.content.decode()
    assert current_version_number() == before
    assert monitoring_settings()["prefix"] == "jairouter"


def test_the_degradation_controls_use_the_services(staff_browser):
    degradation_set_auto(enabled=True)
    staff_browser.post("/dashboard/monitoring/degradation/level/", {"level": "MINIMAL"})
    status = degradation_status()
    assert status["level"] == "MINIMAL" and status["autoModeEnabled"] is False
    page = staff_browser.get("/dashboard/monitoring/").content.decode()
    assert "Degradation level set to MINIMAL" in page and "10%" in page
    staff_browser.post("/dashboard/monitoring/degradation/auto/", {"enabled": "on"})
    assert degradation_status()["autoModeEnabled"] is True
    staff_browser.post("/dashboard/monitoring/degradation/recover/")
    assert degradation_status()["level"] == "NORMAL"
    staff_browser.post("/dashboard/monitoring/degradation/auto/", {})
    assert degradation_status()["autoModeEnabled"] is False
    staff_browser.post("/dashboard/monitoring/degradation/level/", {"level": "BOGUS"})
    assert degradation_status()["level"] == "NORMAL"


def test_errors_reset_per_component(staff_browser):
    record_error("redis", "connection refused")
    record_error("database", "locked")
    page = staff_browser.get("/dashboard/monitoring/").content.decode()
    assert "connection refused" in page
    staff_browser.post("/dashboard/monitoring/errors/reset/", {"component": "redis"})
    assert component_stats("redis")["totalErrors"] == 0
    assert component_stats("database")["totalErrors"] == 1
    staff_browser.post("/dashboard/monitoring/errors/reset/", {})
    assert component_stats("database")["totalErrors"] == 0


def test_clearing_the_caches_asks_first_then_uses_the_service(staff_browser):
    generation = int(get_state().get(GENERATION_KEY) or 0)
    confirm = staff_browser.get("/dashboard/monitoring/cache/clear/")
    assert confirm.status_code == 200 and b"Clear caches" in confirm.content
    assert int(get_state().get(GENERATION_KEY) or 0) == generation
    response = staff_browser.post("/dashboard/monitoring/cache/clear/", follow=True)
    assert b"Caches cleared on every worker" in response.content
    assert int(get_state().get(GENERATION_KEY) or 0) > generation


def test_the_forms_need_the_csrf_token(staff_user, seeded):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    assert _save(client, metric_prefix="gw").status_code == 403
    assert client.post("/dashboard/monitoring/cache/clear/").status_code == 403
    assert monitoring_settings()["prefix"] == "jairouter"
