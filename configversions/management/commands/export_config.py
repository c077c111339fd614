"""`manage.py export_config [--out FILE] [--format yaml|json] [--include-secrets]`: the live
configuration as a file.

Secrets (instance API keys, secret-looking headers) are masked as everywhere else: such a file can
be shared, diffed and imported back into the same gateway, where each masked value keeps the secret
already stored. `--include-secrets` writes them in clear, for a backup that restores a gateway from
nothing; the file is then created readable by its owner only.
"""

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from configversions.baseline import write_config
from configversions.selectors import live_snapshot, masked_snapshot


class Command(BaseCommand):
    help = "Write the live configuration (a snapshot) as YAML or JSON, secrets masked."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", help="File to write (default: standard output).")
        parser.add_argument("--format", choices=["yaml", "json"], default=None)
        parser.add_argument(
            "--include-secrets",
            action="store_true",
            help="Write API keys and secret headers in clear (a full backup; keep it private).",
        )

    def handle(
        self,
        *args: Any,
        out: str | None,
        format: str | None,
        include_secrets: bool,
        **options: Any,
    ) -> None:
        fmt = format or ("json" if out and out.endswith(".json") else "yaml")
        snapshot = live_snapshot()
        text = write_config(snapshot if include_secrets else masked_snapshot(snapshot), fmt=fmt)
        if out:
            path = Path(out)
            # Created private before the first byte is written, not narrowed afterwards.
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(text)
            path.chmod(0o600)
            self.stderr.write(f"Configuration written to {out}")
        else:
            self.stdout.write(text, ending="")
