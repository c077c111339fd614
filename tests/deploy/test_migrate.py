"""Migrations run once per deploy: the image's `migrate` role takes a PostgreSQL advisory lock, so
two runs started together on a fresh database take turns, and `await-migrations` (the pods' init
container) waits for them."""

import subprocess
import time
from collections.abc import Iterator

import psycopg
import pytest

from routerproject.advisory_lock import MIGRATE_LOCK, lock_key
from tests.backends import fresh_postgres_database
from tests.deploy.conftest import role_env

pytestmark = [pytest.mark.processes, pytest.mark.postgres, pytest.mark.pass_independent]


@pytest.fixture
def fresh_database(postgres_server_url: str) -> Iterator[str]:
    with fresh_postgres_database(postgres_server_url, label="migrate") as url:
        yield url


def _waiting_for_the_lock(connection: psycopg.Connection) -> int:
    row = connection.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    ).fetchone()
    assert row is not None
    return int(row[0])


def _table_exists(connection: psycopg.Connection, table: str) -> bool:
    row = connection.execute("SELECT to_regclass(%s) IS NOT NULL", [table]).fetchone()
    return bool(row and row[0])


def _start(image, role: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        image.command(role),
        cwd=image.workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_migrate_runs_at_once_take_turns_and_the_pods_wait_for_them(image, fresh_database):
    env = role_env(image, "migrate", database_url=fresh_database)
    awaiting_env = role_env(
        image, "await-migrations", database_url=fresh_database, MIGRATIONS_WAIT_INTERVAL="1"
    )
    key = lock_key(MIGRATE_LOCK)
    processes: list[subprocess.Popen[str]] = []
    try:
        with psycopg.connect(fresh_database, autocommit=True) as holder:
            # Hold the lock first, so both runs are certainly started before either may migrate.
            holder.execute("SELECT pg_advisory_lock(%s)", [key])
            processes = [_start(image, "migrate", env) for _ in range(2)]
            processes.append(_start(image, "await-migrations", awaiting_env))
            deadline = time.monotonic() + 90
            while _waiting_for_the_lock(holder) < 3:
                assert all(p.poll() is None for p in processes), [
                    p.communicate() for p in processes
                ]
                assert time.monotonic() < deadline, "the runs never queued for the lock"
                time.sleep(0.1)
            assert not _table_exists(holder, "django_migrations"), "a run did not wait"
            holder.execute("SELECT pg_advisory_unlock(%s)", [key])
            outputs = [p.communicate(timeout=180) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    migrations = [out for out, _ in outputs[:2]]
    for out in migrations:
        assert "Another migrate run holds the migration lock: waiting for it." in out
    assert sum("Applying " in out for out in migrations) == 1, migrations
    assert sum("No migrations to apply." in out for out in migrations) == 1, migrations
    assert "Migrations are applied." in outputs[2][0]
    with psycopg.connect(fresh_database) as check:
        # The empty database was seeded once (configversions' post_migrate), not once per run.
        row = check.execute("SELECT count(*) FROM configversions_configversion").fetchone()
        assert row == (1,)


def test_await_migrations_gives_up_with_a_clear_message(image, fresh_database):
    env = role_env(
        image, "await-migrations", database_url=fresh_database, MIGRATIONS_WAIT_SECONDS="0"
    )
    done = image.run("await-migrations", env=env)
    assert done.returncode == 1
    assert "Migrations still not applied" in done.stderr
    assert "has the migrate role run?" in done.stderr
