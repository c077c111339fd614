"""`manage.py migrate`, one run at a time per database: Django's command under an advisory lock.

Overriding the command (rather than adding another) means every way of migrating takes turns: the
deploy's `migrate` role, `make run`, an operator's shell, the test database set-up. The second run
waits, then finds nothing left to apply; seeding an empty database (configversions' post_migrate
handler) happens once. On SQLite it is Django's command unchanged.
"""

from typing import Any

from django.core.management.commands import migrate

from routerproject.advisory_lock import MIGRATE_LOCK, advisory_lock


class Command(migrate.Command):
    help = f"{migrate.Command.help} On PostgreSQL, concurrent runs take turns (an advisory lock)."

    def handle(self, *args: Any, **options: Any) -> None:
        def waiting() -> None:
            self.stdout.write("Another migrate run holds the migration lock: waiting for it.")

        with advisory_lock(MIGRATE_LOCK, using=options["database"], on_wait=waiting):
            super().handle(*args, **options)
