"""The prompt scorer: from a prompt's text, the probability that the powerful tier is needed.

Features of a prompt (`FEATURE_NAMES`), all computed from its text:

- **neighbour evidence** from the exemplar bank (labelled prompts, `ExemplarBank`): the k nearest
  exemplars by cosine similarity of their hashed embeddings, each weighted by exp(τ · similarity),
  give the weighted share of them that needed the powerful tier (τ = 5: many neighbours vote) and
  the weighted difficulty of their subjects (τ = 20: the closest few name the topic), plus the mean
  and the largest similarity (how much evidence there is);
- **prompt statistics**: length in characters and words (log), share of digits, of non-ASCII
  letters and of punctuation, line count (log), whether it looks like code or a question; for word
  problems, the count of numbers, of sentences and of arithmetic words and the largest number (log);
  and the prompt's *form* (`prompt_form`): multiple choice with lettered options, or free form.

The neighbours of a prompt are searched among the exemplars of its own form only: in a bank where
multiple-choice questions outnumber word problems ten to one, a word problem's nearest prompts by
words would otherwise be, as often as not, multiple-choice questions on the same subject whose
outcomes say little about it (5-fold cross-validation on the training rows: GSM8K APGR 0.59
with one search over the whole bank, 0.61 searching by form, 0.60-0.62 over two seeds with the
word-problem statistics as well; MMLU unchanged at 0.63).

The features are standardised with the training set's mean and scale and fed to the FastGRNN cell
(the seed's file format, any input size); its output is the score. Word problems (free-form prompts
with at least `HEAD_MIN_QUANTITIES` quantities) are scored instead by the model's free-form head
(`FreeFormHead`, in the scorer metadata): a logistic regression over the same features plus
`word_problem_statistics` (5-fold cross-validation on the training rows: GSM8K APGR 0.636 ± 0.077
against 0.601 ± 0.100 for the cell in the same folds; MMLU, the cell's, unchanged). A calibration stored with the
model (`Calibration`) turns scores into decisions for a target share of powerful calls.

numpy only, no Django: `score_prompts`, the trainer, the bench and the gateway share this code.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load as load_safetensors
from safetensors.numpy import save_file

from routing.neural.embedding import HashingEmbedder
from routing.neural.model_file import ModelFileError, atomic_write, read_metadata

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
    "log_numbers",
    "log_sentences",
    "log_largest_number",
    "log_operation_words",
    "multiple_choice",
)
FEATURE_COUNT = len(FEATURE_NAMES)
STAT_COUNT = FEATURE_COUNT - 4  # `prompt_statistics`: every feature but the neighbour evidence
# Prompt forms, the partitions of the neighbour search; a form's index is its number.
FORMS: tuple[str, ...] = ("multiple_choice", "free_form")
MULTIPLE_CHOICE, FREE_FORM = 0, 1
BANK_FORMAT = "routerproject-exemplar-bank-v2"
SCORER_FORMAT = "routerproject-prompt-scorer-v2"
_WORD = re.compile(r"\w+", re.UNICODE)
# The alternatives are grouped by their first character or anchor: the same matches as a flat list
# of them, in half the time (Python's regex engine tries the alternatives one by one).
_CODE = re.compile(r"```|#include|=>|[{};]\s*$|\b(?:def |class |return\b|function\b)", re.M)
_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
# Lines that open with a lettered option: "A. ...", "(b) ...", "C) ...".
_OPTION = re.compile(r"^\s*\(?[A-Da-d][.)]\s", re.M)
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_OPERATION = re.compile(  # percent twice half times each per every average ratio fraction ...
    r"\b(?:p(?:ercent|er)|t(?:wice|imes|otal)|half|e(?:ach|very)|average|r(?:atio|emaining)"
    r"|fraction|l(?:eft|ess than)|more than)\b",
    re.I,
)
_LARGEST_NUMBER = 1e15  # beyond it a number's size says nothing more (and float() may overflow)
# Byte sets for `bytes.translate(None, delete)`: counting by deleting is one C loop per class.
_DIGIT_BYTES = bytes(range(ord("0"), ord("9") + 1))
_NON_ASCII_BYTES = bytes(range(128, 256))
_PUNCTUATION_BYTES = "".join(sorted(_PUNCTUATION)).encode()


# The free-form head's extra inputs (`word_problem_statistics`): what tracks a word problem's
# solution length beyond `prompt_statistics`.
WORD_PROBLEM_NAMES: tuple[str, ...] = (
    "log_distinct_numbers",
    "log_number_words",
    "log_quantities",
    "percent",
    "log_fractions",
    "log_money_words",
    "log_time_units",
    "log_other_units",
    "log_question_words",
    "log_step_cues",
    "log_comparisons",
    "log_decimals",
    "log_question_chars",
    "words_per_sentence",
    "log_number_sum",
)
HEAD_FEATURE_NAMES: tuple[str, ...] = FEATURE_NAMES + WORD_PROBLEM_NAMES
_NUMBER_WORD = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty"
    r"|forty|fifty|hundred|thousand|million|dozen|half|twice|triple|double|third|quarter|fourth"
    r"|fifth)s?\b",
    re.I,
)
_PERCENT = re.compile(r"%|\bpercent", re.I)
_FRACTION = re.compile(r"\d+/\d+|\b(?:half|third|quarter|fourth|fifth)s?\b", re.I)
_MONEY = re.compile(
    r"\$|\b(?:dollars?|cents?|price|cost|costs|pay|paid|earn|earns|profit|sells?|buys?|bought"
    r"|sold)\b",
    re.I,
)
_TIME_UNIT = re.compile(
    r"\b(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|daily|weekly|monthly|hourly)\b",
    re.I,
)
_OTHER_UNIT = re.compile(
    r"\b(?:miles?|km|kilometers?|meters?|feet|foot|inches?|pounds?|ounces?|kg|grams?|liters?"
    r"|gallons?|cups?|mph)\b",
    re.I,
)
_QUESTION_WORD = re.compile(
    r"\b(?:how many|how much|what|which|when|who|how long|how far|how old)\b", re.I
)
_STEP_CUE = re.compile(
    r"\b(?:then|after|before|remaining|rest|left|more|less|fewer|each|per|every|if|twice|times"
    r"|total|altogether|combined|than|instead|while|but|also|another|again|respectively)\b",
    re.I,
)
_COMPARISON = re.compile(
    r"\b(?:more than|less than|fewer than|times as|as many|as much|older|younger|longer|shorter"
    r"|faster|slower)\b",
    re.I,
)
_DECIMAL = re.compile(r"\d\.\d")
HEAD_CLAMP = 6.0  # standardised head inputs are clamped to ±6: prompts unlike the training ones
# The head scores word problems only: free-form prompts with at least this many quantities (numbers
# and number words); other free-form prompts (chat, most everyday requests) keep the cell's score.
HEAD_MIN_QUANTITIES = 2
_QUANTITIES = WORD_PROBLEM_NAMES.index("log_quantities")


def prompt_form(text: str) -> int:
    """`MULTIPLE_CHOICE` when at least two lines open with a lettered option, else `FREE_FORM`."""
    options = _OPTION.finditer(text)
    return MULTIPLE_CHOICE if next(options, None) and next(options, None) else FREE_FORM


def form_of(stats: Sequence[float] | F64) -> int:
    """The form recorded in a prompt's statistics (its `multiple_choice` entry)."""
    return MULTIPLE_CHOICE if stats[-1] >= 0.5 else FREE_FORM


def prompt_statistics(text: str) -> list[float]:
    """The `STAT_COUNT` statistics of `FEATURE_NAMES[4:]`; the shares are counted over the UTF-8
    bytes (a non-ASCII character counts once per byte). Cheap enough for every request."""
    raw = text.encode("utf-8", "replace")
    size = len(raw)
    if not size:
        return [0.0] * STAT_COUNT
    numbers = _NUMBER.findall(text)
    largest = max((float(n.replace(",", "")) for n in numbers), default=0.0)
    return [
        math.log1p(len(text)),
        math.log1p(len(_WORD.findall(text))),
        (size - len(raw.translate(None, _DIGIT_BYTES))) / size,
        (size - len(raw.translate(None, _NON_ASCII_BYTES))) / size,
        (size - len(raw.translate(None, _PUNCTUATION_BYTES))) / size,
        math.log1p(text.count("\n")),
        1.0 if _CODE.search(text) else 0.0,
        1.0 if "?" in text[-200:] else 0.0,
        math.log1p(len(numbers)),
        math.log1p(len(_SENTENCE_END.findall(text))),
        math.log1p(min(largest, _LARGEST_NUMBER)),
        math.log1p(len(_OPERATION.findall(text))),
        1.0 if prompt_form(text) == MULTIPLE_CHOICE else 0.0,
    ]


def word_problem_statistics(text: str) -> list[float]:
    """The `WORD_PROBLEM_NAMES` statistics: counts (log) of distinct numbers, number words,
    quantities, fractions, money, time and other units, question words, multi-step cues and
    comparisons, decimals; whether there is a percentage; the last sentence's length (log), words
    per sentence and the sum of the numbers (log)."""
    values = [n.replace(",", "") for n in _NUMBER.findall(text)]
    number_words = len(_NUMBER_WORD.findall(text))
    sentences = [part for part in _SENTENCE_END.split(text) if part.strip()]
    last = sentences[-1] if sentences else text
    total = sum(float(v) for v in values if v.replace(".", "", 1).isdigit())
    return [
        math.log1p(len(set(values))),
        math.log1p(number_words),
        math.log1p(len(values) + number_words),
        1.0 if _PERCENT.search(text) else 0.0,
        math.log1p(len(_FRACTION.findall(text))),
        math.log1p(len(_MONEY.findall(text))),
        math.log1p(len(_TIME_UNIT.findall(text))),
        math.log1p(len(_OTHER_UNIT.findall(text))),
        math.log1p(len(_QUESTION_WORD.findall(text))),
        math.log1p(len(_STEP_CUE.findall(text))),
        math.log1p(len(_COMPARISON.findall(text))),
        math.log1p(len(_DECIMAL.findall(text))),
        math.log1p(len(last)),
        len(text.split()) / max(1, len(sentences)),
        math.log1p(min(total, _LARGEST_NUMBER)),
    ]


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
        return bool(word_problem[_QUANTITIES] >= math.log1p(HEAD_MIN_QUANTITIES) - 1e-9)

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
    free_form_head: FreeFormHead | None = None  # scores free-form prompts when present

    def to_metadata(self) -> dict[str, str]:
        scorer: dict[str, Any] = {
            "format": SCORER_FORMAT,
            "features": list(FEATURE_NAMES),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "embedding": {"kind": "hashing", "dimensions": self.dimensions},
            "evidence": self.evidence.to_json(),
            "calibration": {"quantiles": list(self.calibration.quantiles)},
        }
        if self.free_form_head is not None:
            scorer["freeFormHead"] = self.free_form_head.to_json()
        return {"scorer": json.dumps(scorer), "training": json.dumps(self.training)}

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
                free_form_head=(
                    FreeFormHead.from_json(data["freeFormHead"]) if "freeFormHead" in data else None
                ),
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
    stats = np.array([prompt_statistics(t) for t in texts], dtype=np.float64)
    stats = stats.reshape(-1, STAT_COUNT)
    forms = [form_of(row) for row in stats]
    near = bank.evidence(embeddings, evidence, forms, exclude_self=exclude_self)
    return np.hstack([near, stats])


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
