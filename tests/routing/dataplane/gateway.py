"""Real processes for the gateway's end-to-end tests: the simulated upstream, a database seeded
through the control plane's services, and the gateway under gunicorn with uvicorn workers."""

import json
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.processes import free_port, gunicorn_command, prepare, project_env, running

SEED = """
import json, os
from routing.models import ServiceType
from routing.services import instance_add, service_type_create, service_type_update
plan = json.loads(os.environ["GATEWAY_SEED_PLAN"])
for service in plan["services"]:
    exists = ServiceType.objects.filter(name=service["name"]).exists()
    (service_type_update if exists else service_type_create)(actor=None, **service)
for instance in plan["instances"]:
    instance_add(actor=None, **instance)
from authjwt.services import api_key_create
print("API_KEY=" + api_key_create(name="e2e client", **plan.get("api_key", {}))[1])
"""


def seed_gateway(env: dict[str, str], plan: dict, *commands: list[str]) -> str:
    """Migrate the database `env` points at, run the management `commands`, apply the plan through
    the control plane's services (service types created or updated, then instances) and return a
    new client API key."""
    seeded = prepare(
        {**env, "GATEWAY_SEED_PLAN": json.dumps(plan)},
        ["migrate", "--noinput"],
        *commands,
        script=SEED,
    )
    return seeded.stdout.split("API_KEY=", 1)[1].split()[0]


@dataclass
class Gateway:
    url: str  # http://127.0.0.1:port
    upstream: str
    dead_upstream: str
    api_key: str  # a valid client key, created through the auth services
    client: httpx.Client  # sends that key as `Authorization: Bearer`


def seed_plan(upstream: str, dead: str) -> dict:
    """Every service type on the simulated upstream, plus instances for the error scenarios."""
    services = [
        {"name": "chat", "load_balancer": "round_robin"},
        {"name": "embedding"},
        {"name": "rerank", "request_timeout_ms": 400},
        {"name": "tts"},
        {"name": "stt"},
        {"name": "imgGen"},
        {"name": "imgEdit", "load_balancer": "least_connections"},
    ]
    instances = [
        {
            "service_type": "chat",
            "name": "fake-chat",
            "base_url": upstream,
            "api_key": "sk-upstream",
            "headers": {"X-Org": "acme"},
        },
        {
            "service_type": "chat",
            "name": "fake-chat",
            "base_url": upstream + "/v1",
            "api_key": "sk-upstream",
            "headers": {"X-Org": "acme"},
        },
        {"service_type": "chat", "name": "llama3", "base_url": upstream, "adapter": "ollama"},
        {"service_type": "chat", "name": "dead-model", "base_url": dead},
        {"service_type": "chat", "name": "fake-moderation", "base_url": upstream},
        {"service_type": "embedding", "name": "fake-embed", "base_url": upstream},
        {"service_type": "embedding", "name": "nomic", "base_url": upstream, "adapter": "ollama"},
        {"service_type": "rerank", "name": "fake-rerank", "base_url": upstream, "adapter": "vllm"},
        {"service_type": "tts", "name": "fake-tts", "base_url": upstream, "adapter": "localai"},
        {
            "service_type": "stt",
            "name": "fake-whisper",
            "base_url": upstream,
            "adapter": "xinference",
        },
        {
            "service_type": "imgGen",
            "name": "fake-image",
            "base_url": upstream,
            "adapter": "gpustack",
        },
        {"service_type": "imgEdit", "name": "fake-image-edit", "base_url": upstream},
    ]
    return {"services": services, "instances": instances}


@contextmanager
def gateway_stack(
    var_dir: Path,
    *,
    workers: int = 2,
    settings: dict[str, str] | None = None,
    log: Path | None = None,
    production_config: bool = False,
) -> Iterator[Gateway]:
    """`settings`: environment variables for the gateway (e.g. GATEWAY_MAX_BODY_BYTES); `log`: a
    file for gunicorn's output (its workers' logs); `production_config`: gunicorn reads
    docker/gunicorn.conf.py (see `gunicorn_command`)."""
    upstream_port, gateway_port, dead_port = free_port(), free_port(), free_port()
    upstream = f"http://127.0.0.1:{upstream_port}"
    dead = f"http://127.0.0.1:{dead_port}"
    env = project_env(
        DJANGO_SETTINGS_MODULE="routerproject.settings.embedded",
        DATABASE_URL=None,
        ROUTER_VAR_DIR=str(var_dir),
        STATE_KEY_PREFIX=f"test-gateway-{uuid.uuid4().hex}:",
        **(settings or {}),
    )
    api_key = seed_gateway(env, seed_plan(upstream, dead))
    with ExitStack() as stack:
        stack.enter_context(
            running(
                [sys.executable, "-m", "routing.fakeupstream", "--port", str(upstream_port)],
                env=env,
                ready_url=f"{upstream}/health",
            )
        )
        url = f"http://127.0.0.1:{gateway_port}"
        gunicorn = gunicorn_command(
            gateway_port, workers=workers, production_config=production_config
        )
        stack.enter_context(running(gunicorn, env=env, ready_url=f"{url}/health", log=log))
        client = stack.enter_context(
            httpx.Client(headers={"authorization": f"Bearer {api_key}"}, timeout=30)
        )
        yield Gateway(
            url=url, upstream=upstream, dead_upstream=dead, api_key=api_key, client=client
        )
