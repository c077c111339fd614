"""The prompt scorer's parts: prompt forms and statistics, and the exemplar bank's search."""

import json
import math
import re
import zlib
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from safetensors.numpy import save_file

from routing.neural.embedding import HashingEmbedder
from routing.neural.model_file import ModelFileError
from routing.neural.scorer import (
    FEATURE_NAMES,
    FORMS,
    FREE_FORM,
    MULTIPLE_CHOICE,
    STAT_COUNT,
    EvidenceSettings,
    ExemplarBank,
    ScorerSpec,
    form_of,
    prompt_form,
    prompt_statistics,
)

CHOICE = "Which gas do plants take in?\nA. oxygen\nB. carbon dioxide\nC. helium\nD. neon\nAnswer:"
WORD_PROBLEM = (
    "Tom buys 3 boxes of 12 eggs each. He uses half of them. How many eggs are left? "
    "Each egg costs $1,250.50."
)


def _stat(text: str, name: str) -> float:
    return prompt_statistics(text)[FEATURE_NAMES.index(name) - 4]


def test_lettered_options_make_a_multiple_choice_prompt_and_anything_else_is_free_form() -> None:
    assert prompt_form(CHOICE) == MULTIPLE_CHOICE
    assert prompt_form("Pick one:\n(a) red\n(b) blue") == MULTIPLE_CHOICE
    assert prompt_form("  A) yes\n  B) no") == MULTIPLE_CHOICE
    assert prompt_form(WORD_PROBLEM) == FREE_FORM
    assert prompt_form("A. Lincoln was president. Why?") == FREE_FORM  # one option is no choice
    assert prompt_form("") == FREE_FORM


def test_the_form_is_the_last_statistic_and_reads_back_from_it() -> None:
    assert FEATURE_NAMES[-1] == "multiple_choice" and len(FORMS) == 2
    assert form_of(prompt_statistics(CHOICE)) == MULTIPLE_CHOICE
    assert form_of(prompt_statistics(WORD_PROBLEM)) == FREE_FORM


def test_word_problem_statistics_count_numbers_sentences_and_arithmetic_words() -> None:
    assert _stat(WORD_PROBLEM, "log_numbers") == pytest.approx(math.log1p(3))  # 3, 12, 1,250.50
    assert _stat(WORD_PROBLEM, "log_largest_number") == pytest.approx(math.log1p(1250.5))
    assert _stat(WORD_PROBLEM, "log_sentences") == pytest.approx(math.log1p(4))
    # "each" twice, "half", "left"
    assert _stat(WORD_PROBLEM, "log_operation_words") == pytest.approx(math.log1p(4))
    assert _stat("No numbers here", "log_largest_number") == 0.0


def test_a_huge_number_stays_a_finite_statistic() -> None:
    stats = prompt_statistics("9" * 500 + " apples")
    assert all(math.isfinite(v) for v in stats)
    assert _stat("9" * 500, "log_largest_number") == pytest.approx(math.log1p(1e15))


@given(st.text(max_size=400))
def test_statistics_are_finite_and_one_per_feature(text: str) -> None:
    stats = prompt_statistics(text)
    assert len(stats) == STAT_COUNT == len(FEATURE_NAMES) - 4
    assert all(math.isfinite(v) for v in stats)
    assert all(0.0 <= stats[i] <= 1.0 for i in (2, 3, 4))


@given(st.text(max_size=300))
def test_byte_shares_count_digits_non_ascii_bytes_and_punctuation(text: str) -> None:
    raw = text.encode("utf-8", "replace")
    if not raw:
        return
    punctuation = set(b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    digits, non_ascii, punct = prompt_statistics(text)[2:5]
    assert digits == sum(48 <= b <= 57 for b in raw) / len(raw)
    assert non_ascii == sum(b >= 128 for b in raw) / len(raw)
    assert punct == sum(b in punctuation for b in raw) / len(raw)


@given(st.text(max_size=300))
def test_the_embedder_matches_its_definition(text: str) -> None:
    """Signed feature hashing, written out the slow way."""
    tokens = re.findall(r"[\w']+", text.lower())[:2048]
    expected = np.zeros(64, dtype=np.float32)
    for feature in tokens + [f"{a} {b}" for a, b in pairwise(tokens)]:
        h = zlib.crc32(feature.encode())
        expected[h % 64] += -1.0 if h & 0x80000000 else 1.0
    norm = float(np.linalg.norm(expected))
    if norm > 0:
        expected /= norm
    assert np.array_equal(HashingEmbedder(64).embed(text), expected)


def _bank(rows: int = 120, dimensions: int = 16, *, clusters: int = 6, seed: int = 3):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(rows, dimensions)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    need = (rng.random(rows) < 0.3).astype(np.float32)
    subject = rng.random(rows).astype(np.float32)
    forms = (rng.random(rows) < 0.25).astype(np.intp)  # a quarter free form
    bank, order = ExemplarBank.build(vectors, need, subject, forms, clusters=clusters)
    return bank, order, vectors, need, subject, forms


def _brute_force(query, vectors, need, subject, settings, exclude=-1):
    sims = vectors @ query
    candidates = [i for i in range(len(vectors)) if i != exclude]
    chosen = sorted(candidates, key=lambda i: -sims[i])[: settings.neighbours]
    near = sims[chosen].astype(np.float64)
    top = near.max()
    vote = np.exp(settings.vote_temperature * (near - top))
    topic = np.exp(settings.subject_temperature * (near - top))
    return (
        float(vote @ need[chosen] / vote.sum()),
        float(topic @ subject[chosen] / topic.sum()),
        float(near.mean()),
        float(top),
    )


def test_the_index_keeps_every_row_once_with_each_form_in_its_own_clusters() -> None:
    bank, order, vectors, need, _, forms = _bank()
    assert sorted(order.tolist()) == list(range(len(vectors)))
    assert np.array_equal(bank.embeddings, vectors[order])
    assert np.array_equal(bank.need, need[order])
    bounds = bank.form_clusters.tolist()
    assert bounds[0] == 0 and bounds[-1] == len(bank.centroids)
    for row in range(len(bank)):
        assert bank.form_of_row(row) == forms[order[row]]


@pytest.mark.parametrize("form", [MULTIPLE_CHOICE, FREE_FORM])
def test_searching_every_cluster_of_a_form_equals_a_brute_force_search_of_that_form(form) -> None:
    bank, _, vectors, need, subject, forms = _bank()
    settings = EvidenceSettings(neighbours=8, clusters=6, probes=100)
    same = forms == form
    rng = np.random.default_rng(7)
    for _ in range(10):
        query = rng.normal(size=16).astype(np.float32)
        query /= np.linalg.norm(query)
        found = bank.neighbours(query, settings, form)
        expected = _brute_force(query, vectors[same], need[same], subject[same], settings)
        assert found == pytest.approx(expected, abs=1e-6)


def test_leaving_a_row_out_equals_a_brute_force_search_without_it() -> None:
    bank, order, vectors, need, subject, forms = _bank()
    settings = EvidenceSettings(neighbours=8, clusters=6, probes=100)
    features = bank.evidence(bank.embeddings, settings, exclude_self=True)
    for row in (0, 17, len(bank) - 1):
        form = forms[order[row]]
        same = np.flatnonzero(forms == form)
        exclude = int(np.flatnonzero(same == order[row])[0])
        expected = _brute_force(
            bank.embeddings[row], vectors[same], need[same], subject[same], settings, exclude
        )
        assert features[row] == pytest.approx(expected, abs=1e-6)


def test_a_form_without_exemplars_searches_the_whole_bank() -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(40, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    need = (rng.random(40) < 0.5).astype(np.float32)
    subject = rng.random(40).astype(np.float32)
    bank, _ = ExemplarBank.build(vectors, need, subject, [MULTIPLE_CHOICE] * 40, clusters=3)
    settings = EvidenceSettings(neighbours=5, clusters=3, probes=10)
    query = vectors[3]
    assert bank.neighbours(query, settings, FREE_FORM) == bank.neighbours(
        query, settings, MULTIPLE_CHOICE
    )
    assert bank.neighbours(query, settings, FREE_FORM) == pytest.approx(
        _brute_force(query, vectors, need, subject, settings), abs=1e-6
    )


def test_the_bank_round_trips_through_its_file(tmp_path) -> None:
    bank, *_ = _bank()
    path = tmp_path / "bank.safetensors"
    bank.save(path)
    loaded = ExemplarBank.load(path)
    assert np.array_equal(loaded.form_clusters, bank.form_clusters)
    assert np.array_equal(loaded.offsets, bank.offsets)
    settings = EvidenceSettings(neighbours=8, clusters=6, probes=3)
    for form in (MULTIPLE_CHOICE, FREE_FORM):
        assert loaded.neighbours(bank.embeddings[5], settings, form) == pytest.approx(
            bank.neighbours(bank.embeddings[5], settings, form),
            abs=1e-3,  # F16 on disk
        )


def test_a_bank_of_the_previous_format_is_refused_by_name(tmp_path) -> None:
    bank, *_ = _bank()
    tensors = {
        "embeddings": bank.embeddings.astype("<f2"),
        "need": np.asarray(bank.need),
        "subject": np.asarray(bank.subject),
        "centroids": np.asarray(bank.centroids),
        "offsets": np.asarray(bank.offsets),
    }
    path = tmp_path / "old.safetensors"
    save_file(tensors, str(path), metadata={"format": "routerproject-exemplar-bank-v1"})
    with pytest.raises(ModelFileError, match="exemplar-bank-v1"):
        ExemplarBank.load(path)


def test_form_clusters_must_cover_the_index() -> None:
    bank, *_ = _bank()
    with pytest.raises(ValueError, match="forms"):
        ExemplarBank(
            bank.embeddings,
            bank.need,
            bank.subject,
            bank.centroids,
            bank.offsets,
            np.array([0, 1, 2], dtype=np.int64),
        )


def test_scorer_metadata_of_the_previous_feature_set_is_refused() -> None:
    scorer = {
        "format": "routerproject-prompt-scorer-v1",
        "features": list(FEATURE_NAMES[:12]),
        "mean": [0.0] * 12,
        "scale": [1.0] * 12,
    }
    with pytest.raises(ModelFileError, match="prompt-scorer-v1"):
        ScorerSpec.from_metadata({"scorer": json.dumps(scorer)}, "old.safetensors")


# The statistics' patterns written the plain way: the grouped ones in `scorer` must match alike.
_PLAIN_CODE = re.compile(r"```|\bdef |\bclass |\breturn\b|[{};]\s*$|#include|=>|\bfunction\b", re.M)
_PLAIN_OPERATION = re.compile(
    r"\b(?:percent|twice|half|times|each|per|every|average|ratio|fraction|total|remaining|left"
    r"|more than|less than)\b",
    re.I,
)
# Letters of the words, code marks, and characters that case-fold to ASCII letters (long s,
# Kelvin sign, dotted and dotless i).
_WORDY = st.text(
    alphabet=st.sampled_from(
        list("perctwihalfmsvgoxdnuy PERCENT{};=>#`\n.\u017f\u212a\u0130\u0131")
    ),
    max_size=120,
) | st.text(max_size=120)


def _assert_like_plain(text: str) -> None:
    stats = prompt_statistics(text)
    if not text:
        return
    assert stats[FEATURE_NAMES.index("looks_like_code") - 4] == float(
        bool(_PLAIN_CODE.search(text))
    )
    assert stats[FEATURE_NAMES.index("log_operation_words") - 4] == math.log1p(
        len(_PLAIN_OPERATION.findall(text))
    )


@given(_WORDY)
def test_grouped_patterns_match_like_the_plain_ones(text: str) -> None:
    _assert_like_plain(text)


@pytest.mark.parametrize(
    "text",
    [
        "Per person, each one pays percent of the total; the rest remaining is left. Every time?",
        "It is MORE THAN twice the average ratio, less than half a fraction.",
        "def f():\n    return 1",
        "x => y",
        "#include <stdio.h>",
        "int x = 1;\nfunction g() {}",
        "classes and defaults, percentage, returned, pert",
    ],
)
def test_grouped_patterns_match_like_the_plain_ones_on_examples(text: str) -> None:
    _assert_like_plain(text)


def test_word_problem_statistics_count_quantities_units_and_cues() -> None:
    from routing.neural.scorer import WORD_PROBLEM_NAMES, word_problem_statistics

    stats = dict(zip(WORD_PROBLEM_NAMES, word_problem_statistics(WORD_PROBLEM), strict=True))
    assert len(WORD_PROBLEM_NAMES) == 15
    assert stats["log_distinct_numbers"] == pytest.approx(math.log1p(3))  # 3, 12, 1250.50
    assert stats["log_number_words"] == pytest.approx(math.log1p(1))  # "half"
    assert stats["log_quantities"] == pytest.approx(math.log1p(4))
    assert stats["log_money_words"] == pytest.approx(math.log1p(3))  # "buys", "costs", "$"
    assert stats["log_fractions"] == pytest.approx(math.log1p(1))
    assert stats["percent"] == 0.0 and word_problem_statistics("20% off")[3] == 1.0
    assert stats["log_number_sum"] == pytest.approx(math.log1p(3 + 12 + 1250.5))


@given(st.text(max_size=300))
def test_word_problem_statistics_are_finite(text: str) -> None:
    from routing.neural.scorer import WORD_PROBLEM_NAMES, word_problem_statistics

    stats = word_problem_statistics(text + " 9" * 3 + "9" * 400)
    assert len(stats) == len(WORD_PROBLEM_NAMES) and all(math.isfinite(v) for v in stats)


def test_the_free_form_head_fits_round_trips_and_scores_only_word_problems() -> None:
    from routing.neural.scorer import (
        HEAD_FEATURE_NAMES,
        Calibration,
        FreeFormHead,
        word_problem_statistics,
    )

    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, len(HEAD_FEATURE_NAMES)))
    labels = (features[:, 0] + 0.3 * rng.normal(size=200) > 0).astype(float)
    head = FreeFormHead.fit(features, labels, l2=1.0)
    scores = head.score(features)
    assert scores.dtype == np.float32 and np.all((scores > 0) & (scores < 1))
    assert np.corrcoef(scores, features[:, 0])[0, 1] > 0.8
    assert FreeFormHead.from_json(json.loads(json.dumps(head.to_json()))) == head
    spec = ScorerSpec(
        mean=(0.0,) * len(FEATURE_NAMES),
        scale=(1.0,) * len(FEATURE_NAMES),
        dimensions=64,
        evidence=EvidenceSettings(),
        calibration=Calibration.from_scores(scores),
        training={},
        free_form_head=head,
    )
    again = ScorerSpec.from_metadata(spec.to_metadata(), "memory")
    assert again.free_form_head == head
    assert np.array_equal(again.free_form_head.score(features), scores)
    assert FreeFormHead.applies(word_problem_statistics(WORD_PROBLEM))
    assert FreeFormHead.applies(word_problem_statistics("Split two pies among three kids."))
    assert not FreeFormHead.applies(word_problem_statistics("Tell me a joke about cats."))
    assert not FreeFormHead.applies(word_problem_statistics("What is the square root of 2?"))
    with pytest.raises(ValueError):
        FreeFormHead((0.0,), (1.0,), (0.0,), 0.0)
