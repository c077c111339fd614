"""`manage.py import_routing_data FILE.jsonl [FILE ...]`: seed a deployment with labelled prompts.

Rows are `{"id", "prompt", "weak", "strong"}` (optionally `"domain"`), as in `data/routing/`. Every
file is checked whole before anything is written: a bad line is an error naming file and line, and
the labels already stored stay as they were. Rows are keyed by `id`: importing again updates them.
The retraining job (`manage.py retrain_router`) learns from them.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from routing.models import RoutingLabel
from routing.neural.prompt_training import load_labelled
from routing.neural.training_data import TrainingDataError


class Command(BaseCommand):
    help = "Import labelled routing data (JSONL of id, prompt, weak, strong) for retraining."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", help="JSONL files of labelled prompts")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            rows = load_labelled(options["files"])
        except TrainingDataError as exc:
            raise CommandError(f"{exc}; nothing was imported") from None
        latest = {row.id: row for row in rows}
        with transaction.atomic():
            existing = set(
                RoutingLabel.objects.filter(key__in=list(latest)).values_list("key", flat=True)
            )
            for row in latest.values():
                RoutingLabel.objects.update_or_create(
                    key=row.id,
                    defaults={
                        "prompt": row.prompt,
                        "weak": row.weak or 0,
                        "strong": row.strong or 0,
                        "domain": row.domain or "",
                    },
                )
        self.stdout.write(
            f"imported {len(latest)} labelled prompts ({len(latest) - len(existing)} new, "
            f"{len(existing)} updated); {RoutingLabel.objects.count()} in all"
        )
