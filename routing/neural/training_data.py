"""Training examples: JSONL, one object per line.

    {"features": [f1, f2, f3, f4, f5], "label": 0 | 1, "teacher_logit": 1.7}

`teacher_logit` is optional (a larger router's pre-sigmoid output, for distillation).
Blank lines are skipped; anything else malformed is an error naming the line.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from routing.neural.backprop import Batch

F64 = npt.NDArray[np.float64]


class TrainingDataError(ValueError):
    """The training file is missing or a line is malformed."""


@dataclass(frozen=True, slots=True)
class Dataset:
    features: F64  # [N, I]
    labels: F64  # [N] of 0.0 / 1.0
    teacher_logits: F64  # [N], NaN where absent

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def take(self, index: npt.NDArray[np.intp]) -> Dataset:
        return Dataset(self.features[index], self.labels[index], self.teacher_logits[index])

    def as_batch(self) -> Batch:
        return Batch(self.features, self.labels, self.teacher_logits)

    def split(self, validation_fraction: float, seed: int) -> tuple[Dataset, Dataset]:
        """Seeded shuffle, then the last `validation_fraction` becomes validation."""
        if not 0.0 <= validation_fraction < 1.0:
            raise ValueError(f"validation fraction must be in [0, 1), got {validation_fraction}")
        order = np.random.default_rng(seed).permutation(len(self))
        n_val = round(len(self) * validation_fraction)
        if validation_fraction > 0 and len(self) > 1:
            n_val = min(max(n_val, 1), len(self) - 1)
        cut = len(self) - n_val
        return self.take(order[:cut]), self.take(order[cut:])


def json_object(line: str, where: str) -> dict[str, Any]:
    """One JSON Lines record, which must be an object; errors name `where` (file:line)."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TrainingDataError(f"{where}: not valid JSON ({exc.msg})") from exc
    if not isinstance(record, dict):
        raise TrainingDataError(f"{where}: expected a JSON object")
    return record


def parse_line(line: str, where: str, input_dim: int | None) -> tuple[list[float], float, float]:
    record = json_object(line, where)
    features = record.get("features")
    if not isinstance(features, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        for v in features
    ):
        raise TrainingDataError(f"{where}: 'features' must be a list of finite numbers")
    if input_dim is not None and len(features) != input_dim:
        raise TrainingDataError(f"{where}: expected {input_dim} features, got {len(features)}")
    label = record.get("label")
    if isinstance(label, bool) or label not in (0, 1):
        raise TrainingDataError(f"{where}: 'label' must be 0 or 1, got {label!r}")
    teacher = record.get("teacher_logit")
    if teacher is None:
        teacher_value = math.nan
    elif (
        isinstance(teacher, int | float)
        and not isinstance(teacher, bool)
        and math.isfinite(teacher)
    ):
        teacher_value = float(teacher)
    else:
        raise TrainingDataError(f"{where}: 'teacher_logit' must be a finite number")
    return [float(v) for v in features], float(label), teacher_value


def load_jsonl(path: str | os.PathLike[str], input_dim: int | None = 5) -> Dataset:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TrainingDataError(f"{path}: cannot read training data: {exc}") from exc
    rows = [
        parse_line(line, f"{path}:{number}", input_dim)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]
    if not rows:
        raise TrainingDataError(f"{path}: no examples")
    width = len(rows[0][0])
    if any(len(r[0]) != width for r in rows):
        raise TrainingDataError(f"{path}: examples have differing feature counts")
    return Dataset(
        features=np.array([r[0] for r in rows], dtype=np.float64),
        labels=np.array([r[1] for r in rows], dtype=np.float64),
        teacher_logits=np.array([r[2] for r in rows], dtype=np.float64),
    )
