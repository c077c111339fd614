"""`manage.py export_config [--out FILE] [--format yaml|json]`: the live configuration as a file.

The file carries instance API keys in clear, so that importing it restores a working gateway:
treat it as a secret.
"""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from configversions.baseline import write_config
from configversions.selectors import live_snapshot


class Command(BaseCommand):
    help = "Write the live configuration (a snapshot) as YAML or JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", help="File to write (default: standard output).")
        parser.add_argument("--format", choices=["yaml", "json"], default=None)

    def handle(self, *args: Any, out: str | None, format: str | None, **options: Any) -> None:
        fmt = format or ("json" if out and out.endswith(".json") else "yaml")
        text = write_config(live_snapshot(), fmt=fmt)
        if out:
            Path(out).write_text(text, encoding="utf-8")
            Path(out).chmod(0o600)
            self.stderr.write(f"Configuration written to {out}")
        else:
            self.stdout.write(text, ending="")
