"""The gateway's metrics: recorded once per /v1 request, exported under the live settings."""

import pytest
from django.test import AsyncRequestFactory
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from monitoring import exposition, metrics
from monitoring.degradation import Level, degradation_set_level
from monitoring.live_settings import MonitoringView, refresh_view
from monitoring.settings_schema import default_content
from routerproject import generations
from routing.dataplane import pipeline
from routing.dataplane.endpoints import ENDPOINTS
from routing.live_config import install_live_config
from tests.monitoring.conftest import SEED_LINTS, promtool_problems, recorded
from tests.routing.dataplane.specs import instance, live_config, service

CHAT = ENDPOINTS["chat/completions"]


def view(**changes) -> MonitoringView:
    return MonitoringView({**default_content(), **changes})


@pytest.fixture
def chat(upstream, settings):
    settings.GATEWAY_REQUIRE_API_KEY = False
    spec = instance(base_url=upstream)
    install_live_config(live_config(service("chat", [spec])))
    yield spec
    generations.forget()


def chat_request(body: bytes, **headers: str):
    return AsyncRequestFactory().post(
        "/v1/chat/completions", body, content_type="application/json", headers=headers
    )


@pytest.mark.processes
@pytest.mark.anyio
async def test_a_request_is_recorded_once_with_status_instance_and_tokens(chat):
    labels = {"service": "chat", "model": "fake-chat", "instance": chat.instance_id}
    before = recorded("gateway_requests_total", **labels, status="200")
    tokens_in = recorded("gateway_tokens_total", service="chat", model="fake-chat", direction="in")
    durations = recorded(
        "gateway_request_duration_seconds_count", service="chat", model="fake-chat"
    )
    response = await pipeline.handle(chat_request(b'{"model": "fake-chat"}'), CHAT)
    assert response.status_code == 200
    assert recorded("gateway_requests_total", **labels, status="200") == before + 1
    assert (
        recorded("gateway_tokens_total", service="chat", model="fake-chat", direction="in")
        == tokens_in + 7
    )
    assert (
        recorded("gateway_request_duration_seconds_count", service="chat", model="fake-chat")
        == durations + 1
    )
    assert recorded("gateway_in_flight_requests", service="chat") == 0


@pytest.mark.processes
@pytest.mark.anyio
async def test_a_stream_is_recorded_when_it_ends_with_its_first_token_time(chat):
    labels = {"service": "chat", "model": "fake-chat", "instance": chat.instance_id}
    before = recorded("gateway_requests_total", **labels, status="200")
    ttft = recorded("gateway_time_to_first_token_seconds_count", service="chat", model="fake-chat")
    response = await pipeline.handle(
        chat_request(b'{"model": "fake-chat", "stream": true}', x_fake_chunks="3"), CHAT
    )
    assert recorded("gateway_in_flight_requests", service="chat") == 1
    assert recorded("gateway_requests_total", **labels, status="200") == before
    chunks = [chunk async for chunk in response]
    response.close()
    assert chunks
    assert recorded("gateway_requests_total", **labels, status="200") == before + 1
    assert (
        recorded("gateway_time_to_first_token_seconds_count", service="chat", model="fake-chat")
        == ttft + 1
    )
    assert recorded("gateway_in_flight_requests", service="chat") == 0


@pytest.mark.anyio
async def test_an_unknown_model_never_becomes_a_label_value(settings):
    settings.GATEWAY_REQUIRE_API_KEY = False
    install_live_config(live_config(service("chat", [instance()])))
    try:
        before = recorded(
            "gateway_requests_total", service="chat", model="", instance="", status="404"
        )
        response = await pipeline.handle(chat_request(b'{"model": "user-chosen-name"}'), CHAT)
    finally:
        generations.forget()
    assert response.status_code == 404
    after = recorded("gateway_requests_total", service="chat", model="", instance="", status="404")
    assert after == before + 1
    labels = [
        value for family in REGISTRY.collect() for sample in family.samples
        for value in sample.labels.values()
    ]  # fmt: skip
    assert "user-chosen-name" not in labels


class FakeExchange:
    service_type = "chat"
    model = "sampled-model"
    instance_id = "i@http://x"
    retries = 1
    fallback_model = ""
    rejected_by = ""
    prompt_tokens = 0
    completion_tokens = 0
    started = 0.0
    upstream_wait = 0.1
    first_byte = None


def test_degradation_samples_histograms_while_counters_stay_exact(monkeypatch):
    labels = {"service": "chat", "model": "sampled-model"}
    counted = recorded("gateway_requests_total", **labels, instance="i@http://x", status="200")
    observed = recorded("gateway_request_duration_seconds_count", **labels)
    for level, expected in ((Level.NORMAL, 200), (Level.MINIMAL, 20), (Level.DISABLED, 0)):
        monkeypatch.setattr(
            metrics, "current_view", lambda level=level: MonitoringView(level=level)
        )
        start = recorded("gateway_request_duration_seconds_count", **labels)
        for _ in range(200):
            metrics.observe_exchange(FakeExchange(), 200, ended=0.5)  # type: ignore[arg-type]
        seen = recorded("gateway_request_duration_seconds_count", **labels) - start
        assert abs(seen - expected) <= max(12, expected * 0.5), (level, seen)
    assert recorded("gateway_requests_total", **labels, instance="i@http://x", status="200") == (
        counted + 600
    )
    assert recorded("gateway_retries_total", service="chat") >= 600
    assert observed < recorded("gateway_request_duration_seconds_count", **labels)


@pytest.mark.django_db
def test_prefix_tags_and_categories_apply_at_render_time():
    metrics.observe_router_decision(lightweight=True, inference_seconds=0.0004)
    metrics.admin_auth_failed()
    default = exposition.render(view()).decode()
    assert "jairouter_admin_auth_failures_total" in default
    assert "tiny_dancer_requests_total" in default
    assert "gateway_" not in default

    renamed = exposition.render(
        view(prefix="acme", customTags={"environment": "prod"}, enabledCategories=["system"])
    ).decode()
    assert 'acme_admin_auth_failures_total{environment="prod"}' in renamed
    assert "jairouter_" not in renamed
    assert "tiny_dancer_" not in renamed  # the router category is off
    assert 'process_cpu_seconds_total{environment="prod"}' in renamed

    assert exposition.render(view(enabled=False)) == b""


@pytest.mark.django_db
def test_a_settings_change_applies_to_metrics_at_once(
    client, staff_client, django_capture_on_commit_callbacks
):
    client.get("/metrics")
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.put(
            "/api/monitoring/config/prefix", {"prefix": "renamed"}, format="json"
        )
    assert response.status_code == 200
    text = client.get("/metrics").content.decode()
    assert "renamed_admin_auth_failures_total" in text and "jairouter_" not in text
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.put(
            "/api/monitoring/config/categories", {"enabledCategories": ["request"]}, format="json"
        )
    text = client.get("/metrics").content.decode()
    assert "tiny_dancer_" not in text and "django_http" not in text


def test_router_figures_are_quantiles_of_the_measured_inference_times():
    for seconds in [0.0001] * 50 + [0.0009] * 50:
        metrics.observe_router_decision(lightweight=False, inference_seconds=seconds)
    figures = exposition.router_figures()
    assert figures["total_requests"] >= 100 and figures["powerful_routes"] >= 100
    assert 50 <= figures["p50_latency_us"] <= 1000
    assert figures["p50_latency_us"] <= figures["p95_latency_us"] <= figures["p99_latency_us"]
    assert exposition.bucket_quantile(0.5, [(1.0, 0.0), (2.0, 10.0), (float("inf"), 10.0)]) == 1.5
    assert exposition.bucket_quantile(0.5, [(float("inf"), 0.0)]) is None


@pytest.mark.django_db
def test_custom_tags_reach_every_family():
    text = exposition.render(view(customTags={"region": "eu"})).decode()
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert samples and all('region="eu"' in line for line in samples)


@pytest.mark.django_db
def test_promtool_reports_nothing_but_the_seed_gauges_unit_lints(client):
    metrics.observe_router_decision(lightweight=True, inference_seconds=0.0002)
    refresh_view()
    degradation_set_level(Level.PARTIAL)
    assert promtool_problems(client.get("/metrics").content) == SEED_LINTS


@pytest.mark.django_db
def test_the_seeds_microsecond_gauges_are_exported_as_documented(client):
    """The seed documents these two gauges and queries `tiny_dancer_latency_microseconds{quantile=
    "0.95"}` from Grafana: they are exported under those names, beside the base-unit series."""
    for seconds in [0.0001] * 50 + [0.0009] * 50:
        metrics.observe_router_decision(lightweight=False, inference_seconds=seconds)
    text = client.get("/metrics").content.decode()
    info = client.get("/info").json()["metrics"]
    families = {family.name: family for family in text_string_to_metric_families(text)}
    average = families["tiny_dancer_inference_time_microseconds"]
    assert average.type == "gauge" and average.documentation == "Average inference time"
    assert [s.value for s in average.samples] == [pytest.approx(info["avg_inference_time_us"])]
    latency = families["tiny_dancer_latency_microseconds"]
    assert latency.type == "gauge" and latency.documentation == "Latency percentiles"
    assert {s.labels["quantile"]: s.value for s in latency.samples} == {
        "0.5": pytest.approx(info["p50_latency_us"]),
        "0.95": pytest.approx(info["p95_latency_us"]),
        "0.99": pytest.approx(info["p99_latency_us"]),
    }
    assert 'tiny_dancer_latency_microseconds{quantile="0.95"}' in text
    assert "tiny_dancer_latency_seconds" in families  # the base-unit series stay
    assert "tiny_dancer_inference_time_seconds" in families


@pytest.mark.django_db
def test_the_grafana_dashboard_queries_exported_series(client):
    import json
    import re

    from tests.processes import ROOT

    dashboard = json.loads(
        (ROOT / "docker" / "grafana" / "routerproject-dashboard.json").read_text()
    )
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    names = {
        name.replace("${prefix}", "jairouter")
        for expr in exprs
        for name in re.findall(r"(?:tiny_dancer|\$\{prefix\})_[a-z_]+", expr)
    }
    text = client.get("/metrics").content.decode()
    declared = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    missing = {
        name for name in names
        if name not in declared and re.sub(r"_(bucket|sum|count)$", "", name) not in declared
    }  # fmt: skip
    assert not missing, missing
    for panel in ("Request Rate", "Error Rate", "Latency Percentiles (inference)",
                  "Routing Distribution", "Circuit Breaker Status", "Uptime"):  # fmt: skip
        assert any(p["title"] == panel for p in dashboard["panels"]), panel


@pytest.mark.django_db
def test_breaker_state_and_health_per_instance_are_exported_and_summarised(client, staff_client):
    from routing.resilience.shared_breakers import force_breakers
    from routing.services import instance_add

    kept = instance_add(service_type="chat", name="m", base_url="http://a:1", actor=None)
    broken = instance_add(service_type="chat", name="m", base_url="http://b:1", actor=None)
    force_breakers([broken.instance_id], open_=True)
    text = client.get("/metrics").content.decode()
    assert f'breaker_state{{instance="{broken.instance_id}",service="chat"}} 1.0' in text
    assert f'breaker_state{{instance="{kept.instance_id}",service="chat"}} 0.0' in text
    overview = staff_client.get("/api/monitoring/overview").json()["data"]
    assert overview["circuitBreakerStats"]["state"] == "OPEN"
    assert overview["circuitBreakerStats"]["openInstances"] == 1
