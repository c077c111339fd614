"""docker/compose.yml: Compose accepts it, and its services are wired as a deploy needs (migrate
once before the gateway, one beat, one image, Prometheus and Grafana fed from docker/)."""

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.compose import compose_command, compose_problem
from tests.deploy.image import final_stage
from tests.deploy.test_k8s import entrypoint_roles
from tests.processes import ROOT, project_env

pytestmark = pytest.mark.pass_independent

DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yml"
REQUIRED = {
    "DJANGO_SECRET_KEY": "s" * 60,
    "POSTGRES_PASSWORD": "pg-password",
    "ALLOWED_HOSTS": "gateway.example.com",
    "GRAFANA_ADMIN_PASSWORD": "grafana-password",
}
GATEWAY_ROLES = {"migrate": "migrate", "web": "web", "worker": "worker", "beat": "beat"}


def _config(**env: str | None) -> subprocess.CompletedProcess[str]:
    command = compose_command()
    if command is None:
        pytest.skip(compose_problem() or "")
    return subprocess.run(
        [*command, "-f", str(COMPOSE), "config"],
        env=project_env(**env),
        cwd=DOCKER,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    """The file as Compose resolves it (anchors merged, variables substituted)."""
    done = _config(**REQUIRED)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)["services"]


def test_compose_accepts_the_file(resolved):
    assert set(resolved) == {
        "postgres", "redis", "migrate", "web", "worker", "beat", "prometheus", "grafana",
    }  # fmt: skip


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_compose_refuses_to_start_without_a_required_secret(missing):
    done = _config(**{**REQUIRED, missing: None})
    assert done.returncode != 0
    assert missing in done.stderr


def _condition(service: dict[str, Any], on: str) -> str:
    depends = service["depends_on"]
    return depends[on]["condition"] if isinstance(depends, dict) else "service_started"


def test_migrations_run_once_before_the_gateways_services(resolved):
    migrate = resolved["migrate"]
    assert migrate["command"] == ["migrate"]
    assert migrate["restart"] == "no"
    assert _condition(migrate, "postgres") == "service_healthy"
    for name in ("web", "worker", "beat"):
        assert _condition(resolved[name], "migrate") == "service_completed_successfully", name


def test_every_gateway_service_runs_a_role_of_one_image(resolved):
    roles = entrypoint_roles()
    images = {resolved[name]["image"] for name in GATEWAY_ROLES}
    builds = {str(resolved[name]["build"]) for name in GATEWAY_ROLES}
    assert len(images) == 1 and len(builds) == 1
    for name, role in GATEWAY_ROLES.items():
        assert resolved[name]["command"] == [role] and role in roles
    # The web role is what the image runs by default; it must not be started twice.
    assert next(s.arguments for s in final_stage() if s.keyword == "CMD") == '["web"]'


def test_beat_is_a_single_replica(resolved):
    assert resolved["beat"].get("deploy", {}).get("replicas", 1) == 1
    assert "scale" not in resolved["beat"]


def _seconds(duration: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(ms|h|m|s)", duration))


def test_web_is_given_longer_than_its_graceful_timeout_to_stop(resolved):
    web = resolved["web"]
    graceful = float(web["environment"]["GUNICORN_GRACEFUL_TIMEOUT"])
    assert _seconds(web["stop_grace_period"]) > graceful


def test_prometheus_scrapes_the_web_service_it_can_reach(resolved):
    config = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "routerproject")
    assert job["metrics_path"] == "/metrics"
    (target,) = job["static_configs"][0]["targets"]
    host, port = target.split(":")
    assert host in resolved and host == "web"
    assert int(port) == int(resolved["web"]["ports"][0]["target"])
    # Django answers 400 to a Host it does not allow: the scrape's Host is `web`.
    assert host in resolved["web"]["environment"]["ALLOWED_HOSTS"].split(",")
    mounts = _mounts(resolved["prometheus"])
    assert mounts["/etc/prometheus"] == DOCKER / "prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in resolved["prometheus"]["command"]


def _mounts(service: dict[str, Any]) -> dict[str, Path]:
    found = {}
    for volume in service["volumes"]:
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        found[target] = (DOCKER / source).resolve() if source.startswith(".") else Path(source)
    return found


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard(resolved):
    mounts = _mounts(resolved["grafana"])
    provisioning = mounts["/etc/grafana/provisioning"]
    assert provisioning == DOCKER / "grafana" / "provisioning"
    sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus" and source["isDefault"] is True
    assert source["url"] == "http://prometheus:9090"
    assert "prometheus" in resolved and resolved["prometheus"]["ports"][0]["target"] == 9090
    providers = yaml.safe_load((provisioning / "dashboards" / "routerproject.yml").read_text())
    (provider,) = providers["providers"]
    folder = provider["options"]["path"]
    dashboards = {t: s for t, s in mounts.items() if str(Path(t).parent) == folder}
    assert dashboards == {
        f"{folder}/routerproject-dashboard.json": DOCKER
        / "grafana"
        / "routerproject-dashboard.json"
    }
