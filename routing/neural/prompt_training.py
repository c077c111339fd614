"""Training the prompt scorer from labelled prompts.

Labelled rows are JSON lines `{"id", "prompt", "weak", "strong"}` (optionally `"domain"`), the
format of `data/routing/`: `weak` / `strong` are 1 when that tier's model answered correctly. A
prompt *needs the powerful tier* when the strong model was right and the weak one wrong; that is
the label (rows learned from traffic carry it directly as `"need"`, a share in [0, 1]).

Every row whose id hashes into the held-out fifth (`is_held_out`) is left out of training, so the
bench measures the shipped model on prompts it never saw. The rest is the exemplar bank; each
training row's neighbour features are computed without the row itself (leave one out), as a new
prompt at serving time is never its own neighbour. A seeded validation split of the training rows
drives early stopping; the calibration is the distribution of scores over the training rows.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from routing.neural.fastgrnn import FastGRNN, FastGRNNConfig
from routing.neural.model_file import save_model
from routing.neural.scorer import (
    FEATURE_COUNT,
    STAT_COUNT,
    Calibration,
    EvidenceSettings,
    ExemplarBank,
    FreeFormHead,
    ScorerSpec,
    bank_path,
    embed_all,
    form_of,
    prompt_statistics,
    word_problem_statistics,
)
from routing.neural.training import EpochReport, TrainingOptions, train
from routing.neural.training_data import Dataset, TrainingDataError, json_object

F64 = npt.NDArray[np.float64]
# How strongly a subject's difficulty is pulled towards the overall rate (in prompts).
SUBJECT_SMOOTHING = 20.0
MAX_PROMPT_CHARS = 100_000


def is_held_out(row_id: str) -> bool:
    """The fixed fifth of the labelled rows that training never sees (by a hash of the id)."""
    return int(hashlib.sha256(row_id.encode()).hexdigest()[:8], 16) % 5 == 0


@dataclass(frozen=True, slots=True)
class LabelledPrompt:
    id: str
    prompt: str
    need: float  # probability that the powerful tier is needed
    domain: str | None = None
    weak: int | None = None
    strong: int | None = None


def _outcome(record: dict[str, Any], key: str, where: str) -> int:
    value = record.get(key)
    if isinstance(value, bool) or value not in (0, 1):
        raise TrainingDataError(f"{where}: '{key}' must be 0 or 1, got {value!r}")
    return int(value)


def parse_labelled(line: str, where: str) -> LabelledPrompt:
    record = json_object(line, where)
    row_id, prompt = record.get("id"), record.get("prompt")
    if not isinstance(row_id, str) or not row_id or len(row_id) > 200:
        raise TrainingDataError(
            f"{where}: 'id' must be a non-empty string of at most 200 characters"
        )
    if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > MAX_PROMPT_CHARS:
        raise TrainingDataError(
            f"{where}: 'prompt' must be a non-empty string of at most {MAX_PROMPT_CHARS} characters"
        )
    domain = record.get("domain")
    if domain is not None and not isinstance(domain, str):
        raise TrainingDataError(f"{where}: 'domain' must be a string when present")
    weak, strong = _outcome(record, "weak", where), _outcome(record, "strong", where)
    need = 1.0 if strong == 1 and weak == 0 else 0.0
    return LabelledPrompt(row_id, prompt, need, domain or None, weak, strong)


def load_labelled(paths: Iterable[str | os.PathLike[str]]) -> list[LabelledPrompt]:
    """Rows of every file, in order; a malformed line is an error naming file and line."""
    rows: list[LabelledPrompt] = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TrainingDataError(f"{path}: cannot read labelled data: {exc}") from exc
        found = 0
        for number, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                rows.append(parse_labelled(line, f"{path}:{number}"))
                found += 1
        if not found:
            raise TrainingDataError(f"{path}: no labelled prompts")
    return rows


def subject_difficulty(rows: Sequence[LabelledPrompt]) -> F64:
    """Per row, the smoothed share of its domain's rows that needed the powerful tier (the overall
    share for rows without a domain)."""
    need = np.array([r.need for r in rows], dtype=np.float64)
    overall = float(need.mean()) if len(rows) else 0.0
    totals: dict[str, list[float]] = {}
    for row in rows:
        if row.domain is not None:
            entry = totals.setdefault(row.domain, [0.0, 0.0])
            entry[0] += row.need
            entry[1] += 1.0
    rate = {
        d: (s + overall * SUBJECT_SMOOTHING) / (n + SUBJECT_SMOOTHING)
        for d, (s, n) in totals.items()
    }
    return np.array([rate.get(r.domain or "", overall) for r in rows], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class ScorerOptions:
    dimensions: int = 256
    evidence: EvidenceSettings = field(default_factory=EvidenceSettings)
    # L2 weight of the free-form head (`FreeFormHead`, chosen by 5-fold cross-validation on the
    # training rows among 1-100); None: the cell scores every prompt.
    free_form_l2: float | None = 30.0
    training: TrainingOptions = field(
        # Large batches and a small learning rate: the validation loss moves little from epoch to
        # epoch, and with smaller steps early stopping lands on the same quality whatever the seed
        # (held-out MMLU APGR 0.640-0.648 over seeds 0-2, against 0.621-0.649 at batch 128, lr 0.01).
        default_factory=lambda: TrainingOptions(
            epochs=80,
            learning_rate=0.005,
            batch_size=512,
            patience=10,
            l2=1e-4,
            distill_weight=0.0,
            model=FastGRNNConfig(input_dim=FEATURE_COUNT, hidden_dim=16),
        )
    )


@dataclass(frozen=True, slots=True)
class TrainedScorer:
    model: FastGRNN
    spec: ScorerSpec
    bank: ExemplarBank
    history: list[EpochReport]
    best_epoch: int
    stopped_early: bool


@dataclass(frozen=True, slots=True)
class TrafficExamples:
    """Prompts learned from traffic: no text, only what the gateway kept of them."""

    embeddings: npt.NDArray[np.float32]  # [M, D]
    stats: F64  # [M, STAT_COUNT], `prompt_statistics` (the last entry gives the form)
    need: F64  # [M], share of verdicts that said the powerful tier was needed

    def __len__(self) -> int:
        return int(self.need.shape[0])


def _examples(
    rows: Sequence[LabelledPrompt],
    traffic: TrafficExamples | None,
    dimensions: int,
    clusters: int,
) -> tuple[ExemplarBank, F64, npt.NDArray[np.intp]]:
    """The exemplar bank of labelled rows and traffic rows, the stats of each bank row and the
    index of the input row (labelled rows first, then traffic) each bank row holds."""
    embeddings = embed_all([r.prompt for r in rows], dimensions)
    stats = np.array([prompt_statistics(r.prompt) for r in rows], dtype=np.float64)
    stats = stats.reshape(-1, STAT_COUNT)
    need = np.array([r.need for r in rows], dtype=np.float64)
    subject = subject_difficulty(rows)
    if traffic is not None and len(traffic):
        overall = float(need.mean()) if len(need) else 0.0
        embeddings = np.vstack([embeddings, traffic.embeddings.astype(np.float32)])
        stats = np.vstack([stats, traffic.stats])
        need = np.concatenate([need, traffic.need])
        subject = np.concatenate([subject, np.full(len(traffic), overall)])
    bank, order = ExemplarBank.build(
        embeddings,
        need.astype(np.float32),
        subject.astype(np.float32),
        [form_of(row) for row in stats],
        clusters=clusters,
    )
    return bank, stats[order], order


def train_scorer(
    rows: Sequence[LabelledPrompt],
    options: ScorerOptions,
    *,
    on_batch: Callable[[int, int, int], None] | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
    sources: Sequence[str] = (),
    traffic: TrafficExamples | None = None,
) -> TrainedScorer:
    """Train on the labelled rows that are not held out, plus `traffic`; raises `ValueError` when
    too few remain."""
    training_rows = [r for r in rows if not is_held_out(r.id)]
    total = len(training_rows) + (len(traffic) if traffic is not None else 0)
    if total < 20:
        raise ValueError(f"{total} labelled prompts outside the held-out fifth; at least 20 needed")
    bank, stats, order = _examples(
        training_rows, traffic, options.dimensions, options.evidence.clusters
    )
    if len({bool(v >= 0.5) for v in bank.need}) < 2:
        raise ValueError("the labelled prompts need examples of both outcomes")
    evidence = bank.evidence(bank.embeddings, options.evidence, exclude_self=True)
    features = np.hstack([evidence, stats])
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale < 1e-6] = 1.0
    standardised = (features - mean) / scale
    labels = bank.need.astype(np.float64)
    data = Dataset(standardised, labels, np.full(len(labels), math.nan))
    result = train(data, options.training, on_batch=on_batch, on_epoch=on_epoch)
    scores = result.model.predict(standardised.astype(np.float32)).astype(np.float32)
    head = None
    # The free-form head learns from the labelled word problems (traffic rows keep no text).
    free = np.array(
        [i for i in range(len(bank)) if order[i] < len(training_rows) and stats[i][-1] < 0.5],
        dtype=np.intp,
    )
    if options.free_form_l2 is None:
        free = free[:0]
    extra = np.array(
        [word_problem_statistics(training_rows[order[i]].prompt) for i in free], dtype=np.float64
    ).reshape(len(free), -1)
    chosen = np.array([FreeFormHead.applies(row) for row in extra], dtype=bool)
    free, extra = free[chosen], extra[chosen]
    if options.free_form_l2 is not None and len(free) >= 20 and len(set(labels[free] >= 0.5)) == 2:
        inputs = np.hstack([features[free], extra])
        head = FreeFormHead.fit(inputs, labels[free], options.free_form_l2)
        scores[free] = head.score(inputs)
    best = result.history[result.best_epoch - 1]
    spec = ScorerSpec(
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        dimensions=options.dimensions,
        evidence=options.evidence,
        calibration=Calibration.from_scores(scores),
        training={
            "sources": list(sources),
            "rows": len(rows),
            "trainingRows": len(training_rows),
            "trafficRows": len(traffic) if traffic is not None else 0,
            "heldOutRows": len(rows) - len(training_rows),
            "needShare": round(float(labels.mean()), 4),
            "seed": options.training.seed,
            "validationSplit": options.training.validation_split,
            "bestEpoch": result.best_epoch,
            "epochs": len(result.history),
            "stoppedEarly": result.stopped_early,
            "validationLoss": best.validation_loss,
            "hiddenDim": options.training.model.hidden_dim,
            "freeFormHeadRows": head.rows if head is not None else 0,
        },
        free_form_head=head,
    )
    return TrainedScorer(
        result.model, spec, bank, result.history, result.best_epoch, result.stopped_early
    )


def save_trained(trained: TrainedScorer, model_path: str | os.PathLike[str]) -> None:
    """The bank first, then the model: a reader never finds the new model without its bank."""
    trained.bank.save(bank_path(model_path))
    save_model(trained.model, model_path, trained.spec.to_metadata())
