"""The image's contents run: its own copy of the code, collected static files, the HEALTHCHECK, the
Kubernetes probes with kubelet's Host header, and alert rules that only name exported series."""

import json
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy import manifests
from tests.deploy.promql import uses
from tests.processes import ROOT, free_port, running

pytestmark = [pytest.mark.processes, pytest.mark.pass_independent]

ALERTS = ROOT / "docker" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "docker" / "grafana" / "routerproject-dashboard.json"
# Series Prometheus makes itself for every target; the gateway cannot export them.
SCRAPE_SERIES = {"up": {"job", "instance"}}


@pytest.fixture(scope="module")
def web(image, deployment):
    port = free_port()
    env = deployment.env("web", port)
    url = f"http://127.0.0.1:{port}"
    with running(image.command("web"), env=env, ready_url=f"{url}/health"):
        yield url, env


def test_the_image_runs_its_own_copy_of_the_code(image):
    where = image.run("python", "-c", "import routerproject, routing; print(routing.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(image.workdir)
    assert image.user.split(":")[0] != "0" and image.user != "root"


def test_the_healthcheck_passes_while_the_gateway_serves_and_fails_without_it(image, web):
    _, env = web
    healthy = subprocess.run(image.healthcheck, env=env, capture_output=True, timeout=30)
    assert healthy.returncode == 0, healthy.stderr
    nobody = {**env, "PORT": str(free_port())}
    down = subprocess.run(image.healthcheck, env=nobody, capture_output=True, text=True, timeout=30)
    assert down.returncode == 1
    assert "/health" in down.stderr


def test_kubernetes_probes_answer_200_with_the_pod_ip_as_host(web):
    url, env = web
    spec = manifests.container(manifests.one("Deployment", "routerproject-web"), "web")
    assert env["ALLOWED_HOSTS"].split(",")[-1] == "127.0.0.1"  # $(POD_IP), resolved
    for probe in ("livenessProbe", "readinessProbe"):
        path = spec[probe]["httpGet"]["path"]
        response = httpx.get(url + path, headers={"Host": f"127.0.0.1:{env['PORT']}"})
        assert response.status_code == 200, (path, response.text)
    # Without the pod IP among ALLOWED_HOSTS, every probe would get this:
    refused = httpx.get(url + "/health", headers={"Host": "10.1.2.3:8080"})
    assert refused.status_code == 400


def test_static_files_collected_at_build_time_are_served(image, web):
    url, env = web
    static_root = Path(env["STATIC_ROOT"])
    names = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    hashed = names["dashboard/dashboard.css"]
    response = httpx.get(f"{url}/static/{hashed}", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    assert response.content == (static_root / hashed).read_bytes()


# The sample names a family of each type exposes.
_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
}


@pytest.fixture(scope="module")
def exported(web, deployment) -> dict[str, set[str] | None]:
    """Series of the real exposition, after a plain and a streamed /v1 request: their label names,
    or None for a declared family nothing has been recorded in yet (no samples to show labels)."""
    url, _ = web
    headers = {"Authorization": f"Bearer {deployment.api_key}"}
    body = {"model": "fake-chat", "messages": [{"role": "user", "content": "hi"}]}
    for stream in (False, True):
        answer = httpx.post(
            f"{url}/v1/chat/completions", json={**body, "stream": stream}, headers=headers
        )
        assert answer.status_code == 200, answer.text
    text = httpx.get(f"{url}/metrics").text
    series: dict[str, set[str] | None] = {}
    for family in text_string_to_metric_families(text):
        for suffix in _SUFFIXES.get(family.type, ("",)):
            series.setdefault(family.name + suffix, None)
        for sample in family.samples:
            series[sample.name] = (series.get(sample.name) or set()) | set(sample.labels)
    return series


def test_alert_rules_only_name_series_the_gateway_exports(exported):
    exported = {**exported, **SCRAPE_SERIES}
    rules = [
        rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]
    ]
    assert len(rules) >= 5
    named: set[str] = set()
    for rule in rules:
        used = uses(rule["expr"])
        assert used.series, rule["alert"]
        for name, labels in used.series.items():
            assert name in exported, f"{rule['alert']}: {name} is not exported"
            known = exported[name]
            assert known is not None, f"{rule['alert']}: nothing recorded in {name} to check"
            assert labels <= known, f"{rule['alert']}: {name} has no {labels}"
        available = set().union(*(exported[name] or set() for name in used.series))
        assert used.grouping <= available, f"{rule['alert']}: groups by {used.grouping}"
        named |= set(used.series)
    # The required subjects: error rate, p99 from the request-duration histogram, breakers.
    assert "jairouter_requests_total" in named
    assert "jairouter_request_duration_seconds_bucket" in named
    assert "jairouter_instance_breaker_state" in named
    assert "tiny_dancer_circuit_breaker_trips_total" in named


def _declared() -> set[str]:
    """Series monitoring.metrics declares, under the default prefix: labelled families appear in
    the exposition only once something was recorded in them (a retry, a fallback...)."""
    from prometheus_client.metrics import MetricWrapperBase

    from monitoring import metrics

    names = set()
    for metric in vars(metrics).values():
        if isinstance(metric, MetricWrapperBase):
            name = metric._name.replace(metrics.INTERNAL_PREFIX, "jairouter_", 1)
            names |= {name + suffix for suffix in _SUFFIXES[metric._type]}
    return names


def test_the_grafana_dashboard_only_queries_series_the_gateway_exports(exported):
    known = set(exported) | _declared()
    dashboard = json.loads(DASHBOARD.read_text())
    prefix = next(v for v in dashboard["templating"]["list"] if v["name"] == "prefix")
    queries = [
        target["expr"].replace("${prefix}", prefix["query"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]
    assert queries
    for query in queries:
        for name in uses(query).series:
            assert name in known, f"{query}: {name} is not exported"
