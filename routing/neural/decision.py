"""Turning model scores into ranked lightweight/powerful decisions.

Per candidate: confidence = score; uncertainty defaults to the margin form
clip(1 - 2|score - 0.5|, 0, 1), i.e. 0 at a certain 0 or 1 and 1 at a coin toss;
use_lightweight = confidence >= confidence_threshold and uncertainty <= max_uncertainty.
Candidates are ranked by confidence, highest first; ties keep request order so equal
candidates are routed the same way every time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
UncertaintyEstimator = Callable[[FloatArray], FloatArray]
_TWO = np.float32(2.0)
_ZERO = np.float32(0.0)


@dataclass(frozen=True, slots=True)
class DecisionPolicy:
    confidence_threshold: float = 0.85
    max_uncertainty: float = 0.15

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence_threshold <= 1.0:
            raise ValueError(
                f"confidence_threshold must be in [0, 1], got {self.confidence_threshold}"
            )
        if not 0.0 <= self.max_uncertainty <= 1.0:
            raise ValueError(f"max_uncertainty must be in [0, 1], got {self.max_uncertainty}")


class NonFiniteScoreError(ValueError):
    """The model produced NaN or infinite scores; the inference counts as a failure."""


def margin_uncertainty(scores: FloatArray) -> FloatArray:
    """clip(1 - 2|score - 0.5|, 0, 1), as the equal max(0, 2·min(score, 1 - score)).

    2·min(s, 1 - s) never exceeds 1, so only the lower clip is needed: four array
    operations instead of six.
    """
    doubled = np.multiply(scores, _TWO)
    u = np.subtract(_TWO, doubled)
    np.minimum(u, doubled, out=u)
    np.maximum(u, _ZERO, out=u)
    return u


@dataclass(frozen=True, slots=True)
class RankedDecisions:
    """Decisions as parallel arrays in request order, plus the ranking.

    `order[k]` is the request index of the k-th ranked candidate; `ranked()` gives the
    arrays in that order.  Keeping request order avoids three gathers on the hot path
    when the caller only needs to walk `order`.
    """

    order: npt.NDArray[np.intp]
    confidence: FloatArray
    uncertainty: FloatArray
    use_lightweight: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.order.shape[0])

    def ranked(self) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
        """(confidence, uncertainty, use_lightweight) sorted best first."""
        o = self.order
        return self.confidence[o], self.uncertainty[o], self.use_lightweight[o]


def ensure_finite(scores: FloatArray) -> None:
    # One reduction instead of isfinite().all(): a sum of finite [0, 1] scores is
    # finite, and any NaN or infinity makes the sum non-finite.
    if not math.isfinite(float(np.add.reduce(scores, dtype=np.float64))):
        bad = int(np.count_nonzero(~np.isfinite(scores)))
        raise NonFiniteScoreError(f"model produced {bad} non-finite score(s)")


def decide(
    scores: FloatArray,
    policy: DecisionPolicy,
    uncertainty: UncertaintyEstimator = margin_uncertainty,
) -> RankedDecisions:
    """Apply the decision rule and rank; raises `NonFiniteScoreError`."""
    ensure_finite(scores)
    unc = uncertainty(scores)
    lightweight = scores >= policy.confidence_threshold
    lightweight &= unc <= policy.max_uncertainty
    # Stable sort of the negated scores: descending, ties in request order.
    order = np.argsort(-scores, kind="stable")
    return RankedDecisions(order, scores, unc, lightweight)
