"""docker/k8s read the way Kubernetes reads it: documents, pod templates, and a container's
environment resolved from the Secret, the ConfigMap and the downward API (`$(VAR)` expanded from
the variables defined before it, as kubelet does)."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.processes import ROOT

K8S = ROOT / "docker" / "k8s"
SECRET_EXAMPLE = K8S / "secret.example.yaml"
KUSTOMIZATION = K8S / "kustomization.yaml"


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def manifests() -> dict[Path, list[dict[str, Any]]]:
    """Every Kubernetes object under docker/k8s, by file (the kustomization file aside)."""
    return {path: documents(path) for path in sorted(K8S.glob("*.yaml")) if path != KUSTOMIZATION}


def objects(kind: str | None = None) -> list[dict[str, Any]]:
    found = [doc for docs in manifests().values() for doc in docs]
    return [doc for doc in found if kind is None or doc["kind"] == kind]


def one(kind: str, name: str) -> dict[str, Any]:
    matches = [doc for doc in objects(kind) if doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"{len(matches)} {kind} named {name}"
    return matches[0]


def pod_templates() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, its pod spec) for every Deployment and Job."""
    for workload in objects():
        if workload["kind"] in ("Deployment", "Job"):
            yield workload, workload["spec"]["template"]["spec"]


def containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod_spec.get("initContainers", []), *pod_spec["containers"]]


def container(workload: dict[str, Any], name: str) -> dict[str, Any]:
    pod_spec = workload["spec"]["template"]["spec"]
    return next(c for c in containers(pod_spec) if c["name"] == name)


def secret_data(secret: dict[str, Any]) -> dict[str, str]:
    assert "data" not in secret, "the example keeps readable stringData"
    return dict(secret["stringData"])


def _expand(value: str, env: dict[str, str]) -> str:
    # $(NAME) of a variable defined earlier; an unknown reference stays as written; $$ escapes.
    return re.sub(
        r"\$\$|\$\((\w+)\)",
        lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)),
        value,
    )


def resolve_env(
    spec: dict[str, Any],
    *,
    secrets: dict[str, dict[str, str]],
    config_maps: dict[str, dict[str, str]],
    pod_ip: str,
) -> dict[str, str]:
    """The environment kubelet gives the container `spec` (KeyError for a missing key)."""
    env: dict[str, str] = {}
    for source in spec.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config_maps[source["configMapRef"]["name"]])
        else:
            env.update(secrets[source["secretRef"]["name"]])
    for item in spec.get("env", []):
        if "value" in item:
            env[item["name"]] = _expand(item["value"], env)
            continue
        origin = item["valueFrom"]
        if "secretKeyRef" in origin:
            ref = origin["secretKeyRef"]
            env[item["name"]] = secrets[ref["name"]][ref["key"]]
        elif "configMapKeyRef" in origin:
            ref = origin["configMapKeyRef"]
            env[item["name"]] = config_maps[ref["name"]][ref["key"]]
        else:
            assert origin["fieldRef"]["fieldPath"] == "status.podIP", origin
            env[item["name"]] = pod_ip
    return env
