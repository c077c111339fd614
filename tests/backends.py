"""Runs the suite once per backend set: always on SQLite + memory state, then again on PostgreSQL and
Redis when they answer. Prints which backends each pass used and exits non-zero if any pass failed.

    python -m tests.backends [pytest args...]
"""

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from xml.etree import ElementTree

DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test"
# The variable that tells a pass which other pass runs its `pass_independent` tests (tests/conftest.py).
RAN_IN_VARIABLE = "TEST_PASS_INDEPENDENT_RAN_IN"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def postgres_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL)


def postgres_problem(url: str | None = None) -> str | None:
    """None when PostgreSQL answers at the URL, else why not."""
    import psycopg

    try:
        with psycopg.connect(url or postgres_url(), connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as exc:
        return f"PostgreSQL unreachable at {url or postgres_url()}: {str(exc).strip()[:160]}"
    return None


@contextmanager
def fresh_postgres_database(server_url: str, *, label: str, template: str = "") -> Iterator[str]:
    """A new database on the server of `server_url` (named after DJANGO_TEST_DB_NAME and `label`, so
    parallel checkouts never collide), empty or a copy of the database `template`, dropped
    afterwards; yields its URL."""
    import psycopg
    from psycopg import sql

    base = os.environ.get("DJANGO_TEST_DB_NAME", "test_routerproject")
    name = f"{base}_{label}_{uuid.uuid4().hex[:8]}".lower()
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        create = sql.SQL("{} TEMPLATE {}").format(create, sql.Identifier(template))
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(create)
        try:
            yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
        finally:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            admin.execute(drop.format(sql.Identifier(name)))


def redis_problem(url: str | None = None) -> str | None:
    """None when Redis answers at the URL, else why not."""
    import redis

    try:
        redis.Redis.from_url(url or redis_url(), socket_connect_timeout=3).ping()
    except Exception as exc:
        return f"Redis unreachable at {url or redis_url()}: {str(exc).strip()[:160]}"
    return None


@dataclass
class PassResult:
    name: str
    exit_code: int
    counts: Counter[str]


# Pytest's exit code when nothing was selected: a split-off part of a pass with nothing of the
# chosen tests in it (`make test PYTEST_ARGS=tests/routing`).
NO_TESTS_SELECTED = 5


@dataclass
class Pass:
    name: str
    env: dict[str, str]
    args: list[str]  # before the caller's pytest arguments
    may_select_nothing: bool = False


def plan_passes(services: dict[str, str], argv: list[str]) -> list[Pass]:
    """The embedded pass, and the services pass when PostgreSQL or Redis answers. With both, they run
    at once and the services pass, the longer, is shared out: its `pass_independent` tests run only
    in the embedded pass (the same processes on the same backends either way) and, with PostgreSQL,
    the schema fuzz (`-m fuzz`, one process: its cases share one node id) beside the rest."""
    if not services:
        return [Pass("embedded", {}, [])]
    # The embedded pass's direct Redis tests use a database of their own.
    embedded = Pass("embedded", {"TEST_REDIS_URL": other_redis_database(redis_url())}, [])
    shared = {**services, RAN_IN_VARIABLE: "embedded"}
    if "DATABASE_URL" not in services or _selects_markers(argv):
        return [embedded, Pass("services", shared, [])]
    test_db = (
        os.environ.get("DJANGO_TEST_DB_NAME") or f"test_{urlsplit(postgres_url()).path.strip('/')}"
    )
    fuzz = {**shared, "DJANGO_TEST_DB_NAME": f"{test_db}_fuzz"}
    return [
        embedded,
        Pass("services", shared, ["-m", "not fuzz"]),
        Pass("services-fuzz", fuzz, ["-m", "fuzz"], may_select_nothing=True),
    ]


def _selects_markers(argv: list[str]) -> bool:
    return any(arg == "-m" or arg.startswith("-m") for arg in argv)


def run_pass(
    name: str, env_overrides: dict[str, str], pytest_args: list[str], scratch: Path
) -> subprocess.Popen[bytes]:
    """Start one pass of the suite; its output goes to `scratch`/`name`.log, its JUnit report
    beside it."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(env_overrides)
    report = scratch / f"{name}.xml"
    command = [sys.executable, "-m", "pytest", f"--junit-xml={report}", *pytest_args]
    with (scratch / f"{name}.log").open("wb") as log:
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def pass_banner(name: str, env_overrides: dict[str, str]) -> str:
    database = env_overrides.get("DATABASE_URL", "sqlite")
    state = "redis" if "REDIS_URL" in env_overrides else "memory"
    return f"\n=== test pass '{name}': database={database.split(':')[0]} state={state}"


def other_redis_database(url: str) -> str:
    """The same Redis server, another database number: the embedded pass's Redis tests and the
    services pass's shared state never meet when the two passes run at once."""
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(number - 1) % 16}"))


def _counts(report: Path) -> Counter[str]:
    """passed/failed/skipped from pytest's JUnit report (failed includes errors)."""
    counts: Counter[str] = Counter()
    if not report.exists():
        return counts
    # Our own pytest just wrote this file.
    for suite in ElementTree.parse(report).getroot().iter("testsuite"):  # noqa: S314
        total, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
        failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        counts.update(passed=total - skipped - failed, failed=failed, skipped=skipped)
    return counts


def main(argv: list[str]) -> int:
    from tests.dashboard.browser import chromium_path, chromium_problem
    from tests.deploy.compose import compose_command, compose_problem

    pg_problem, rd_problem = postgres_problem(), redis_problem()
    browser_problem = chromium_problem()
    services: dict[str, str] = {}
    if pg_problem is None:
        services["DATABASE_URL"] = postgres_url()
    if rd_problem is None:
        services["REDIS_URL"] = redis_url()
    passes = plan_passes(services, argv)
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        started = [
            (each, run_pass(each.name, each.env, [*each.args, *argv], Path(scratch)))
            for each in passes
        ]
        for each, process in started:
            code = process.wait()
            if code == NO_TESTS_SELECTED and each.may_select_nothing:
                code = 0
            print(pass_banner(each.name, each.env), flush=True)
            sys.stdout.write((Path(scratch) / f"{each.name}.log").read_text(errors="replace"))
            sys.stdout.flush()
            results.append(PassResult(each.name, code, _counts(Path(scratch) / f"{each.name}.xml")))

    print("\n=== backends exercised")
    print("  embedded pass: SQLite + in-memory state")
    print(
        f"  PostgreSQL: {'ran (services pass)' if pg_problem is None else 'SKIPPED - ' + pg_problem}"
    )
    print(f"  Redis: {'ran (services pass)' if rd_problem is None else 'SKIPPED - ' + rd_problem}")
    print(
        "  Chromium (dashboard browser tests): "
        + (
            f"ran with {chromium_path()}"
            if browser_problem is None
            else "SKIPPED - " + browser_problem
        )
    )
    promtool = shutil.which("promtool")
    print(
        "  promtool (Prometheus exposition check): "
        + (
            f"ran with {promtool}"
            if promtool
            else "SKIPPED - not installed (apt-get install prometheus)"
        )
    )
    compose = compose_command()
    print(
        "  Compose (docker/compose.yml validation): "
        + (f"ran with {' '.join(compose)}" if compose else "SKIPPED - " + (compose_problem() or ""))
    )
    total: Counter[str] = Counter()
    for result in results:
        verdict = "passed" if result.exit_code == 0 else f"FAILED (exit {result.exit_code})"
        print(f"  pass {result.name}: {verdict}")
        total.update(result.counts)
    print(f"total: {total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped")
    return 0 if all(result.exit_code == 0 for result in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
