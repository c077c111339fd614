"""Routing request in the reference router's shape, and its columnar form.

A request carries `query_embedding`, optional query `metadata`, and `candidates`, each
with `id`, `embedding`, `metadata`, `created_at` (unix seconds), `access_count` and
`success_rate`.  Scoring works on `CandidateBatch`, the same data as parallel arrays,
so that everything after parsing is vectorised over candidates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from routing.neural.features import candidate_norms, inverse_norms, metadata_overlaps

FloatArray = npt.NDArray[np.float32]


class RoutingRequestError(ValueError):
    """The request is malformed (missing fields, ragged or mismatched embeddings)."""


@dataclass(frozen=True, slots=True)
class Candidate:
    id: str
    embedding: Sequence[float] | FloatArray
    metadata: Mapping[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    access_count: int = 0
    success_rate: float = 0.0


@dataclass(frozen=True, slots=True)
class RoutingRequest:
    query_embedding: Sequence[float] | FloatArray
    candidates: Sequence[Candidate]
    metadata: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class CandidateBatch:
    """Candidates as arrays; `overlap` is already relative to one query's metadata."""

    ids: list[str]
    embeddings: FloatArray  # [N, D]
    inverse_norms: FloatArray  # [N], 0 for zero embeddings
    created_at: npt.NDArray[np.float64]
    access_count: FloatArray  # clamped to >= 0
    success_rate: FloatArray
    overlap: FloatArray

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_arrays(
        cls,
        ids: Sequence[str],
        embeddings: npt.ArrayLike,
        created_at: npt.ArrayLike,
        access_count: npt.ArrayLike,
        success_rate: npt.ArrayLike,
        overlap: npt.ArrayLike | None = None,
    ) -> CandidateBatch:
        """Build from columns.

        Candidate norms are computed here, once per candidate set: stored embeddings do
        not change between requests, so a cached batch need not pay for them again.
        """
        matrix = np.ascontiguousarray(embeddings, dtype=np.float32)
        n = len(ids)
        if matrix.ndim != 2 or matrix.shape[0] != n:
            raise RoutingRequestError(
                f"embeddings must be [N, D] with N = {n} candidates, got {matrix.shape}"
            )
        return cls(
            ids=list(ids),
            embeddings=matrix,
            inverse_norms=inverse_norms(candidate_norms(matrix)),
            created_at=np.asarray(created_at, dtype=np.float64).reshape(n),
            access_count=np.maximum(np.asarray(access_count, dtype=np.float32).reshape(n), 0),
            success_rate=np.asarray(success_rate, dtype=np.float32).reshape(n),
            overlap=(
                np.zeros(n, dtype=np.float32)
                if overlap is None
                else np.asarray(overlap, dtype=np.float32).reshape(n)
            ),
        )

    @classmethod
    def from_candidates(
        cls,
        candidates: Sequence[Candidate],
        dimension: int,
        query_metadata: Mapping[str, Any] | None = None,
    ) -> CandidateBatch:
        n = len(candidates)
        try:
            if n:
                embeddings = np.array([c.embedding for c in candidates], dtype=np.float32)
            else:
                embeddings = np.empty((0, dimension), dtype=np.float32)
        except ValueError as exc:
            raise RoutingRequestError(
                f"candidate embeddings are ragged or non-numeric: {exc}"
            ) from exc
        if embeddings.ndim != 2 or embeddings.shape[1] != dimension:
            raise RoutingRequestError(
                f"embedding dimension mismatch: query has {dimension}, "
                f"candidates have shape {embeddings.shape}"
            )
        return cls.from_arrays(
            [c.id for c in candidates],
            embeddings,
            [c.created_at for c in candidates],
            [c.access_count for c in candidates],
            [c.success_rate for c in candidates],
            metadata_overlaps(query_metadata, [c.metadata for c in candidates]),
        )


def _number(raw: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RoutingRequestError(f"{where}.{key} must be a number, got {value!r}")
    return float(value)


def parse_request(data: Mapping[str, Any]) -> RoutingRequest:
    """Decode the JSON-shaped request used by the reference router."""
    if not isinstance(data, Mapping):
        raise RoutingRequestError("request must be a JSON object")
    if "query_embedding" not in data or "candidates" not in data:
        raise RoutingRequestError("request needs 'query_embedding' and 'candidates'")
    raw_candidates = data["candidates"]
    if not isinstance(raw_candidates, Sequence) or isinstance(raw_candidates, str | bytes):
        raise RoutingRequestError("'candidates' must be a list")
    candidates = []
    for index, raw in enumerate(raw_candidates):
        where = f"candidates[{index}]"
        if not isinstance(raw, Mapping) or "id" not in raw or "embedding" not in raw:
            raise RoutingRequestError(f"{where} needs 'id' and 'embedding'")
        metadata = raw.get("metadata") or {}
        if not isinstance(metadata, Mapping):
            raise RoutingRequestError(f"{where}.metadata must be an object")
        candidates.append(
            Candidate(
                id=str(raw["id"]),
                embedding=raw["embedding"],
                metadata=metadata,
                created_at=_number(raw, "created_at", 0.0, where),
                access_count=int(_number(raw, "access_count", 0, where)),
                success_rate=_number(raw, "success_rate", 0.0, where),
            )
        )
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise RoutingRequestError("'metadata' must be an object")
    return RoutingRequest(data["query_embedding"], candidates, metadata)
