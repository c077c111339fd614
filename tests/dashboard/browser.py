"""A real dashboard in a real browser: the gateway served by `manage.py serve` over HTTP, driven by
Debian's Chromium through Playwright (never a downloaded browser)."""

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.processes import ROOT, free_port, prepare, project_env, running

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
ADMIN_PASSWORD = "dashboard-admin-pass-123"
SCREENSHOTS = ROOT / "docs" / "screenshots"


def chromium_path() -> str | None:
    return shutil.which("chromium")


def chromium_problem() -> str | None:
    """None when the browser tests can run, else why not (said plainly in the test summary)."""
    if chromium_path() is None:
        return (
            "browser tests need Debian's chromium: `apt-get install -y chromium` "
            "(.ci/run installs it)"
        )
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "browser tests need the playwright package: `make install` (dev extras)"
    return None


@dataclass
class Gateway:
    base: str
    username: str = "admin"
    password: str = ADMIN_PASSWORD
    env: dict[str, str] = field(default_factory=dict)


@contextmanager
def serve_gateway(var_dir: Path, *, worker: bool = False, **overrides: str) -> Iterator[Gateway]:
    """The embedded default (SQLite in `var_dir`, in-memory state) with its first administrator;
    `worker` runs the in-process Celery worker and beat (keep such a server short-lived: its output
    goes to a pipe nobody reads)."""
    port = free_port()
    env = project_env(
        DJANGO_SETTINGS_MODULE="routerproject.settings.embedded",
        DATABASE_URL=None,
        REDIS_URL=None,
        ROUTER_VAR_DIR=str(var_dir),
        DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
        GATEWAY_REQUIRE_API_KEY="true",
        **overrides,
    )
    prepare(
        env,
        ["migrate", "--noinput"],
        ["collectstatic", "--noinput", "--verbosity", "0"],
        ["ensure_admin"],
    )
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "manage.py", "serve", "--port", str(port)]
    if not worker:
        command.insert(3, "--no-worker")
    with running(command, env=env, ready_url=f"{base}/health"):
        yield Gateway(base=base, env=env)
