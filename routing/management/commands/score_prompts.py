"""`manage.py score_prompts FILE.jsonl [--out FILE]`: the router's verdict on each prompt.

Reads lines `{"id", "prompt"}` and writes one line per prompt `{"id", "score", "tier"}`: `score` in
[0, 1] is the router's estimate that the powerful tier is needed and `tier` what the gateway would
decide at the current settings. It runs the gateway's own router (`routing.neural_runtime`) on the
live configuration's model file, so it agrees with `/v1`, and needs no server. Exploration is not
applied: it is a coin the gateway tosses per request, not a verdict on the prompt.
"""

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from routing.live_config import get_live_config
from routing.neural.training_data import TrainingDataError, json_object
from routing.neural_runtime import runtime
from routing.service_types import Tier


def _prompts(path: str) -> list[tuple[Any, str]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: cannot read prompts: {exc}") from None
    prompts = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json_object(line, f"{path}:{number}")
        except TrainingDataError as exc:
            raise CommandError(str(exc)) from None
        if not isinstance(record.get("prompt"), str):
            raise CommandError(f"{path}:{number}: expected an object with a string 'prompt'")
        if "id" not in record:
            raise CommandError(f"{path}:{number}: 'id' is missing")
        prompts.append((record["id"], record["prompt"]))
    return prompts


class Command(BaseCommand):
    help = "Score prompts (JSONL of id, prompt) with the gateway's neural router."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="JSONL file of {id, prompt}")
        parser.add_argument("--out", help="write here instead of standard output")

    def handle(self, *args: Any, **options: Any) -> None:
        prompts = _prompts(options["file"])
        router = runtime.current(get_live_config().router)
        if router.prompt_model is None:
            raise CommandError(f"the router's model cannot be loaded: {router.load_error}")
        lines = []
        for key, prompt in prompts:
            decision = router.decide(prompt)
            tier = Tier.LIGHTWEIGHT if decision.use_lightweight else Tier.POWERFUL
            lines.append(
                json.dumps({"id": key, "score": round(decision.score, 6), "tier": str(tier)})
            )
        if options["out"]:
            Path(options["out"]).write_text("".join(f"{line}\n" for line in lines), "utf-8")
        else:
            for line in lines:
                self.stdout.write(line)
