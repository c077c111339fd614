"""A gateway stack for resilience tests: gunicorn workers sharing a real Redis, instances seeded
through the control plane's services, and simulated upstreams that can be killed and restarted."""

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from routerproject.state import RedisState
from routing.resilience import breaker
from routing.resilience.shared_breakers import breaker_key
from tests.processes import Upstream, free_port, gunicorn_command, project_env, running
from tests.routing.dataplane.gateway import seed_gateway

IN_FLIGHT_KEY = "lb:inflight:{}"  # routing.dataplane.selection.in_flight_key
Plan = Callable[[list[str], str], dict]  # (upstream urls, a dead url) -> seed plan


@dataclass
class Stack:
    url: str
    upstreams: list[Upstream]
    dead: str
    api_key: str
    client: httpx.Client
    state: RedisState  # the gateway's shared state, read directly
    gunicorn: subprocess.Popen[bytes]  # the arbiter (its children are the workers)

    def breaker(self, instance_id: str) -> breaker.Breaker:
        return breaker.decode(self.state.get(breaker_key(instance_id)))

    def reset_breakers(self, *instance_ids: str) -> None:
        self.state.delete(*(breaker_key(i) for i in instance_ids))

    def in_flight(self, instance_id: str) -> int:
        return self.state.lease_count(IN_FLIGHT_KEY.format(instance_id))

    def wait_settled(self, instance_ids: list[str], timeout: float = 10.0) -> None:
        """Every in-flight count back to 0 and no upstream stream left open."""
        deadline = time.monotonic() + timeout
        while True:
            counts = {i: self.in_flight(i) for i in instance_ids}
            streams = [u.stats()["open_streams"] for u in self.upstreams if u.process]
            if not any(counts.values()) and not any(streams):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"leaked: in-flight {counts}, open upstream streams {streams}")
            time.sleep(0.05)


@contextmanager
def resilience_stack(
    var_dir: Path,
    plan: Plan,
    *,
    redis_url: str,
    upstreams: int = 2,
    workers: int = 2,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    ports = [free_port() for _ in range(upstreams)]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    dead = f"http://127.0.0.1:{free_port()}"
    prefix = f"test-resilience-{uuid.uuid4().hex}:"
    env = project_env(
        DJANGO_SETTINGS_MODULE="routerproject.settings.embedded",
        DATABASE_URL=None,
        REDIS_URL=redis_url,
        ROUTER_VAR_DIR=str(var_dir),
        STATE_KEY_PREFIX=prefix,
        CELERY_TASK_DEFAULT_QUEUE=f"test-{uuid.uuid4().hex}",
        **(extra_env or {}),
    )
    api_key = seed_gateway(env, plan(urls, dead))
    state = RedisState(redis_url, prefix=prefix)
    servers = [Upstream(url, port, env) for url, port in zip(urls, ports, strict=True)]
    with ExitStack() as stack:
        for server in servers:
            server.start()
            stack.callback(lambda s=server: s.process and s.kill())
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        gunicorn = gunicorn_command(port, workers=workers)
        arbiter = stack.enter_context(running(gunicorn, env=env, ready_url=f"{url}/health"))
        client = stack.enter_context(
            httpx.Client(headers={"authorization": f"Bearer {api_key}"}, timeout=30)
        )
        stack.callback(state.clear)
        yield Stack(url, servers, dead, api_key, client, state, arbiter)
