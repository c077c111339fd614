"""Per-candidate feature vector fed to the FastGRNN.

For each candidate, with weights w (defaults in parentheses)::

    [w_sim (0.4)     · cos(query, candidate),
     w_recency (0.2) · exp(-decay · age_seconds),           decay = 0.001 / s
     w_freq (0.15)   · min(1, ln(1 + access_count) / ln(1 + saturation)),  saturation = 10000
     w_success (0.15)· success_rate,
     w_meta (0.1)    · metadata_overlap]

Conventions: cos(0, 0) = 1 (two empty embeddings are the same thing), cos(0, x) = 0,
cosine is clamped to [-1, 1] against rounding; a candidate created "in the future"
(clock skew) has age 0; access counts below 0 count as 0; success rate and overlap are
clamped to [0, 1].  So feature k always lies in [0, w_k], except similarity in
[-w_sim, w_sim].

Metadata overlap is the Jaccard index of the two sets of (key, value) pairs:
|Q intersect C| / |Q union C|, a pair matching only when both key and value are equal (values
compared by canonical JSON, so lists and dicts work).  Two empty metadata maps give 0:
no shared evidence, not perfect agreement.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
FEATURE_NAMES: tuple[str, ...] = (
    "semantic_similarity",
    "recency",
    "frequency",
    "success_rate",
    "metadata_overlap",
)
FEATURE_COUNT = len(FEATURE_NAMES)
# Keeps the cosine denominator positive: a zero candidate has dot = 0, so 0 / tiny = 0.
_TINY = np.float32(np.finfo(np.float32).tiny)


@dataclass(frozen=True, slots=True)
class FeatureWeights:
    similarity: float = 0.4
    recency: float = 0.2
    frequency: float = 0.15
    success: float = 0.15
    metadata: float = 0.1
    recency_decay_per_second: float = 0.001
    frequency_saturation: float = 10000.0

    def __post_init__(self) -> None:
        for name in ("similarity", "recency", "frequency", "success", "metadata"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"feature weight {name} must be finite and >= 0, got {value}")
        if not math.isfinite(self.recency_decay_per_second) or self.recency_decay_per_second < 0:
            raise ValueError("recency_decay_per_second must be finite and >= 0")
        if not self.frequency_saturation > 0:
            raise ValueError("frequency_saturation must be > 0")

    def bounds(self) -> tuple[FloatArray, FloatArray]:
        """Inclusive [low, high] of each feature column."""
        high = np.array(
            [self.similarity, self.recency, self.frequency, self.success, self.metadata],
            dtype=np.float32,
        )
        low = np.zeros_like(high)
        low[0] = -self.similarity
        return low, high


DEFAULT_WEIGHTS = FeatureWeights()


def candidate_norms(embeddings: FloatArray) -> FloatArray:
    norms: FloatArray = np.sqrt(np.einsum("ij,ij->i", embeddings, embeddings))
    return norms


def inverse_norms(norms: FloatArray) -> FloatArray:
    """1 / norm, and 0 for zero vectors so that cos(0, x) comes out as 0."""
    inverse = np.zeros_like(norms, dtype=np.float32)
    np.divide(np.float32(1.0), norms, out=inverse, where=norms > 0)
    return inverse


def _check_dimensions(query: FloatArray, embeddings: FloatArray) -> None:
    if query.ndim != 1 or embeddings.ndim != 2 or embeddings.shape[1] != query.shape[0]:
        raise ValueError(
            f"embedding dimension mismatch: query {query.shape}, candidates {embeddings.shape}"
        )


def _weighted_cosine(
    query: FloatArray,
    embeddings: FloatArray,
    inverse_norm: FloatArray,
    weight: float,
    out: FloatArray,
) -> None:
    """weight · cos into `out`, unclamped (callers clamp once, for all features)."""
    query_norm = math.sqrt(float(np.dot(query, query)))
    if query_norm == 0.0:
        # inverse_norm is 0 exactly for zero candidates: those get cos(0, 0) = 1.
        np.equal(inverse_norm, 0.0, out=out, casting="unsafe")
        out *= np.float32(weight)
        return
    np.multiply(np.dot(embeddings, query), inverse_norm, out=out)
    out *= np.float32(weight / query_norm)


_SCALARS = (str, int, float, bool, type(None))


def _canonical_value(value: Any) -> tuple[str, Any]:
    # Scalars compare directly, tagged by type so 1, 1.0, True and "1" stay distinct
    # (as their JSON forms are); containers fall back to canonical JSON text.
    if isinstance(value, _SCALARS):
        return type(value).__name__, value
    return "json", json.dumps(value, sort_keys=True, default=str)


def _canonical_pairs(metadata: Mapping[str, Any]) -> set[tuple[str, tuple[str, Any]]]:
    return {(str(k), _canonical_value(v)) for k, v in metadata.items()}


def metadata_overlap(query: Mapping[str, Any], candidate: Mapping[str, Any]) -> float:
    """Jaccard index of the (key, value) pairs; 0 when both are empty."""
    q, c = _canonical_pairs(query), _canonical_pairs(candidate)
    union = len(q | c)
    return len(q & c) / union if union else 0.0


def metadata_overlaps(
    query: Mapping[str, Any] | None, candidates: Sequence[Mapping[str, Any] | None]
) -> FloatArray:
    """Overlap of each candidate with the query; all zeros without query metadata."""
    overlaps = np.zeros(len(candidates), dtype=np.float32)
    if not query:
        return overlaps
    q = _canonical_pairs(query)
    for index, meta in enumerate(candidates):
        c = _canonical_pairs(meta or {})
        overlaps[index] = len(q & c) / len(q | c)
    return overlaps


class FeatureExtractor:
    """Feature computation with every per-weights constant prepared once.

    The extraction itself is a dozen whole-array operations whatever the number of
    candidates: each column is computed unclamped and the [N, 5] block is then clamped
    once to the per-column bounds, which also implements the age >= 0 and [0, 1]
    conventions (a clamped w·x equals w·clamp(x) for w >= 0).
    """

    __slots__ = (
        "_decay",
        "_frequency_scale",
        "_high",
        "_log_recency",
        "_low",
        "_metadata",
        "_success",
        "weights",
    )

    def __init__(self, weights: FeatureWeights = DEFAULT_WEIGHTS) -> None:
        self.weights = weights
        self._low, self._high = weights.bounds()
        self._decay = weights.recency_decay_per_second
        self._log_recency = math.log(weights.recency) if weights.recency > 0 else -math.inf
        self._success = np.float32(weights.success)
        self._metadata = np.float32(weights.metadata)
        self._frequency_scale = np.float32(
            weights.frequency / math.log1p(weights.frequency_saturation)
        )

    def extract(
        self,
        query: FloatArray,
        embeddings: FloatArray,
        inverse_norm: FloatArray,
        created_at: npt.NDArray[np.float64],
        access_count: FloatArray,
        success_rate: FloatArray,
        overlap: FloatArray,
        now: float,
    ) -> FloatArray:
        """[N, 5] features; inputs must already be float32 (created_at float64) arrays
        of matching length with access_count >= 0, as `CandidateBatch` guarantees."""
        out = np.empty((embeddings.shape[0], FEATURE_COUNT), dtype=np.float32)
        _weighted_cosine(query, embeddings, inverse_norm, self.weights.similarity, out[:, 0])
        # w·exp(-decay·(now - t)) = exp(decay·t + ln w - decay·now), kept in float64
        # because unix seconds in float32 are only good to about two minutes.
        exponent = np.multiply(created_at, self._decay)
        exponent += self._log_recency - self._decay * now
        # Capping at ln w is age >= 0; it also keeps exp from overflowing on clock skew.
        np.minimum(exponent, self._log_recency, out=exponent)
        np.exp(exponent, out=out[:, 1], casting="same_kind")
        frequency = out[:, 2]
        np.log1p(access_count, out=frequency)
        frequency *= self._frequency_scale
        np.multiply(success_rate, self._success, out=out[:, 3])
        np.multiply(overlap, self._metadata, out=out[:, 4])
        np.minimum(out, self._high, out=out)
        np.maximum(out, self._low, out=out)
        return out


def candidate_features(
    query: npt.ArrayLike,
    embeddings: npt.ArrayLike,
    created_at: npt.ArrayLike,
    access_count: npt.ArrayLike,
    success_rate: npt.ArrayLike,
    overlap: npt.ArrayLike,
    *,
    now: float,
    weights: FeatureWeights = DEFAULT_WEIGHTS,
) -> FloatArray:
    """Feature matrix [N, 5] float32 for N candidates at time `now` (unix seconds).

    Validating convenience form; the router uses `FeatureExtractor` on a prepared
    `CandidateBatch` instead.
    """
    q = np.asarray(query, dtype=np.float32)
    matrix = np.asarray(embeddings, dtype=np.float32)
    _check_dimensions(q, matrix)
    n = matrix.shape[0]
    created = np.asarray(created_at, dtype=np.float64)
    access = np.asarray(access_count, dtype=np.float32)
    success = np.asarray(success_rate, dtype=np.float32)
    meta = np.asarray(overlap, dtype=np.float32)
    for name, array in (
        ("created_at", created),
        ("access_count", access),
        ("success_rate", success),
        ("overlap", meta),
    ):
        if array.shape != (n,):
            raise ValueError(f"{name} has shape {array.shape}, expected ({n},)")
    return FeatureExtractor(weights).extract(
        q,
        matrix,
        inverse_norms(candidate_norms(matrix)),
        created,
        np.maximum(access, np.float32(0.0)),
        success,
        meta,
        now,
    )
