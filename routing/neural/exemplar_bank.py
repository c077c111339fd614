"""The exemplar bank: labelled prompts' embeddings and outcomes, searched per prompt form through an
inverted-file index, and the neighbour evidence the scorer takes from them. numpy only, no Django."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load as load_safetensors
from safetensors.numpy import save_file

from routing.neural.model_file import ModelFileError, atomic_write, read_metadata
from routing.neural.prompt_features import FORMS

FloatArray = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

BANK_FORMAT = "routerproject-exemplar-bank-v2"


@dataclass(frozen=True, slots=True)
class EvidenceSettings:
    neighbours: int = 64
    vote_temperature: float = 5.0
    subject_temperature: float = 20.0
    clusters: int = 128  # of the bank's inverted-file index (k-means over the embeddings)
    probes: int = 8  # clusters searched per prompt

    def to_json(self) -> dict[str, Any]:
        return {
            "neighbours": self.neighbours,
            "voteTemperature": self.vote_temperature,
            "subjectTemperature": self.subject_temperature,
            "clusters": self.clusters,
            "probes": self.probes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EvidenceSettings:
        return cls(
            int(data["neighbours"]),
            float(data["voteTemperature"]),
            float(data["subjectTemperature"]),
            int(data["clusters"]),
            int(data["probes"]),
        )


@dataclass(frozen=True, slots=True, eq=False)
class ExemplarBank:
    """Labelled prompts as arrays: unit embeddings, whether each needed the powerful tier (a
    probability: 0/1 from labelled data, a share from traffic) and its subject's difficulty.

    Rows are grouped by cluster of an inverted-file index: `centroids` [C, D] and `offsets` [C + 1]
    (cluster c holds rows offsets[c]:offsets[c + 1]); clusters are grouped by form (`FORMS`):
    form f owns clusters `form_clusters[f]:form_clusters[f + 1]` and only its prompts. A prompt's
    neighbours are searched in the `probes` clusters of its form whose centroids are nearest to it,
    a few hundred rows instead of the whole bank: the search reads a small slice of memory, which
    is what a single prompt's cost is. A form with no exemplars searches the whole bank. Training
    computes the same neighbours (`exclude_self` aside), so what the scorer learned from is what
    it sees when serving.
    """

    embeddings: FloatArray  # [N, D], rows L2-normalised, grouped by cluster
    need: FloatArray  # [N] in [0, 1]
    subject: FloatArray  # [N] in [0, 1]
    centroids: FloatArray  # [C, D]
    offsets: npt.NDArray[np.int64]  # [C + 1], ascending from 0 to N
    form_clusters: npt.NDArray[np.int64]  # [len(FORMS) + 1], ascending from 0 to C
    # Plain-Python copies of the index for the request path (no numpy call per lookup).
    _offsets: list[int] = field(init=False, repr=False)
    _ranges: list[tuple[int, int]] = field(init=False, repr=False)
    _rows: npt.NDArray[np.int64] = field(init=False, repr=False)  # 0..N-1, sliced per cluster
    _need: F64 = field(init=False, repr=False)  # `need` as float64, converted once
    _subject: F64 = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = self.embeddings.shape[0]
        if self.embeddings.ndim != 2 or self.need.shape != (n,) or self.subject.shape != (n,):
            raise ValueError("exemplar bank arrays have mismatched shapes")
        c = self.centroids.shape[0]
        if (
            self.centroids.ndim != 2
            or self.centroids.shape[1] != self.embeddings.shape[1]
            or self.offsets.shape != (c + 1,)
            or int(self.offsets[0]) != 0
            or int(self.offsets[-1]) != n
            or bool(np.any(np.diff(self.offsets) < 0))
        ):
            raise ValueError("exemplar bank index does not match its rows")
        if (
            self.form_clusters.shape != (len(FORMS) + 1,)
            or int(self.form_clusters[0]) != 0
            or int(self.form_clusters[-1]) != c
            or bool(np.any(np.diff(self.form_clusters) < 0))
        ):
            raise ValueError("exemplar bank forms do not match its clusters")
        for array in (
            self.embeddings,
            self.need,
            self.subject,
            self.centroids,
            self.offsets,
            self.form_clusters,
        ):
            array.flags.writeable = False
        offsets = [int(v) for v in self.offsets]
        bounds = [int(v) for v in self.form_clusters]
        ranges = [(lo, hi) if offsets[hi] > offsets[lo] else (0, c) for lo, hi in pairwise(bounds)]
        object.__setattr__(self, "_offsets", offsets)
        object.__setattr__(self, "_ranges", ranges)
        object.__setattr__(self, "_rows", np.arange(n, dtype=np.int64))
        object.__setattr__(self, "_need", self.need.astype(np.float64))
        object.__setattr__(self, "_subject", self.subject.astype(np.float64))

    @classmethod
    def build(
        cls,
        embeddings: FloatArray,
        need: FloatArray,
        subject: FloatArray,
        forms: npt.ArrayLike,
        *,
        clusters: int,
        seed: int = 0,
    ) -> tuple[ExemplarBank, npt.NDArray[np.intp]]:
        """Index the rows (seeded spherical k-means within each form, clusters shared out by the
        forms' row counts); returns the bank and, for each of its rows, the index of the input row
        it holds."""
        form = np.asarray(forms, dtype=np.intp)
        total = len(embeddings)
        if form.shape != (total,) or (total and not 0 <= int(form.min()) <= int(form.max()) < 2):
            raise ValueError(f"every exemplar needs a form in 0..{len(FORMS) - 1}")
        centroids: list[FloatArray] = []
        order: list[npt.NDArray[np.intp]] = []
        counts: list[npt.NDArray[np.intp]] = []
        form_clusters = [0]
        for f in range(len(FORMS)):
            members = np.flatnonzero(form == f)
            if len(members):
                share = max(1, min(round(clusters * len(members) / total), len(members)))
                found, assignment = _kmeans(embeddings[members], share, seed)
                centroids.append(found)
                order.append(members[np.argsort(assignment, kind="stable")])
                counts.append(np.bincount(assignment, minlength=found.shape[0]))
            form_clusters.append(form_clusters[-1] + (len(centroids[-1]) if len(members) else 0))
        dimensions = embeddings.shape[1] if embeddings.ndim == 2 else 0
        rows = np.concatenate(order) if order else np.zeros(0, dtype=np.intp)
        sizes = np.concatenate(counts) if counts else np.zeros(0, dtype=np.intp)
        bank = cls(
            np.ascontiguousarray(embeddings[rows], dtype=np.float32),
            np.asarray(need, dtype=np.float32)[rows],
            np.asarray(subject, dtype=np.float32)[rows],
            np.vstack(centroids) if centroids else np.zeros((0, dimensions), dtype=np.float32),
            np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            np.array(form_clusters, dtype=np.int64),
        )
        return bank, rows

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def dimensions(self) -> int:
        return int(self.embeddings.shape[1])

    def form_of_row(self, row: int) -> int:
        """The form whose clusters hold bank row `row`."""
        for f, (lo, hi) in enumerate(pairwise(int(v) for v in self.form_clusters)):
            if self._offsets[lo] <= row < self._offsets[hi]:
                return f
        raise IndexError(f"bank row {row} out of range")

    def neighbours(
        self, query: FloatArray, settings: EvidenceSettings, form: int, exclude: int = -1
    ) -> tuple[float, float, float, float]:
        """The four neighbour features of one query vector of the given form (`exclude`: a bank
        row to leave out, for training). The rows of the `probes` clusters nearest to the query
        are compared with it slice by slice (each cluster is contiguous: no copy of the bank)."""
        lo, hi = self._ranges[form]
        closeness = self.centroids[lo:hi] @ query
        count = min(settings.probes, hi - lo)
        if count <= 0:
            return (0.0, 0.0, 0.0, 0.0)
        clusters = (np.argpartition(-closeness, count - 1)[:count] + lo).tolist()
        offsets = self._offsets
        spans = [(offsets[c], offsets[c + 1]) for c in clusters]
        # Each cluster's similarities are written straight into one buffer: no list of
        # temporaries to concatenate.
        sims = np.empty(sum(stop - start for start, stop in spans), dtype=np.float32)
        embeddings = self.embeddings
        position = 0
        for start, stop in spans:
            np.matmul(embeddings[start:stop], query, out=sims[position : position + stop - start])
            position += stop - start
        rows = np.concatenate([self._rows[start:stop] for start, stop in spans])
        if exclude >= 0:
            keep = rows != exclude
            rows, sims = rows[keep], sims[keep]
        k = min(settings.neighbours, sims.shape[0])
        if k == 0:
            return (0.0, 0.0, 0.0, 0.0)
        if k < sims.shape[0]:
            top = np.argpartition(-sims, k - 1)[:k]
            rows, sims = rows[top], sims[top]
        near = sims.astype(np.float64)
        nearest = float(near.max())
        gap = near - nearest
        vote = np.exp(settings.vote_temperature * gap)
        topic = np.exp(settings.subject_temperature * gap)
        return (
            float(np.dot(vote, self._need[rows]) / vote.sum()),
            float(np.dot(topic, self._subject[rows]) / topic.sum()),
            float(near.mean()),
            nearest,
        )

    def evidence(
        self,
        queries: FloatArray,
        settings: EvidenceSettings,
        forms: Sequence[int] = (),
        *,
        exclude_self: bool = False,
    ) -> F64:
        """[M, 4] neighbour features of M query vectors of the given `forms`. `exclude_self`: the
        queries are the bank's own rows in order, each of its own form (leave one out, for
        training), and `forms` is not needed."""
        queries = np.atleast_2d(queries)
        if exclude_self:
            forms = [self.form_of_row(i) for i in range(queries.shape[0])]
        if len(forms) != queries.shape[0]:
            raise ValueError("every query needs a form")
        return np.array(
            [
                self.neighbours(queries[i], settings, int(forms[i]), i if exclude_self else -1)
                for i in range(queries.shape[0])
            ],
            dtype=np.float64,
        ).reshape(-1, 4)

    def save(self, path: str | os.PathLike[str]) -> None:
        tensors = {
            "embeddings": np.ascontiguousarray(self.embeddings, dtype="<f2"),
            "need": np.ascontiguousarray(self.need, dtype="<f4"),
            "subject": np.ascontiguousarray(self.subject, dtype="<f4"),
            "centroids": np.ascontiguousarray(self.centroids, dtype="<f4"),
            "offsets": np.ascontiguousarray(self.offsets, dtype="<i8"),
            "form_clusters": np.ascontiguousarray(self.form_clusters, dtype="<i8"),
        }
        metadata = {"format": BANK_FORMAT, "forms": json.dumps(list(FORMS))}
        atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ExemplarBank:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise ModelFileError(f"{path}: cannot read the exemplar bank: {exc}") from exc
        try:
            tensors = load_safetensors(raw)
            metadata = read_metadata(raw, str(path))
        except ModelFileError:
            raise
        except Exception as exc:  # the binding raises its own, unexported error types
            raise ModelFileError(f"{path}: not a safetensors exemplar bank: {exc}") from exc
        if metadata.get("format") != BANK_FORMAT:
            raise ModelFileError(
                f"{path}: exemplar bank format is {metadata.get('format')!r}, "
                f"this version reads {BANK_FORMAT!r}"
            )
        missing = {"embeddings", "need", "subject", "centroids", "offsets", "form_clusters"} - set(
            tensors
        )
        if missing:
            raise ModelFileError(f"{path}: exemplar bank lacks {sorted(missing)}")
        embeddings, need, subject, centroids = (
            np.ascontiguousarray(tensors[name], dtype=np.float32)
            for name in ("embeddings", "need", "subject", "centroids")
        )
        if not all(np.all(np.isfinite(a)) for a in (embeddings, need, subject, centroids)):
            raise ModelFileError(f"{path}: exemplar bank holds NaN or infinite values")
        try:
            offsets = np.asarray(tensors["offsets"], dtype=np.int64)
            form_clusters = np.asarray(tensors["form_clusters"], dtype=np.int64)
            return cls(embeddings, need, subject, centroids, offsets, form_clusters)
        except ValueError as exc:
            raise ModelFileError(f"{path}: {exc}") from exc


def _kmeans(
    vectors: FloatArray, clusters: int, seed: int, iterations: int = 12
) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """Spherical k-means (cosine), seeded: unit centroids and each vector's cluster."""
    rng = np.random.default_rng(seed)
    centroids = vectors[rng.choice(len(vectors), size=clusters, replace=False)].copy()
    assignment = np.zeros(len(vectors), dtype=np.intp)
    for _ in range(iterations):
        assignment = np.argmax(vectors @ centroids.T, axis=1)
        for c in range(clusters):
            members = vectors[assignment == c]
            if len(members):
                total = members.sum(axis=0)
                norm = float(np.linalg.norm(total))
                centroids[c] = total / norm if norm > 0 else centroids[c]
    return centroids.astype(np.float32), assignment
