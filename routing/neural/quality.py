"""Routing quality as RouteLLM measures it, on prompts with known weak and strong outcomes.

Sort prompts by the router's score (higher: more likely to need the powerful tier) and send the top
share p to the strong model. PGR(p) is the share of the strong model's accuracy gain over the weak
one that this recovers; APGR is the area under PGR(p) for p from 0 to 1 (the trapezoid rule over
p = k/n; a random router scores 0.5); CPT(x) is the smallest share of strong calls with PGR ≥ x.
Ties in the score count as random order: the curve is averaged over seeded tie-breaks.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
TIE_SEEDS = 20


def pgr_curve(
    score: npt.ArrayLike, weak: npt.ArrayLike, strong: npt.ArrayLike, seeds: int = TIE_SEEDS
) -> F64:
    """Mean PGR at p = k/n, k = 0..n, over `seeds` random tie-breaks of the score."""
    s = np.asarray(score, dtype=np.float64)
    gain = np.asarray(strong, dtype=np.float64) - np.asarray(weak, dtype=np.float64)
    total = gain.sum()
    if total <= 0:
        raise ValueError("the strong model must be right more often than the weak one")
    n = len(s)
    curves = np.zeros(n + 1)
    for seed in range(seeds):
        order = np.lexsort((np.random.default_rng(seed).random(n), -s))
        curves[1:] += np.cumsum(gain[order])
    out: F64 = curves / (seeds * total)
    return out


def apgr(curve: F64) -> float:
    return float(np.trapezoid(curve, dx=1.0 / (len(curve) - 1)))


def cpt(curve: F64, target: float) -> float:
    """Smallest share of strong calls at which PGR ≥ target (NaN when never reached)."""
    reached = np.flatnonzero(curve >= target - 1e-12)
    return float(reached[0]) / (len(curve) - 1) if reached.size else float("nan")
