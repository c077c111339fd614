"""PostgreSQL advisory locks, so that work which must not overlap takes turns across hosts.

The one user is `manage.py migrate`: a deploy may start it more than once at the same time (a
retried Kubernetes Job, two releases overlapping, an operator by hand), and two runs applying the
same migrations, or both seeding an empty database, would fail half-way. A session-level advisory
lock is scoped to its database and released when the session ends, so a crashed run never leaves
one behind. The lock is held on a connection of its own: nothing the locked work does to the
default connection (closing it, a failed transaction) can release it early.

Other databases have no such lock; the block then runs unlocked (SQLite, the embedded default,
serves one host, and its file lock already serializes writers).
"""

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import connections

MIGRATE_LOCK = "routerproject.migrate"


def lock_key(name: str) -> int:
    """The signed 64-bit key PostgreSQL's advisory lock functions take, derived from a name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def advisory_lock(
    name: str, *, using: str = "default", on_wait: Callable[[], None] | None = None
) -> Iterator[bool]:
    """Hold the named lock on database `using` for the block; yields False when the database has
    no advisory locks. `on_wait` is called once if another session holds the lock already."""
    if connections[using].vendor != "postgresql":
        yield False
        return
    key = lock_key(name)
    holder = connections.create_connection(using)
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            if not cursor.fetchone()[0]:
                if on_wait is not None:
                    on_wait()
                cursor.execute("SELECT pg_advisory_lock(%s)", [key])
        try:
            yield True
        finally:
            with holder.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
    finally:
        holder.close()
