"""The prompt scorer in service: FastGRNN cell, feature standardisation, exemplar bank, calibration,
and the free-form head (`FreeFormHead`) that scores free-form prompts when the model file has one.

One `PromptModel` is loaded from a model file and the exemplar bank it names; `score` is what the
gateway, `score_prompts` and the bench all call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from routing.neural.embedding import HashingEmbedder
from routing.neural.fastgrnn import FastGRNN
from routing.neural.model_file import ModelFileError, parse_model, read_metadata, read_model_bytes
from routing.neural.model_holder import ServedModel, prepare_model
from routing.neural.scorer import (
    FEATURE_COUNT,
    FREE_FORM,
    STAT_COUNT,
    ExemplarBank,
    ScorerSpec,
    bank_path,
    form_of,
    prompt_statistics,
    raw_features,
    word_problem_statistics,
)

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True, eq=False)
class PromptModel:
    served: ServedModel
    spec: ScorerSpec
    bank: ExemplarBank
    embedder: HashingEmbedder
    mean: npt.NDArray[np.float64] = field(init=False)
    scale: npt.NDArray[np.float64] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", np.asarray(self.spec.mean, dtype=np.float64))
        object.__setattr__(self, "scale", np.asarray(self.spec.scale, dtype=np.float64))

    @property
    def model(self) -> FastGRNN:
        return self.served.model

    def embed(self, text: str) -> FloatArray:
        return self.embedder.embed(text)

    def standardise(self, features: npt.NDArray[np.float64]) -> FloatArray:
        out: FloatArray = ((features - self.mean) / self.scale).astype(np.float32)
        return out

    def score_embedded(self, texts: Sequence[str], embeddings: FloatArray) -> FloatArray:
        """Scores of prompts whose embeddings the caller already has."""
        features = raw_features(texts, embeddings, self.bank, self.spec.evidence)
        scores = self.served.kernel.score(self.standardise(features))
        head = self.spec.free_form_head
        free = np.flatnonzero(features[:, -1] < 0.5) if head is not None else ()
        if head is not None and len(free):
            extra = np.array(
                [word_problem_statistics(texts[int(i)]) for i in free], dtype=np.float64
            )
            chosen = np.array([head.applies(row) for row in extra], dtype=bool)
            if chosen.any():
                scores = np.array(scores, dtype=np.float32)
                scores[free[chosen]] = head.score(
                    np.hstack([features[free[chosen]], extra[chosen]])
                )
        return scores

    def score(
        self,
        text: str,
        embedding: FloatArray | None = None,
        stats: Sequence[float] | None = None,
    ) -> float:
        """One prompt's score (the request path); `embedding` and `stats` when already computed."""
        vector = self.embed(text) if embedding is None else embedding
        values = prompt_statistics(text) if stats is None else stats
        if len(values) != STAT_COUNT:
            raise ValueError(f"{len(values)} prompt statistics, the scorer takes {STAT_COUNT}")
        form = form_of(values)
        near = self.bank.neighbours(vector, self.spec.evidence, form)
        head = self.spec.free_form_head
        if head is not None and form == FREE_FORM:
            extra = word_problem_statistics(text)
            if head.applies(extra):
                inputs = np.array([[*near, *values, *extra]], dtype=np.float64)
                return float(head.score(inputs)[0])
        features = np.array([[*near, *values]], dtype=np.float64)
        return float(self.served.kernel.score(self.standardise(features))[0])

    def score_many(self, texts: Sequence[str]) -> FloatArray:
        if not texts:
            return np.zeros(0, dtype=np.float32)
        return self.score_embedded(texts, np.stack([self.embed(t) for t in texts]))


def load_prompt_model(
    path: str | Path,
    *,
    quantize: bool = True,
    timer: Callable[[], float] = time.perf_counter,
) -> PromptModel:
    """Load and check a model file and its exemplar bank; every problem is a `ModelFileError`."""
    started = timer()
    where = str(path)
    raw = read_model_bytes(path)
    model = parse_model(raw, where)
    spec = ScorerSpec.from_metadata(read_metadata(raw, where), where)
    if model.config.input_dim != FEATURE_COUNT:
        raise ModelFileError(
            f"{where}: the cell takes {model.config.input_dim} inputs, "
            f"the scorer produces {FEATURE_COUNT} features"
        )
    bank = ExemplarBank.load(bank_path(path))
    if bank.dimensions != spec.dimensions:
        raise ModelFileError(
            f"{where}: the exemplar bank has {bank.dimensions}-dimensional embeddings, "
            f"the model expects {spec.dimensions}"
        )
    served = prepare_model(
        model,
        quantize=quantize,
        path=where,
        size_bytes=len(raw),
        load_time_ms=(timer() - started) * 1000.0,
    )
    return PromptModel(served, spec, bank, HashingEmbedder(spec.dimensions))
