"""`manage.py retrain_router`: retrain the prompt scorer now and make it live on every worker
(the same job the schedule runs, `routing.retrain_router`)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from routing.neural.model_file import ModelFileError
from routing.neural.training_data import TrainingDataError
from routing.retraining import retrain


class Command(BaseCommand):
    help = "Retrain the neural router from the shipped data, imported labels and client verdicts."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            facts = retrain()
        except (TrainingDataError, ValueError, ModelFileError) as exc:
            raise CommandError(f"{exc}; the model in service is unchanged") from None
        self.stdout.write(
            f"retrained on {facts['labelledRows']} labelled prompts and {facts['trafficRows']} "
            f"traffic verdicts; {facts['modelPath']} is live"
        )
