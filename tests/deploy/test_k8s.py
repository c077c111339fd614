"""docker/k8s: the manifests parse and agree with each other, with the image and with the seed
(whether the probes answer on the running image is in test_image.py)."""

import re
import secrets
import subprocess
import sys

import pytest
import yaml

from tests.deploy import manifests
from tests.deploy.image import final_stage
from tests.processes import ROOT, project_env

pytestmark = pytest.mark.pass_independent

ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
# What every role needs from the Secret.
SECRET_ENV = {"DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "TINY_DANCER_AUTH_TOKEN"}
ROLES = {
    ("Deployment", "routerproject-web"): "web",
    ("Deployment", "routerproject-worker"): "worker",
    ("Deployment", "routerproject-beat"): "beat",
    ("Job", "routerproject-migrate"): "migrate",
}


def entrypoint_roles() -> set[str]:
    return set(re.findall(r"^  ([a-z-]+)\)$", ENTRYPOINT.read_text(), re.MULTILINE))


def all_containers():
    for workload, pod_spec in manifests.pod_templates():
        for spec in manifests.containers(pod_spec):
            yield workload, spec


def test_every_manifest_is_a_named_kubernetes_object():
    found = manifests.manifests()
    assert len(found) >= 7
    for path, docs in found.items():
        assert docs, path
        for doc in docs:
            assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"], path


def test_the_kustomization_applies_every_manifest_but_the_example_secret():
    listed = yaml.safe_load(manifests.KUSTOMIZATION.read_text())["resources"]
    expected = {path.name for path in manifests.manifests()} - {manifests.SECRET_EXAMPLE.name}
    assert sorted(listed) == sorted(expected)


def test_every_secret_and_config_map_reference_names_a_key_that_exists():
    secret = manifests.documents(manifests.SECRET_EXAMPLE)[0]
    secret_keys = set(manifests.secret_data(secret))
    config = manifests.one("ConfigMap", "routerproject-config")
    checked = 0
    for workload, spec in all_containers():
        where = f"{workload['metadata']['name']}/{spec['name']}"
        for source in spec.get("envFrom", []):
            assert source["configMapRef"]["name"] == config["metadata"]["name"], where
        for item in spec.get("env", []):
            origin = item.get("valueFrom", {})
            if "secretKeyRef" in origin:
                ref = origin["secretKeyRef"]
                assert ref["name"] == secret["metadata"]["name"], where
                assert ref["key"] in secret_keys, f"{where}: no key {ref['key']}"
                checked += 1
            if "configMapKeyRef" in origin:
                ref = origin["configMapKeyRef"]
                assert ref["name"] == config["metadata"]["name"], where
                assert ref["key"] in config["data"], f"{where}: no key {ref['key']}"
                checked += 1
        wired = {
            item["name"]
            for item in spec.get("env", [])
            if "secretKeyRef" in item.get("valueFrom", {})
        }
        assert wired >= SECRET_ENV, f"{where} lacks {SECRET_ENV - wired}"
    assert checked >= 4 * len(ROLES)


def test_one_image_everywhere():
    images = {spec["image"] for _, spec in all_containers()}
    assert len(images) == 1, images


def test_each_workload_runs_its_role_of_the_entrypoint():
    roles = entrypoint_roles()
    assert {"web", "worker", "beat", "migrate", "await-migrations"} <= roles
    for (kind, name), role in ROLES.items():
        workload = manifests.one(kind, name)
        pod_spec = workload["spec"]["template"]["spec"]
        main = pod_spec["containers"]
        assert len(main) == 1 and main[0]["args"] == [role] and "command" not in main[0]
        for init in pod_spec.get("initContainers", []):
            assert init["args"] == ["await-migrations"]
    # The pods that use the database wait for the migrate Job; the Job itself must not.
    for name in ("routerproject-web", "routerproject-worker"):
        init = manifests.one("Deployment", name)["spec"]["template"]["spec"]["initContainers"]
        assert [c["args"] for c in init] == [["await-migrations"]]
    job = manifests.one("Job", "routerproject-migrate")["spec"]["template"]["spec"]
    assert "initContainers" not in job and job["restartPolicy"] in ("Never", "OnFailure")


def test_beat_runs_exactly_one_replica_and_is_recreated():
    beat = manifests.one("Deployment", "routerproject-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}


def test_the_web_probes_and_resources_are_the_seeds():
    web = manifests.container(manifests.one("Deployment", "routerproject-web"), "web")
    ports = {port["name"]: port["containerPort"] for port in web["ports"]}
    live, ready = web["livenessProbe"], web["readinessProbe"]
    assert live["httpGet"]["path"] == "/health"
    assert (live["initialDelaySeconds"], live["periodSeconds"]) == (3, 10)
    assert ready["httpGet"]["path"] == "/health/ready"
    assert (ready["initialDelaySeconds"], ready["periodSeconds"]) == (5, 5)
    assert live["httpGet"]["port"] in ports and ready["httpGet"]["port"] in ports
    assert web["resources"] == {
        "requests": {"memory": "256Mi", "cpu": "100m"},
        "limits": {"memory": "512Mi", "cpu": "500m"},
    }
    image_port = next(s.arguments for s in final_stage() if s.keyword == "EXPOSE")
    assert set(ports.values()) == {int(image_port)}


def test_the_service_selects_the_web_pods_and_is_scraped():
    service = manifests.one("Service", "routerproject-web")
    web = manifests.one("Deployment", "routerproject-web")
    labels = web["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert web["spec"]["selector"]["matchLabels"].items() <= labels.items()
    container = manifests.container(web, "web")
    names = {port["name"] for port in container["ports"]}
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= names
    annotations = service["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"


def test_shutdown_grace_outlasts_the_drain_of_streams():
    config = manifests.one("ConfigMap", "routerproject-config")["data"]
    graceful = int(config["GUNICORN_GRACEFUL_TIMEOUT"])
    pod_spec = manifests.one("Deployment", "routerproject-web")["spec"]["template"]["spec"]
    pre_stop = pod_spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert pod_spec["terminationGracePeriodSeconds"] > int(pre_stop[1]) + graceful


def test_pods_run_as_the_images_user_with_writable_scratch_only_where_mounted():
    user = next(s.arguments for s in final_stage() if s.keyword == "USER")
    uid, gid = (int(part) for part in user.split(":"))
    env = dict(
        pair.split("=", 1)
        for s in final_stage()
        if s.keyword == "ENV"
        for pair in s.arguments.split()
    )
    for _, pod_spec in manifests.pod_templates():
        context = pod_spec["securityContext"]
        assert context["runAsNonRoot"] is True
        assert (context["runAsUser"], context["runAsGroup"]) == (uid, gid)
        for spec in manifests.containers(pod_spec):
            assert spec["securityContext"]["readOnlyRootFilesystem"] is True
            mounts = {mount["mountPath"] for mount in spec.get("volumeMounts", [])}
            assert "/tmp" in mounts, spec["name"]
    beat = manifests.container(manifests.one("Deployment", "routerproject-beat"), "beat")
    # Celery beat writes its schedule file there.
    assert env["ROUTER_VAR_DIR"] in {mount["mountPath"] for mount in beat["volumeMounts"]}


def _production_start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=project_env(DJANGO_SETTINGS_MODULE="routerproject.settings.production", **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("key", ["DJANGO_SECRET_KEY", "TINY_DANCER_AUTH_TOKEN"])
def test_the_example_secrets_placeholders_are_refused_at_start(key):
    text = manifests.SECRET_EXAMPLE.read_text()
    assert "EXAMPLE ONLY" in text
    placeholders = manifests.secret_data(manifests.documents(manifests.SECRET_EXAMPLE)[0])
    usable = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "TINY_DANCER_AUTH_TOKEN": secrets.token_urlsafe(32),
        "ALLOWED_HOSTS": "gateway.example.com",
        "DATABASE_URL": "sqlite:///:memory:",
    }
    assert _production_start(usable).returncode == 0
    refused = _production_start({**usable, key: placeholders[key]})
    assert refused.returncode != 0
    assert f"ImproperlyConfigured: {key} must" in refused.stderr
