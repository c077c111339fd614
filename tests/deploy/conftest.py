"""The image (docker/Dockerfile replayed, see image.py) and a deployment of it: the Kubernetes web
container's environment (Secret, ConfigMap, pod IP) on a SQLite database migrated by the image's
`migrate` role, seeded through the control plane's services, in front of the simulated upstream."""

import json
import secrets
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.deploy import manifests
from tests.deploy.image import Image, build
from tests.processes import free_port, overridden, project_env, running
from tests.routing.dataplane.gateway import SEED

POD_IP = "127.0.0.1"  # where the tests reach the gateway: the Host header kubelet would send


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    return build(tmp_path_factory.mktemp("image"))


def kubernetes_env(container: dict[str, Any], *, pod_ip: str = POD_IP) -> dict[str, str]:
    """The container's environment from the example Secret and the ConfigMap."""
    secret = manifests.documents(manifests.SECRET_EXAMPLE)[0]
    config_maps = {
        doc["metadata"]["name"]: dict(doc["data"]) for doc in manifests.objects("ConfigMap")
    }
    return manifests.resolve_env(
        container,
        secrets={secret["metadata"]["name"]: manifests.secret_data(secret)},
        config_maps=config_maps,
        pod_ip=pod_ip,
    )


# role -> the Kubernetes container that runs it
CONTAINERS = {
    "web": ("Deployment", "routerproject-web", "web"),
    "await-migrations": ("Deployment", "routerproject-web", "await-migrations"),
    "worker": ("Deployment", "routerproject-worker", "worker"),
    "beat": ("Deployment", "routerproject-beat", "beat"),
    "migrate": ("Job", "routerproject-migrate", "migrate"),
}


def role_env(
    image: Image, role: str, *, database_url: str, **overrides: str | None
) -> dict[str, str]:
    """What the Kubernetes container of `role` gets, over the image's ENV, with the example
    Secret's placeholders replaced by usable values, the given database and no Redis."""
    kind, name, container = CONTAINERS[role]
    spec = manifests.container(manifests.one(kind, name), container)
    env = {**image.env, **kubernetes_env(spec)}
    usable: dict[str, str | None] = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "TINY_DANCER_AUTH_TOKEN": secrets.token_urlsafe(32),
        "DATABASE_URL": database_url,
        "REDIS_URL": None,
    }
    return overridden(env, **{**usable, **overrides})


@dataclass
class Deployment:
    image: Image
    database_url: str
    upstream: str
    api_key: str
    state_prefix: str

    def env(self, role: str, port: int | None = None, **overrides: str | None) -> dict[str, str]:
        return role_env(
            self.image,
            role,
            database_url=self.database_url,
            STATE_KEY_PREFIX=self.state_prefix,
            PORT=str(port or 8080),
            **overrides,
        )


@pytest.fixture(scope="session")
def deployment(image: Image) -> Iterator[Deployment]:
    port = free_port()
    upstream = f"http://127.0.0.1:{port}"
    fake = [sys.executable, "-m", "routing.fakeupstream", "--port", str(port)]
    with running(fake, env=project_env(), ready_url=f"{upstream}/health"):
        database = Path(image.env["ROUTER_VAR_DIR"]) / "gateway.sqlite3"
        prefix = f"test-deploy-{uuid.uuid4().hex}:"
        draft = Deployment(image, f"sqlite:///{database}", upstream, "", prefix)
        migrated = image.run("migrate", env=draft.env("migrate"))
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        plan = {
            "services": [{"name": "chat", "load_balancer": "round_robin"}],
            "instances": [{"service_type": "chat", "name": "fake-chat", "base_url": upstream}],
        }
        seeded = image.run(
            "python",
            "manage.py",
            "shell",
            "-c",
            SEED,
            env=draft.env("web", GATEWAY_SEED_PLAN=json.dumps(plan)),
        )
        assert seeded.returncode == 0, seeded.stderr[-3000:]
        draft.api_key = seeded.stdout.split("API_KEY=", 1)[1].split()[0]
        yield draft
