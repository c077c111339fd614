"""Real processes for tests: the gateway under uvicorn or gunicorn, Celery workers, upstreams."""

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def overridden(env: dict[str, str], **overrides: str | None) -> dict[str, str]:
    """A copy of `env` with overrides; an override of None removes the variable."""
    env = dict(env)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def project_env(**overrides: str | None) -> dict[str, str]:
    """The current environment plus overrides; an override of None removes the variable."""
    return overridden({"PYTHONUNBUFFERED": "1", **os.environ}, **overrides)


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# A database migrated once per test process; every embedded (SQLite) stack starts from a copy.
_template_lock = threading.Lock()
_template: Path | None = None


def _sqlite_path(env: dict[str, str]) -> Path | None:
    """The SQLite file the environment's gateway would use, or None for another database."""
    url = env.get("DATABASE_URL")
    if not url:  # unset or empty: the embedded default under ROUTER_VAR_DIR
        return Path(env["ROUTER_VAR_DIR"]) / "db.sqlite3" if "ROUTER_VAR_DIR" in env else None
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def _migrated_template() -> Path:
    global _template
    with _template_lock:
        if _template is None:
            folder = Path(tempfile.mkdtemp(prefix="migrated-"))
            atexit.register(shutil.rmtree, folder, True)
            env = project_env(
                DJANGO_SETTINGS_MODULE="routerproject.settings.embedded",
                DATABASE_URL=None,
                REDIS_URL=None,
                ROUTER_VAR_DIR=str(folder),
            )
            result = manage("migrate", "--noinput", env=env)
            assert result.returncode == 0, result.stderr[-2000:]
            _template = folder / "db.sqlite3"
        return _template


def prepare(
    env: dict[str, str], *commands: Sequence[str], script: str = "", copy_migrated: bool = True
) -> subprocess.CompletedProcess[str]:
    """Management commands, then a Python `script`, in one Django process (each start of Django
    costs seconds on a busy machine). A new SQLite database starts as a copy of one migrated once
    per test process (unless `copy_migrated` is false), so `migrate` among the commands has nothing
    left to do. Fails the test if any step fails; returns the process (its stdout holds what the
    commands and the script printed)."""
    target = _sqlite_path(env) if copy_migrated else None
    if target is not None and not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_migrated_template(), target)
    code = "from django.core.management import call_command\n" + "".join(
        f"call_command(*{list(command)!r})\n" for command in commands
    )
    result = manage("shell", "-c", code + script, env=env)
    assert result.returncode == 0, result.stderr[-2000:] + result.stdout[-2000:]
    return result


def wait_for_http(url: str, process: subprocess.Popen[bytes] | None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise RuntimeError(
                f"process exited with {process.returncode} before serving:\n{output}"
            )
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@contextmanager
def running(
    command: Sequence[str],
    *,
    env: dict[str, str],
    ready_url: str | None = None,
    log: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a process (in its own session, so its children stop with it) and stop it afterwards.
    Its output goes to the file `log`, or to an unnamed temporary file shown only if it dies before
    serving: never to a pipe, which a gateway writing an access line per request would fill and
    then block on."""
    output = open(log, "wb") if log is not None else tempfile.TemporaryFile()  # noqa: SIM115
    process = subprocess.Popen(
        list(command),
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        if ready_url:
            try:
                wait_for_http(ready_url, process)
            except RuntimeError as died:
                if log is None:
                    output.seek(0)
                    said = output.read()
                else:
                    said = Path(log).read_bytes()
                raise RuntimeError(f"{died}{said.decode(errors='replace')}") from None
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 15)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
        output.close()


def gunicorn_command(port: int, *, workers: int, production_config: bool = False) -> list[str]:
    """The gateway under gunicorn with uvicorn workers on 127.0.0.1:port. `production_config` adds
    docker/gunicorn.conf.py (metrics directory emptied at start, dead workers' gauges dropped); the
    command line's worker count and address win over it."""
    config = ["-c", str(ROOT / "docker" / "gunicorn.conf.py")] if production_config else []
    return [
        sys.executable, "-m", "gunicorn", "routerproject.asgi:application", *config,
        "-k", "uvicorn_worker.UvicornWorker", "-w", str(workers),
        "-b", f"127.0.0.1:{port}", "--backlog", "2048",
    ]  # fmt: skip


def celery_worker_command(queue: str) -> list[str]:
    """One Celery worker process consuming only `queue`, so test runs can share a Redis broker."""
    return [
        sys.executable, "-m", "celery", "-A", "routerproject", "worker", "--pool=solo",
        "--without-mingle", "--without-gossip", "--loglevel=WARNING", "-Q", queue,
    ]  # fmt: skip


@dataclass
class Upstream:
    """The simulated backend (`routing.fakeupstream`) as a process that can be killed and restarted."""

    url: str
    port: int
    env: dict[str, str]
    stack: ExitStack = field(default_factory=ExitStack)
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def on_free_port(cls, env: dict[str, str]) -> "Upstream":
        port = free_port()
        return cls(f"http://127.0.0.1:{port}", port, env)

    def start(self) -> None:
        command = [sys.executable, "-m", "routing.fakeupstream", "--port", str(self.port)]
        self.process = self.stack.enter_context(
            running(command, env=self.env, ready_url=f"{self.url}/health")
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.stack.close()
        self.stack = ExitStack()
        self.process = None

    def stats(self) -> dict:
        return httpx.get(f"{self.url}/_fake/stats", timeout=5).json()

    def reset(self) -> None:
        httpx.post(f"{self.url}/_fake/reset", timeout=5)


def worker_pids(arbiter_pid: int) -> list[int]:
    """The child processes of a gunicorn arbiter (or any process): its workers."""
    children = Path(f"/proc/{arbiter_pid}/task/{arbiter_pid}/children").read_text()
    return [int(pid) for pid in children.split()]


def bytes_read(pid: int) -> int:
    """Bytes a process has read so far (/proc/pid/io rchar): grows when a worker serves a request."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError(f"no rchar for {pid}")
