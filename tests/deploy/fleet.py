"""A scaled-out deployment on one machine: two "hosts" (separate gunicorn masters, each with its own
uvicorn workers, port and metrics directory) and a Celery worker process, all on one fresh PostgreSQL
database and one Redis key prefix, with the production settings. Simulated upstreams serve them."""

import json
import secrets
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis
from celery import Celery
from prometheus_client.mmap_dict import MmapedDict

from routerproject.state import RedisState
from routing.resilience import breaker
from routing.resilience.shared_breakers import breaker_key, health_key
from tests.backends import fresh_postgres_database
from tests.processes import (
    Upstream,
    celery_worker_command,
    free_port,
    gunicorn_command,
    project_env,
    running,
    wait_for_http,
)
from tests.routing.dataplane.gateway import seed_gateway

ADMIN = "admin"
ADMIN_PASSWORD = "scale-out-pass-" + secrets.token_hex(8)
# The load balancer in front of the hosts terminates TLS (production settings redirect plain HTTP).
BEHIND_TLS = {"x-forwarded-proto": "https"}
Plan = Callable[[str, str, str], dict]  # (upstream, failing upstream, dead url) -> seed plan


@dataclass
class Host:
    name: str
    url: str
    metrics_dir: Path
    arbiter: subprocess.Popen[bytes]

    def worker_pids(self) -> set[int]:
        pid = self.arbiter.pid
        return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}

    def scraped_requests(self) -> float:
        """The host's `/v1` request count as its `/metrics` reports it (every label summed)."""
        text = httpx.get(f"{self.url}/metrics", headers={"connection": "close"}, timeout=10).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("jairouter_requests_total{")
        )

    def recorded_requests_per_worker(self) -> dict[int, float]:
        """The same count read from each worker's own metrics file, by process id."""
        counts: dict[int, float] = {}
        for path in self.metrics_dir.glob("counter_*.db"):
            pid = int(path.stem.rsplit("_", 1)[1])
            for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path)):
                if json.loads(key)[1] == "gateway_requests_total":
                    counts[pid] = counts.get(pid, 0.0) + value
        return counts


@dataclass
class Fleet:
    hosts: tuple[Host, Host]
    upstream: Upstream  # answers normally
    failing: Upstream  # reached only through instances that ask it for a 500
    dead: str  # a URL nothing listens on
    api_key: str
    queue: str  # the Celery worker's queue
    broker: str
    state: RedisState  # the fleet's shared state, read directly

    def run_job(self, name: str, timeout: float = 30.0) -> object:
        """Send a job by name to the fleet's Celery worker, as beat would, and wait for its result."""
        # Not the current app: the tasks of later tests in this process must stay eager.
        client = Celery(
            "scale-out-test", broker=self.broker, backend=self.broker, set_as_current=False
        )
        try:
            result = client.send_task(name, queue=self.queue)
            try:
                return result.get(timeout=timeout)
            finally:
                result.forget()
        finally:
            client.close()

    def breaker(self, instance_id: str) -> breaker.Breaker:
        return breaker.decode(self.state.get(breaker_key(instance_id)))

    def health(self, instance_id: str) -> str | None:
        return self.state.get(health_key(instance_id))

    def login(self, host: Host) -> dict:
        answer = httpx.post(
            f"{host.url}/api/auth/jwt/login",
            json={"username": ADMIN, "password": ADMIN_PASSWORD},
            headers=BEHIND_TLS,
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]

    def chat(self, host: Host, model: str) -> httpx.Response:
        # A new connection per request, so the host's workers share the requests.
        return httpx.post(
            f"{host.url}/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": f"Bearer {self.api_key}", "connection": "close"},
            timeout=10,
        )


@contextmanager
def scaled_out_fleet(
    var_dir: Path, plan: Plan, *, postgres_url: str, redis_url: str, workers_per_host: int = 2
) -> Iterator[Fleet]:
    prefix = f"test-scaleout-{uuid.uuid4().hex}:"
    queue = f"test-scaleout-{uuid.uuid4().hex}"
    with ExitStack() as stack:
        database_url = stack.enter_context(fresh_postgres_database(postgres_url, label="scaleout"))
        env = project_env(
            DJANGO_SETTINGS_MODULE="routerproject.settings.production",
            # Shared: a JWT from one host is good on all.
            DJANGO_SECRET_KEY=secrets.token_urlsafe(48),
            ALLOWED_HOSTS="127.0.0.1,localhost",
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            STATE_KEY_PREFIX=prefix,
            CELERY_TASK_DEFAULT_QUEUE=queue,
            ROUTER_VAR_DIR=str(var_dir),
            DJANGO_SUPERUSER_USERNAME=ADMIN,
            DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
            LOG_LEVEL="WARNING",
            # Workers hand their traffic counts to the history job often (default: every 5 s).
            MONITORING_TRAFFIC_FLUSH_SECONDS="0.2",
            WEB_CONCURRENCY=None,
            PROMETHEUS_MULTIPROC_DIR=None,
        )
        upstream, failing = Upstream.on_free_port(env), Upstream.on_free_port(env)
        dead = f"http://127.0.0.1:{free_port()}"
        api_key = seed_gateway(env, plan(upstream.url, failing.url, dead), ["ensure_admin"])

        state = RedisState(redis_url, prefix=prefix)
        stack.callback(state.clear)
        stack.callback(_forget_queue, redis_url, queue)
        for server in (upstream, failing):
            server.start()
            stack.callback(server.stack.close)
        # Started together, waited for together: the three processes boot in parallel.
        hosts = []
        for name in ("host-1", "host-2"):
            port = free_port()
            metrics_dir = var_dir / f"metrics-{name}"
            host_env = {**env, "PORT": str(port), "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
            command = gunicorn_command(port, workers=workers_per_host, production_config=True)
            arbiter = stack.enter_context(running(command, env=host_env))
            hosts.append(Host(name, f"http://127.0.0.1:{port}", metrics_dir, arbiter))
        stack.enter_context(running(celery_worker_command(queue), env=env))
        for host in hosts:
            wait_for_http(f"{host.url}/health", host.arbiter)
        yield Fleet((hosts[0], hosts[1]), upstream, failing, dead, api_key, queue, redis_url, state)


def _forget_queue(redis_url: str, queue: str) -> None:
    """Remove the bindings Celery's Redis transport keeps for the test's queue."""
    client = redis.Redis.from_url(redis_url)
    client.delete(f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}", queue)
    client.close()


def services_pass_problem(database_engine: str, state_backend: str) -> str | None:
    """Why this test run cannot host the fleet, or None: it needs PostgreSQL and Redis, which the
    services pass of tests.backends provides (the embedded pass has SQLite and memory state)."""
    if database_engine != "django.db.backends.postgresql" or state_backend != "redis":
        return "the scale-out fleet needs PostgreSQL and Redis: it runs in the services pass"
    return None
