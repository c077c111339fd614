"""`manage.py train_router DATA.jsonl --out models/fastgrnn.safetensors [options]`.

A thin shell over `routing.neural.train_cli.main`; run `manage.py train_router --help`
for the training options.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from routing.neural.train_cli import main


class _Unterminated:
    """Django's OutputWrapper appends a newline to every write, which would break the
    carriage-return progress bar; write through it without one."""

    def __init__(self, wrapper: OutputWrapper) -> None:
        self._wrapper = wrapper

    def write(self, text: str, /) -> int:
        self._wrapper.write(text, ending="")
        return len(text)

    def flush(self) -> None:
        self._wrapper.flush()


class Command(BaseCommand):
    help = "Train the FastGRNN neural router from a JSONL dataset (see --help of train_router)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "train_args",
            nargs=argparse.REMAINDER,
            help="DATA.jsonl followed by train_router options (--out, --epochs, --lr, ...)",
        )

    def run_from_argv(self, argv: list[str]) -> None:
        # Hand the raw arguments over untouched so option order is free and --help shows
        # the trainer's own options rather than Django's.
        code = main(argv[2:], stdout=_Unterminated(self.stdout))
        if code:
            raise SystemExit(code)

    def handle(self, *args: Any, **options: Any) -> None:
        code = main(list(options["train_args"]), stdout=_Unterminated(self.stdout))
        if code:
            raise CommandError(f"train_router failed with exit code {code}")
