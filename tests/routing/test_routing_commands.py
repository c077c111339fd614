"""The router's command-line tools end to end: train_router --labeled, score_prompts,
import_routing_data and retrain_router (the job the schedule runs), bad files included."""

import json
import subprocess
import time

import pytest
from django.core.management import CommandError, call_command

from configversions.models import ConfigVersion
from routerproject import generations
from routing.live_config import get_live_config
from routing.models import RoutingExemplar, RoutingLabel, ServiceType
from routing.neural.prompt_model import load_prompt_model
from routing.neural.scorer import FEATURE_COUNT, bank_path
from routing.neural_runtime import runtime
from tests.processes import ROOT, manage, project_env
from tests.routing.labelled import labelled_file, prompts_file

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh(settings):
    settings.LIVE_CONFIG_CHECK_INTERVAL = 0
    generations.forget()
    yield
    generations.forget()


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return manage(*args, env=project_env(**env))


def test_train_router_labeled_writes_a_scorer_with_its_bank_calibration_and_facts(tmp_path):
    data = labelled_file(tmp_path / "labelled.jsonl")
    out = tmp_path / "scorer.safetensors"
    result = _manage("train_router", "--labeled", str(data), "--out", str(out), "--seed", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "epoch" in result.stdout and "held out" in result.stdout
    assert "[###" in result.stdout  # the progress bar
    model = load_prompt_model(out)
    assert model.model.config.input_dim == FEATURE_COUNT
    assert bank_path(out).is_file()
    facts = model.spec.training
    assert facts["seed"] == 3 and facts["rows"] == 160
    assert facts["trainingRows"] + facts["heldOutRows"] == 160
    assert len(model.bank) == facts["trainingRows"]
    assert 0.0 <= model.score("Tom has 3 apples and buys 4 more. How many?") <= 1.0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"id": "x", "prompt": "p", "weak": 2, "strong": 1}', "'weak' must be 0 or 1"),
        ('{"id": "x", "weak": 1, "strong": 1}', "'prompt' must be a non-empty string"),
        ('{"prompt": "p", "weak": 1, "strong": 1}', "'id' must be a non-empty string"),
    ],
)
def test_train_router_refuses_a_bad_file_naming_the_line_and_keeps_the_model(
    tmp_path, line, message
):
    data = labelled_file(tmp_path / "labelled.jsonl", count=30)
    data.write_text(data.read_text() + line + "\n")
    out = tmp_path / "scorer.safetensors"
    out.write_bytes(b"the model in service")
    result = _manage("train_router", "--labeled", str(data), "--out", str(out))
    assert result.returncode == 2
    assert f"labelled.jsonl:31: {message}" in result.stdout
    assert out.read_bytes() == b"the model in service"


def test_score_prompts_uses_the_gateways_router_and_model(tmp_path):
    prompts = {
        "a": "hi",
        "b": "Prove that there are infinitely many primes, then generalise the argument.",
        7: "What is 17 times 23?",
    }
    source = prompts_file(tmp_path / "prompts.jsonl", prompts)
    out = tmp_path / "scores.jsonl"
    call_command("score_prompts", str(source), "--out", str(out))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["id"] for line in lines] == ["a", "b", 7]
    router = runtime.current(get_live_config().router)
    for line, prompt in zip(lines, prompts.values(), strict=True):
        decision = router.decide(prompt)
        assert line["score"] == pytest.approx(decision.score, abs=1e-6)
        assert line["tier"] == ("lightweight" if decision.use_lightweight else "powerful")
        assert 0.0 <= line["score"] <= 1.0


def test_score_prompts_needs_no_server_and_loads_quickly(tmp_path):
    source = prompts_file(tmp_path / "prompts.jsonl", {"q": "Name three prime numbers."})
    started = time.perf_counter()
    model = load_prompt_model(ROOT / "models" / "fastgrnn.safetensors")
    assert time.perf_counter() - started < 5.0 and len(model.bank) > 0
    database = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "ROUTER_VAR_DIR": str(tmp_path),
    }
    assert _manage("migrate", "--noinput", **database).returncode == 0
    started = time.perf_counter()
    result = _manage("score_prompts", str(source), **database)
    assert result.returncode == 0, result.stderr
    assert time.perf_counter() - started < 15.0  # interpreter, Django and the model together
    line = json.loads(result.stdout)
    assert set(line) == {"id", "score", "tier"} and line["tier"] in ("lightweight", "powerful")


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json\n", "prompts.jsonl:1: not valid JSON"), ('{"id": 1}\n', "string 'prompt'")],
)
def test_score_prompts_refuses_a_bad_file(tmp_path, content, message):
    source = tmp_path / "prompts.jsonl"
    source.write_text(content)
    with pytest.raises(CommandError, match=message):
        call_command("score_prompts", str(source))


def test_import_routing_data_checks_the_whole_file_first_and_updates_by_id(tmp_path):
    good = labelled_file(tmp_path / "good.jsonl", count=20)
    call_command("import_routing_data", str(good))
    assert RoutingLabel.objects.count() == 20
    before = list(RoutingLabel.objects.values_list("key", "weak", "strong"))

    bad = labelled_file(tmp_path / "bad.jsonl", count=20, start=20)
    bad.write_text(bad.read_text() + '{"id": "z", "prompt": "p", "weak": 1}\n')
    with pytest.raises(CommandError, match=r"bad.jsonl:21: 'strong' must be 0 or 1.*nothing"):
        call_command("import_routing_data", str(bad))
    assert list(RoutingLabel.objects.values_list("key", "weak", "strong")) == before

    first = json.loads(good.read_text().splitlines()[0])
    flipped = {**first, "weak": 1 - first["weak"]}
    (tmp_path / "again.jsonl").write_text(json.dumps(flipped) + "\n")
    call_command("import_routing_data", str(tmp_path / "again.jsonl"))
    assert RoutingLabel.objects.count() == 20
    assert RoutingLabel.objects.get(key=first["id"]).weak == flipped["weak"]


def _traffic_verdict(need: bool) -> None:
    import numpy as np

    from routing.neural.embedding import HashingEmbedder
    from routing.neural.scorer import prompt_statistics

    text = "A bakery sells 12 muffins an hour for 7 hours. How many muffins?"
    RoutingExemplar.objects.create(
        service_type=ServiceType.objects.get(name="chat"),
        prompt_hash="h" * 64,
        embedding=HashingEmbedder(256).embed(text).astype("<f4").tobytes(),
        stats=np.asarray(prompt_statistics(text), dtype="<f4").tobytes(),
        verdicts=2,
        need_votes=2 if need else 0,
    )


def test_retraining_learns_from_shipped_imported_and_traffic_labels_and_goes_live(
    tmp_path, settings
):
    settings.NEURAL_TRAINING_DATA = [str(labelled_file(tmp_path / "shipped.jsonl", count=120))]
    settings.NEURAL_RETRAINED_MODEL = str(tmp_path / "var" / "retrained.safetensors")
    call_command("import_routing_data", str(labelled_file(tmp_path / "more.jsonl", 60, 300)))
    _traffic_verdict(need=True)
    versions = ConfigVersion.objects.count()

    call_command("retrain_router")

    assert ConfigVersion.objects.count() == versions + 1
    router = runtime.current(get_live_config().router)
    served = router.served_model
    assert served is not None and served.path == settings.NEURAL_RETRAINED_MODEL
    facts = router.prompt_model.spec.training
    assert facts["rows"] == 180 and facts["trafficRows"] == 1
    assert not (tmp_path / "var" / "retrained.next.safetensors").exists()

    call_command("retrain_router")  # the same path again: a reload, no new version
    assert ConfigVersion.objects.count() == versions + 1
    assert runtime.current(get_live_config().router).served_model is not served


def test_retraining_on_a_bad_file_keeps_the_model_in_service(tmp_path, settings):
    broken = labelled_file(tmp_path / "shipped.jsonl", count=50)
    broken.write_text(broken.read_text() + "oops\n")
    settings.NEURAL_TRAINING_DATA = [str(broken)]
    settings.NEURAL_RETRAINED_MODEL = str(tmp_path / "retrained.safetensors")
    before = runtime.current(get_live_config().router).served_model
    versions = ConfigVersion.objects.count()
    with pytest.raises(CommandError, match=r"shipped.jsonl:51: not valid JSON.*unchanged"):
        call_command("retrain_router")
    assert ConfigVersion.objects.count() == versions
    assert not (tmp_path / "retrained.safetensors").exists()
    assert runtime.current(get_live_config().router).served_model is before


def test_the_retraining_job_runs_on_celery_and_reports_a_failure(tmp_path, settings):
    from routing.tasks import retrain_router

    settings.NEURAL_TRAINING_DATA = [str(tmp_path / "missing.jsonl")]
    result = retrain_router.delay().get()
    assert "missing.jsonl" in result["error"]
    settings.NEURAL_TRAINING_DATA = [str(labelled_file(tmp_path / "shipped.jsonl", count=120))]
    settings.NEURAL_RETRAINED_MODEL = str(tmp_path / "retrained.safetensors")
    result = retrain_router.delay().get()
    assert result["labelledRows"] == 120 and result["modelPath"].endswith("retrained.safetensors")
