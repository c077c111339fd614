"""The committed models and data are usable as shipped, and the prompt scorer keeps its promises."""

from pathlib import Path

import numpy as np
import pytest

from routing.neural.model_file import load_model
from routing.neural.prompt_model import load_prompt_model
from routing.neural.prompt_router import PromptRouter
from routing.neural.prompt_training import is_held_out, load_labelled
from routing.neural.quality import apgr, pgr_curve
from routing.neural.router import Router, RouterConfig
from routing.neural.scorer import FEATURE_COUNT
from routing.neural.training_data import load_jsonl

ROOT = Path(__file__).resolve().parents[3]
SCORER = ROOT / "models" / "fastgrnn.safetensors"
CANDIDATES = ROOT / "models" / "candidates.safetensors"
CANDIDATE_DATA = ROOT / "data" / "router" / "train.jsonl"
LABELLED = [
    ROOT / "data" / "routing" / "mmlu-train.jsonl",
    ROOT / "data" / "routing" / "gsm8k-train.jsonl",
]
EVERYDAY = Path(__file__).parent / "data" / "everyday_prompts.jsonl"


@pytest.fixture(scope="module")
def scorer():
    return load_prompt_model(SCORER)


@pytest.fixture(scope="module")
def held_out():
    return [row for row in load_labelled(LABELLED) if is_held_out(row.id)]


def test_the_shipped_scorer_loads_with_its_bank_calibration_and_training_facts(scorer) -> None:
    assert scorer.model.config.input_dim == FEATURE_COUNT
    assert scorer.served.quantized
    facts = scorer.spec.training
    assert len(scorer.bank) == facts["trainingRows"] + facts["trafficRows"] > 9000
    assert facts["heldOutRows"] > 2000 and facts["stoppedEarly"] in (True, False)
    quantiles = scorer.spec.calibration.quantiles
    assert list(quantiles) == sorted(quantiles) and quantiles[0] < quantiles[-1]


def _apgr(scorer, rows) -> float:
    scores = scorer.score_many([r.prompt for r in rows])
    return apgr(pgr_curve(scores, [r.weak for r in rows], [r.strong for r in rows]))


def test_on_held_out_mmlu_the_scorer_beats_random_and_the_length_rule(scorer, held_out) -> None:
    mmlu = [r for r in held_out if r.domain != "gsm8k"]
    length = apgr(
        pgr_curve([len(r.prompt) for r in mmlu], [r.weak for r in mmlu], [r.strong for r in mmlu])
    )
    assert _apgr(scorer, mmlu) >= 0.64 > length + 0.05


def test_on_held_out_gsm8k_the_scorer_beats_random_and_the_length_rule(scorer, held_out) -> None:
    gsm8k = [r for r in held_out if r.domain == "gsm8k"]
    length = apgr(
        pgr_curve(
            [len(r.prompt) for r in gsm8k], [r.weak for r in gsm8k], [r.strong for r in gsm8k]
        )
    )
    assert _apgr(scorer, gsm8k) >= 0.62 > length + 0.05


def test_the_shipped_scorer_scores_word_problems_with_its_free_form_head(scorer) -> None:
    head = scorer.spec.free_form_head
    assert head is not None and head.rows == scorer.spec.training["freeFormHeadRows"] > 800
    problem = "Ann has 3 bags of 12 apples. She gives away half. How many apples are left?"
    assert scorer.score(problem) == pytest.approx(float(scorer.score_many([problem])[0]), abs=1e-6)
    chat = "Tell me a joke about cats."
    # not a word problem: the cell's score, as for a multiple-choice prompt
    vector = scorer.embed(chat)
    from routing.neural.scorer import prompt_statistics

    stats = prompt_statistics(chat)
    near = scorer.bank.neighbours(vector, scorer.spec.evidence, 1)
    cell = scorer.served.kernel.score(scorer.standardise(np.array([[*near, *stats]])))[0]
    assert scorer.score(chat) == pytest.approx(float(cell))


def test_the_default_settings_keep_between_20_and_80_percent_of_everyday_prompts_lightweight() -> (
    None
):
    import json

    prompts = [json.loads(line)["prompt"] for line in EVERYDAY.read_text().splitlines()]
    router = PromptRouter(
        RouterConfig(model_path=str(SCORER)), candidate_model_path=str(CANDIDATES)
    )
    lightweight = sum(router.decide(p).use_lightweight for p in prompts) / len(prompts)
    assert 0.2 <= lightweight <= 0.8, lightweight


def test_the_calibrated_threshold_meets_the_target_share_on_the_training_prompts(scorer) -> None:
    calibration = scorer.spec.calibration
    for share in (0.2, 0.4, 0.6):
        assert calibration.powerful_share(calibration.threshold(share)) == pytest.approx(
            share, abs=0.011
        )


def test_the_candidate_cell_loads_and_is_accurate_on_its_validation_split() -> None:
    model = load_model(CANDIDATES)
    assert model.config.input_dim == 5 and model.config.hidden_dim == 8
    _, validation = load_jsonl(CANDIDATE_DATA).split(0.2, seed=0)
    scores = model.predict(validation.features.astype(np.float32))
    assert np.mean((scores >= 0.5) == (validation.labels == 1)) > 0.8
    router = Router(RouterConfig(model_path=str(CANDIDATES)))
    assert router.load_error is None and router.served_model is not None


def test_the_shipped_data_is_small_and_attributed() -> None:
    assert CANDIDATE_DATA.stat().st_size < 1_000_000
    routing = ROOT / "data" / "routing"
    assert (routing / "LICENSE.RouteLLM").is_file()
    assert "RouteLLM" in (routing / "README.md").read_text()
