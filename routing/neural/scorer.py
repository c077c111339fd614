"""The prompt scorer: from a prompt's text, the probability that the powerful tier is needed.

Features of a prompt (`FEATURE_NAMES`), all computed from its text:

- **neighbour evidence** from the exemplar bank (labelled prompts, `ExemplarBank`): the k nearest
  exemplars by cosine similarity of their hashed embeddings, each weighted by exp(τ · similarity),
  give the weighted share of them that needed the powerful tier (τ = 5: many neighbours vote) and
  the weighted difficulty of their subjects (τ = 20: the closest few name the topic), plus the mean
  and the largest similarity (how much evidence there is);
- **prompt statistics**: length in characters and words (log), share of digits, of non-ASCII
  letters and of punctuation, line count (log), whether it looks like code or a question; for word
  problems, the count of numbers, of sentences and of arithmetic words and the largest number (log);
  and the prompt's *form* (`prompt_form`): multiple choice with lettered options, or free form.

The neighbours of a prompt are searched among the exemplars of its own form only: in a bank where
multiple-choice questions outnumber word problems ten to one, a word problem's nearest prompts by
words would otherwise be, as often as not, multiple-choice questions on the same subject whose
outcomes say little about it (5-fold cross-validation on the training rows: GSM8K APGR 0.59
with one search over the whole bank, 0.61 searching by form, 0.60-0.62 over two seeds with the
word-problem statistics as well; MMLU unchanged at 0.63).

The features are standardised with the training set's mean and scale and fed to the FastGRNN cell
(the seed's file format, any input size); its output is the score. Word problems (free-form prompts
with at least `HEAD_MIN_QUANTITIES` quantities) are scored instead by the model's free-form head
(`FreeFormHead`, in the scorer metadata): a logistic regression over the same features plus
`word_problem_statistics` (5-fold cross-validation on the training rows: GSM8K APGR 0.636 ± 0.077
against 0.601 ± 0.100 for the cell in the same folds; MMLU, the cell's, unchanged). A calibration stored with the
model (`Calibration`) turns scores into decisions for a target share of powerful calls.

numpy only, no Django: `score_prompts`, the trainer, the bench and the gateway share this code.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from routing.neural.embedding import HashingEmbedder
from routing.neural.exemplar_bank import BANK_FORMAT, EvidenceSettings, ExemplarBank
from routing.neural.free_form_head import HEAD_CLAMP, FreeFormHead
from routing.neural.model_file import ModelFileError
from routing.neural.prompt_features import (
    FEATURE_COUNT,
    FEATURE_NAMES,
    FORMS,
    FREE_FORM,
    HEAD_FEATURE_NAMES,
    HEAD_MIN_QUANTITIES,
    MULTIPLE_CHOICE,
    STAT_COUNT,
    WORD_PROBLEM_NAMES,
    form_of,
    prompt_form,
    prompt_statistics,
    word_problem_statistics,
)

FloatArray = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

SCORER_FORMAT = "routerproject-prompt-scorer-v2"
# The scorer is the facade of its parts: callers import every name of the prompt scorer from here.
__all__ = [
    "BANK_FORMAT",
    "FEATURE_COUNT",
    "FEATURE_NAMES",
    "FORMS",
    "FREE_FORM",
    "HEAD_CLAMP",
    "HEAD_FEATURE_NAMES",
    "HEAD_MIN_QUANTITIES",
    "MULTIPLE_CHOICE",
    "SCORER_FORMAT",
    "STAT_COUNT",
    "WORD_PROBLEM_NAMES",
    "Calibration",
    "EvidenceSettings",
    "ExemplarBank",
    "FreeFormHead",
    "ScorerSpec",
    "bank_path",
    "embed_all",
    "form_of",
    "prompt_form",
    "prompt_statistics",
    "raw_features",
    "word_problem_statistics",
]


@dataclass(frozen=True, slots=True)
class Calibration:
    """Where the score sits among the training prompts' scores: `quantiles[i]` is the score below
    which i % of them fall (101 points). `threshold(share)` is the score above which that share of
    them would go to the powerful tier."""

    quantiles: tuple[float, ...]

    @classmethod
    def from_scores(cls, scores: npt.ArrayLike) -> Calibration:
        values = np.quantile(np.asarray(scores, dtype=np.float64), np.linspace(0, 1, 101))
        return cls(tuple(float(v) for v in values))

    def threshold(self, powerful_share: float) -> float:
        share = min(max(powerful_share, 0.0), 1.0)
        if share >= 1.0:
            return -math.inf
        if share <= 0.0:
            return math.inf
        return float(np.interp(100.0 * (1.0 - share), np.arange(101), self.quantiles))

    def powerful_share(self, threshold: float) -> float:
        """Share of the training prompts scoring at or above `threshold`."""
        below = float(np.interp(threshold, self.quantiles, np.arange(101), left=0.0, right=100.0))
        return 1.0 - below / 100.0


@dataclass(frozen=True, slots=True, eq=False)
class ScorerSpec:
    """What a model file says about its inputs besides the cell: feature standardisation,
    evidence settings, embedder size, calibration and how it was trained. Its exemplar bank is the
    file `bank_path` names."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    dimensions: int
    evidence: EvidenceSettings
    calibration: Calibration
    training: dict[str, Any]
    free_form_head: FreeFormHead | None = None  # scores free-form prompts when present

    def to_metadata(self) -> dict[str, str]:
        scorer: dict[str, Any] = {
            "format": SCORER_FORMAT,
            "features": list(FEATURE_NAMES),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "embedding": {"kind": "hashing", "dimensions": self.dimensions},
            "evidence": self.evidence.to_json(),
            "calibration": {"quantiles": list(self.calibration.quantiles)},
        }
        if self.free_form_head is not None:
            scorer["freeFormHead"] = self.free_form_head.to_json()
        return {"scorer": json.dumps(scorer), "training": json.dumps(self.training)}

    @classmethod
    def from_metadata(cls, metadata: dict[str, str], where: str) -> ScorerSpec:
        if "scorer" not in metadata:
            raise ModelFileError(f"{where}: not a prompt scorer (no 'scorer' metadata)")
        try:
            data = json.loads(metadata["scorer"])
            if data.get("format") != SCORER_FORMAT:
                raise ValueError(f"scorer format is {data.get('format')!r}")
            if list(data["features"]) != list(FEATURE_NAMES):
                raise ValueError(f"features {data['features']} differ from {list(FEATURE_NAMES)}")
            mean = tuple(float(v) for v in data["mean"])
            scale = tuple(float(v) for v in data["scale"])
            if len(mean) != FEATURE_COUNT or len(scale) != FEATURE_COUNT or min(scale) <= 0:
                raise ValueError("mean and scale need one positive entry per feature")
            quantiles = tuple(float(v) for v in data["calibration"]["quantiles"])
            if len(quantiles) != 101 or any(b < a for a, b in pairwise(quantiles)):
                raise ValueError("calibration needs 101 ascending quantiles")
            return cls(
                mean=mean,
                scale=scale,
                dimensions=int(data["embedding"]["dimensions"]),
                evidence=EvidenceSettings.from_json(data["evidence"]),
                calibration=Calibration(quantiles),
                training=json.loads(metadata.get("training", "{}")),
                free_form_head=(
                    FreeFormHead.from_json(data["freeFormHead"]) if "freeFormHead" in data else None
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{where}: invalid scorer metadata: {exc}") from exc


def raw_features(
    texts: Sequence[str],
    embeddings: FloatArray,
    bank: ExemplarBank,
    evidence: EvidenceSettings,
    *,
    exclude_self: bool = False,
) -> F64:
    """[M, FEATURE_COUNT] unstandardised features of M prompts and their embeddings."""
    stats = np.array([prompt_statistics(t) for t in texts], dtype=np.float64)
    stats = stats.reshape(-1, STAT_COUNT)
    forms = [form_of(row) for row in stats]
    near = bank.evidence(embeddings, evidence, forms, exclude_self=exclude_self)
    return np.hstack([near, stats])


def bank_path(model_path: str | os.PathLike[str]) -> Path:
    """The exemplar bank of the model at `model_path`: beside it, named after it
    (`fastgrnn.safetensors` → `fastgrnn.exemplars.safetensors`), so the two move together."""
    target = Path(model_path)
    return target.with_name(target.stem + ".exemplars.safetensors")


def embed_all(texts: Sequence[str], dimensions: int) -> FloatArray:
    embedder = HashingEmbedder(dimensions)
    out = np.zeros((len(texts), dimensions), dtype=np.float32)
    for i, text in enumerate(texts):
        out[i] = embedder.embed(text)
    return out
