"""The free-form head: the score of word problems, a logistic regression beside the FastGRNN cell.
numpy only, no Django."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from routing.neural.prompt_features import (
    HEAD_FEATURE_NAMES,
    is_word_problem,
)

FloatArray = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

HEAD_CLAMP = 6.0  # standardised head inputs are clamped to ±6: prompts unlike the training ones


@dataclass(frozen=True, slots=True)
class FreeFormHead:
    """The score of free-form prompts: an L2-regularised logistic regression over the standardised
    `HEAD_FEATURE_NAMES` (the cell's features plus `word_problem_statistics`), fitted on the
    bank's free-form labelled prompts with at least `HEAD_MIN_QUANTITIES` quantities, the word
    problems, and scoring only such prompts (5-fold cross-validation on the training rows: GSM8K APGR
    0.636 against 0.594-0.608 for the cell, whose loss the ten times more numerous multiple-choice
    prompts dominate). Multiple-choice prompts keep the cell's score."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    rows: int = 0
    l2: float = 0.0
    _mean: F64 = field(init=False, repr=False, compare=False)
    _scale: F64 = field(init=False, repr=False, compare=False)
    _weights: F64 = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(HEAD_FEATURE_NAMES)
        if not (len(self.mean) == len(self.scale) == len(self.weights) == n):
            raise ValueError(f"the free-form head needs {n} means, scales and weights")
        if min(self.scale) <= 0 or not all(
            math.isfinite(v) for v in (*self.mean, *self.scale, *self.weights, self.bias)
        ):
            raise ValueError("the free-form head needs finite values and positive scales")
        object.__setattr__(self, "_mean", np.asarray(self.mean, dtype=np.float64))
        object.__setattr__(self, "_scale", np.asarray(self.scale, dtype=np.float64))
        object.__setattr__(self, "_weights", np.asarray(self.weights, dtype=np.float64))

    @classmethod
    def fit(cls, features: F64, labels: F64, l2: float, iterations: int = 30) -> FreeFormHead:
        """Newton's method on the penalised log-loss (the bias unpenalised): deterministic."""
        mean = features.mean(axis=0)
        scale = features.std(axis=0)
        scale[scale < 1e-6] = 1.0
        x = np.clip((features - mean) / scale, -HEAD_CLAMP, HEAD_CLAMP)
        a = np.hstack([x, np.ones((len(x), 1))])
        penalty = l2 * np.eye(a.shape[1])
        penalty[-1, -1] = 0.0
        w = np.zeros(a.shape[1])
        for _ in range(iterations):
            p = 1.0 / (1.0 + np.exp(-(a @ w)))
            gradient = a.T @ (p - labels) + penalty @ w
            hessian = (a * (p * (1.0 - p))[:, None]).T @ a + penalty
            w -= np.linalg.solve(hessian, gradient)
        return cls(
            tuple(float(v) for v in mean),
            tuple(float(v) for v in scale),
            tuple(float(v) for v in w[:-1]),
            float(w[-1]),
            rows=len(labels),
            l2=l2,
        )

    @staticmethod
    def applies(word_problem: Sequence[float] | F64) -> bool:
        """Whether a free-form prompt with these `word_problem_statistics` is the head's to score."""
        return is_word_problem(word_problem)

    def score(self, features: F64) -> FloatArray:
        """Scores of [M, len(HEAD_FEATURE_NAMES)] unstandardised features."""
        x = np.clip((np.atleast_2d(features) - self._mean) / self._scale, -HEAD_CLAMP, HEAD_CLAMP)
        out: FloatArray = (1.0 / (1.0 + np.exp(-(x @ self._weights + self.bias)))).astype(
            np.float32
        )
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(HEAD_FEATURE_NAMES),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "weights": list(self.weights),
            "bias": self.bias,
            "rows": self.rows,
            "l2": self.l2,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FreeFormHead:
        if list(data["features"]) != list(HEAD_FEATURE_NAMES):
            raise ValueError(f"free-form head features {data['features']} differ")
        return cls(
            tuple(float(v) for v in data["mean"]),
            tuple(float(v) for v in data["scale"]),
            tuple(float(v) for v in data["weights"]),
            float(data["bias"]),
            rows=int(data.get("rows", 0)),
            l2=float(data.get("l2", 0.0)),
        )
