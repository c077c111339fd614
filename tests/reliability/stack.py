"""The gateway as deployed, for fault tests: gunicorn with uvicorn workers on a database and a Redis
the test chooses (so it can break them), the simulated upstream, an administrator and an API key."""

import json
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.processes import (
    free_port,
    gunicorn_command,
    prepare,
    project_env,
    running,
    worker_pids,
)
from tests.routing.dataplane.gateway import SEED

PASSWORD = "fault-test-pass-123"
CHAT = {"model": "fake-chat", "messages": [{"role": "user", "content": "Say hello."}]}


@dataclass
class Gateway:
    url: str
    upstream: str
    api_key: str
    env: dict[str, str]
    arbiter: subprocess.Popen[bytes]

    def workers(self) -> list[int]:
        return worker_pids(self.arbiter.pid)

    def login(self) -> dict:
        """A new login session of the administrator: {token, tokenId, …}."""
        with httpx.Client(base_url=self.url, timeout=10) as client:
            answer = client.post(
                "/api/auth/jwt/login", json={"username": "admin", "password": PASSWORD}
            )
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]

    def api(self, method: str, path: str, token: str | None, **kwargs: Any) -> httpx.Response:
        """One /api call on a new connection (so that calls spread over the workers)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with httpx.Client(base_url=self.url, timeout=15) as client:
            return client.request(method, path, headers=headers, **kwargs)

    def chat(
        self,
        *,
        model: str = "fake-chat",
        stream: bool = False,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            return client.post(
                "/v1/chat/completions",
                json={**CHAT, "model": model, "stream": stream},
                headers={"Authorization": f"Bearer {self.api_key}", **(headers or {})},
            )


@contextmanager
def gateway(
    tmp: Path,
    *,
    database_url: str,
    redis_url: str,
    plan: Callable[[str], dict],
    workers: int = 2,
    **env_overrides: str,
) -> Iterator[Gateway]:
    """`plan(upstream url)` is the seed plan (see tests/routing/dataplane/gateway.py)."""
    upstream_port, port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{upstream_port}"
    settings = {
        "DJANGO_SETTINGS_MODULE": "routerproject.settings.embedded",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ROUTER_VAR_DIR": str(tmp),
        "STATE_KEY_PREFIX": f"test-faults-{uuid.uuid4().hex}:",
        "CELERY_TASK_DEFAULT_QUEUE": f"test-faults-{uuid.uuid4().hex}",
        "DJANGO_SUPERUSER_USERNAME": "admin",
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
    }
    env = project_env(**{**settings, **env_overrides})
    # The dashboard's pages need their static files collected, as a deployment does.
    seeded = prepare(
        {**env, "GATEWAY_SEED_PLAN": json.dumps(plan(upstream))},
        ["migrate", "--noinput"],
        ["collectstatic", "--noinput", "--verbosity", "0"],
        ["ensure_admin"],
        script=SEED,
    )
    api_key = seeded.stdout.split("API_KEY=", 1)[1].split()[0]
    gunicorn = [*gunicorn_command(port, workers=workers), "--graceful-timeout", "5"]
    url = f"http://127.0.0.1:{port}"
    with ExitStack() as stack:
        fake = [sys.executable, "-m", "routing.fakeupstream", "--port", str(upstream_port)]
        stack.enter_context(
            running(fake, env=env, ready_url=f"{upstream}/health", log=tmp / "upstream.log")
        )
        arbiter = stack.enter_context(
            running(gunicorn, env=env, ready_url=f"{url}/health", log=tmp / "gateway.log")
        )
        yield Gateway(url, upstream, api_key, env, arbiter)


@dataclass
class Traffic:
    """Chat completions, plain and streamed alternately, from a few threads on new connections,
    until stopped; each answer recorded as (phase, status, seconds)."""

    gateway: Gateway
    threads: int = 4
    phase: str = "before"
    answers: list[tuple[str, int | str, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> "Traffic":
        for index in range(self.threads):
            thread = threading.Thread(target=self._run, args=(index,), daemon=True)
            thread.start()
            self._workers.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._workers:
            thread.join(timeout=60)

    def _run(self, index: int) -> None:
        stream = bool(index % 2)
        while not self._stop.is_set():
            phase, started = self.phase, time.monotonic()
            try:
                answer = self.gateway.chat(stream=stream)
                ok = answer.status_code != 200 or (
                    b"[DONE]" in answer.content if stream else b"choices" in answer.content
                )
                status: int | str = answer.status_code if ok else "truncated"
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            self.answers.append((phase, status, time.monotonic() - started))

    def statuses(self, phase: str) -> Counter[int | str]:
        return Counter(status for p, status, _ in self.answers if p == phase)

    def slowest(self, phase: str) -> float:
        return max((seconds for p, _, seconds in self.answers if p == phase), default=0.0)

    def wait_for(self, phase: str, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while sum(self.statuses(phase).values()) < count:
            assert time.monotonic() < deadline, f"only {self.statuses(phase)} in {phase}"
            time.sleep(0.05)
