"""The prompt scorer: from a prompt's text, the probability that the powerful tier is needed.

Features of a prompt (`FEATURE_NAMES`), all computed from its text:

- **neighbour evidence** from the exemplar bank (labelled prompts, `ExemplarBank`): the k nearest
  exemplars by cosine similarity of their hashed embeddings, each weighted by exp(τ · similarity),
  give the weighted share of them that needed the powerful tier (τ = 5: many neighbours vote) and
  the weighted difficulty of their subjects (τ = 20: the closest few name the topic), plus the mean
  and the largest similarity (how much evidence there is);
- **prompt statistics**: length in characters and words (log), share of digits, of non-ASCII
  letters and of punctuation, line count (log), and whether it looks like code or a question.

The features are standardised with the training set's mean and scale and fed to the FastGRNN cell
(the seed's file format, any input size); its output is the score. A calibration stored with the
model (`Calibration`) turns scores into decisions for a target share of powerful calls.

numpy only, no Django: `score_prompts`, the trainer, the bench and the gateway share this code.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load as load_safetensors
from safetensors.numpy import save_file

from routing.neural.embedding import HashingEmbedder
from routing.neural.model_file import ModelFileError, atomic_write

FloatArray = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

FEATURE_NAMES: tuple[str, ...] = (
    "neighbour_need",
    "neighbour_subject",
    "neighbour_similarity",
    "nearest_similarity",
    "log_chars",
    "log_words",
    "digit_share",
    "non_ascii_share",
    "punctuation_share",
    "log_lines",
    "looks_like_code",
    "is_question",
)
FEATURE_COUNT = len(FEATURE_NAMES)
BANK_FORMAT = "routerproject-exemplar-bank-v1"
SCORER_FORMAT = "routerproject-prompt-scorer-v1"
_WORD = re.compile(r"\w+", re.UNICODE)
_CODE = re.compile(r"```|\bdef |\bclass |\breturn\b|[{};]\s*$|#include|=>|\bfunction\b", re.M)
_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


_DIGIT = np.zeros(256, dtype=np.bool_)
_DIGIT[ord("0") : ord("9") + 1] = True
_PUNCT = np.zeros(256, dtype=np.bool_)
_PUNCT[[ord(c) for c in _PUNCTUATION]] = True


def prompt_statistics(text: str) -> list[float]:
    """The eight statistics of `FEATURE_NAMES[4:]`, counted over the UTF-8 bytes (shares of
    bytes: a non-ASCII character counts once per byte), cheap enough for every request."""
    raw = np.frombuffer(text.encode("utf-8", "replace"), dtype=np.uint8)
    size = raw.shape[0]
    if not size:
        return [0.0] * 8
    return [
        math.log1p(len(text)),
        math.log1p(len(_WORD.findall(text))),
        int(np.count_nonzero(_DIGIT[raw])) / size,
        int(np.count_nonzero(raw >= 128)) / size,
        int(np.count_nonzero(_PUNCT[raw])) / size,
        math.log1p(text.count("\n")),
        1.0 if _CODE.search(text) else 0.0,
        1.0 if "?" in text[-200:] else 0.0,
    ]


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
    (cluster c holds rows offsets[c]:offsets[c + 1]). A prompt's neighbours are searched in the
    `probes` clusters whose centroids are nearest to it, a few hundred rows instead of the whole
    bank: the search reads a small slice of memory, which is what a single prompt's cost is.
    Training computes the same neighbours (`exclude_self` aside), so what the scorer learned from
    is what it sees when serving.
    """

    embeddings: FloatArray  # [N, D], rows L2-normalised, grouped by cluster
    need: FloatArray  # [N] in [0, 1]
    subject: FloatArray  # [N] in [0, 1]
    centroids: FloatArray  # [C, D]
    offsets: npt.NDArray[np.int64]  # [C + 1], ascending from 0 to N

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
        for array in (self.embeddings, self.need, self.subject, self.centroids, self.offsets):
            array.flags.writeable = False

    @classmethod
    def build(
        cls,
        embeddings: FloatArray,
        need: FloatArray,
        subject: FloatArray,
        *,
        clusters: int,
        seed: int = 0,
    ) -> tuple[ExemplarBank, npt.NDArray[np.intp]]:
        """Index the rows (seeded spherical k-means); returns the bank and, for each of its rows,
        the index of the input row it holds."""
        centroids, assignment = _kmeans(embeddings, max(1, min(clusters, len(embeddings))), seed)
        order = np.argsort(assignment, kind="stable")
        counts = np.bincount(assignment, minlength=centroids.shape[0])
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        bank = cls(
            np.ascontiguousarray(embeddings[order], dtype=np.float32),
            np.asarray(need, dtype=np.float32)[order],
            np.asarray(subject, dtype=np.float32)[order],
            centroids,
            offsets,
        )
        return bank, order

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def dimensions(self) -> int:
        return int(self.embeddings.shape[1])

    def neighbours(
        self, query: FloatArray, settings: EvidenceSettings, exclude: int = -1
    ) -> tuple[float, float, float, float]:
        """The four neighbour features of one query vector (`exclude`: a bank row to leave out,
        for training). The rows of the `probes` clusters nearest to the query are compared with
        it slice by slice (each cluster is contiguous: no copy of the bank)."""
        closeness = self.centroids @ query
        count = min(settings.probes, closeness.shape[0])
        clusters = np.argpartition(-closeness, count - 1)[:count].tolist()
        offsets = self.offsets.tolist()
        rows = np.concatenate([np.arange(offsets[c], offsets[c + 1]) for c in clusters])
        sims = np.concatenate(
            [self.embeddings[offsets[c] : offsets[c + 1]] @ query for c in clusters]
        )
        if exclude >= 0:
            keep = rows != exclude
            rows, sims = rows[keep], sims[keep]
        if rows.shape[0] == 0:
            return (0.0, 0.0, 0.0, 0.0)
        k = min(settings.neighbours, sims.shape[0])
        top = np.argpartition(-sims, k - 1)[:k] if k < sims.shape[0] else slice(None)
        near = sims[top].astype(np.float64)
        chosen = rows[top]
        nearest = float(near.max())
        return (
            _weighted(near, nearest, self.need[chosen], settings.vote_temperature),
            _weighted(near, nearest, self.subject[chosen], settings.subject_temperature),
            float(near.mean()),
            nearest,
        )

    def evidence(
        self, queries: FloatArray, settings: EvidenceSettings, *, exclude_self: bool = False
    ) -> F64:
        """[M, 4] neighbour features of M query vectors. `exclude_self`: the queries are the
        bank's own rows in order (leave one out, for training)."""
        queries = np.atleast_2d(queries)
        return np.array(
            [
                self.neighbours(queries[i], settings, i if exclude_self else -1)
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
        }
        atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"format": BANK_FORMAT}))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ExemplarBank:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise ModelFileError(f"{path}: cannot read the exemplar bank: {exc}") from exc
        try:
            tensors = load_safetensors(raw)
        except Exception as exc:  # the binding raises its own, unexported error types
            raise ModelFileError(f"{path}: not a safetensors exemplar bank: {exc}") from exc
        missing = {"embeddings", "need", "subject", "centroids", "offsets"} - set(tensors)
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
            return cls(embeddings, need, subject, centroids, offsets)
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


def _weighted(sims: F64, nearest: float, values: npt.ArrayLike, temperature: float) -> float:
    weights = np.exp(temperature * (sims - nearest))
    return float(np.dot(weights, np.asarray(values, dtype=np.float64)) / weights.sum())


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

    def to_metadata(self) -> dict[str, str]:
        return {
            "scorer": json.dumps(
                {
                    "format": SCORER_FORMAT,
                    "features": list(FEATURE_NAMES),
                    "mean": list(self.mean),
                    "scale": list(self.scale),
                    "embedding": {"kind": "hashing", "dimensions": self.dimensions},
                    "evidence": self.evidence.to_json(),
                    "calibration": {"quantiles": list(self.calibration.quantiles)},
                }
            ),
            "training": json.dumps(self.training),
        }

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
    stats = np.array([prompt_statistics(t) for t in texts], dtype=np.float64).reshape(-1, 8)
    return np.hstack([bank.evidence(embeddings, evidence, exclude_self=exclude_self), stats])


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
