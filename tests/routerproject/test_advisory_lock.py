"""The advisory lock `migrate` takes: held for the block on PostgreSQL, waited for when another
session holds it, released after; no lock (and no error) on SQLite."""

import threading

import pytest
from django.db import connection, connections

from routerproject.advisory_lock import advisory_lock, lock_key

pytestmark = pytest.mark.django_db


def _try_lock(key: int) -> bool:
    """Whether another session could take the lock now (and let it go again)."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            taken = cursor.fetchone()[0]
            if taken:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            return bool(taken)
    finally:
        other.close()


def test_the_key_is_a_stable_signed_64_bit_number():
    key = lock_key("routerproject.migrate")
    assert key == lock_key("routerproject.migrate") != lock_key("something else")
    assert -(2**63) <= key < 2**63


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the SQLite behaviour")
def test_sqlite_runs_the_block_without_a_lock():
    with advisory_lock("test-lock") as locked:
        assert locked is False


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL advisory locks")
def test_the_lock_is_held_for_the_block_and_released_after():
    key = lock_key("test-lock-held")
    with advisory_lock("test-lock-held") as locked:
        assert locked is True
        assert not _try_lock(key)
    assert _try_lock(key)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL advisory locks")
def test_a_second_holder_waits_until_the_first_lets_go():
    entered, release = threading.Event(), threading.Event()
    waited: list[bool] = []

    def first() -> None:
        with advisory_lock("test-lock-turns"):
            entered.set()
            release.wait(10)
        connections.close_all()

    thread = threading.Thread(target=first)
    thread.start()
    assert entered.wait(10)
    # on_wait runs before blocking: the first holder is let go from there, so getting the lock
    # means it waited for the first to let go.
    with advisory_lock(
        "test-lock-turns", on_wait=lambda: (waited.append(True), release.set())
    ) as locked:
        assert locked and waited == [True]
    thread.join(10)
    assert not thread.is_alive()
