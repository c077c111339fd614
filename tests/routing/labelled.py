"""Small labelled sets cut from the shipped routing data, for tests that train."""

import json
from pathlib import Path

from tests.processes import ROOT

SHIPPED = ROOT / "data" / "routing" / "gsm8k-train.jsonl"


def labelled_file(path: Path, count: int = 160, start: int = 0) -> Path:
    """The first `count` rows (from `start`) of the shipped GSM8K set, written to `path`."""
    lines = SHIPPED.read_text(encoding="utf-8").split("\n")[start : start + count]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def prompts_file(path: Path, prompts: dict[str, str]) -> Path:
    path.write_text("".join(json.dumps({"id": k, "prompt": v}) + "\n" for k, v in prompts.items()))
    return path
