"""Split-conformal uncertainty for the binary "lightweight succeeds" label.

Calibrate on held-out (score, outcome) pairs.  The nonconformity of label y at score s
is 1 - p(y), with p(1) = s and p(0) = 1 - s.  For a new score, the conformal p-value of
a label is the fraction of calibration nonconformities at least as large (with the
usual +1 correction).  The uncertainty reported for a candidate is the p-value of the
label the model did *not* predict: how plausible the opposite outcome still is.  With
max_uncertainty = alpha, "uncertainty <= max_uncertainty" is exactly "the opposite
label is outside the (1 - alpha) conformal prediction set", which carries the
split-conformal coverage guarantee under exchangeability.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class ConformalCalibration:
    alpha: float
    nonconformity: npt.NDArray[np.float64]  # sorted ascending
    quantile: float

    def p_values(self, scores: FloatArray, label: int) -> FloatArray:
        s = np.asarray(scores, dtype=np.float64)
        a = 1.0 - s if label == 1 else s
        n = self.nonconformity.shape[0]
        at_least = n - np.searchsorted(self.nonconformity, a, side="left")
        out: FloatArray = ((at_least + 1) / (n + 1)).astype(np.float32)
        return out

    def uncertainty(self, scores: FloatArray) -> FloatArray:
        """p-value of the label opposite to the model's prediction, in (0, 1]."""
        predicted_positive = np.asarray(scores) >= 0.5
        out: FloatArray = np.where(
            predicted_positive, self.p_values(scores, 0), self.p_values(scores, 1)
        ).astype(np.float32)
        return out

    def prediction_sets(self, scores: FloatArray) -> npt.NDArray[np.bool_]:
        """[N, 2] membership of labels (0, 1) in the (1 - alpha) prediction set."""
        s = np.asarray(scores, dtype=np.float64)
        return np.stack([s <= self.quantile, 1.0 - s <= self.quantile], axis=1)


def calibrate(scores: npt.ArrayLike, outcomes: npt.ArrayLike, alpha: float) -> ConformalCalibration:
    """Fit split-conformal calibration from held-out scores and 0/1 outcomes."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(outcomes).ravel()
    if s.shape != y.shape or s.size == 0:
        raise ValueError("scores and outcomes must be non-empty and of equal length")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not np.all(np.isfinite(s)) or not np.all((y == 0) | (y == 1)):
        raise ValueError("scores must be finite and outcomes 0 or 1")
    nonconformity = np.sort(np.where(y == 1, 1.0 - s, s))
    n = s.size
    rank = math.ceil((n + 1) * (1.0 - alpha))
    # Too few calibration points for this alpha: the honest set is every label.
    quantile = float(nonconformity[rank - 1]) if rank <= n else math.inf
    return ConformalCalibration(alpha=alpha, nonconformity=nonconformity, quantile=quantile)
