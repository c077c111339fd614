import subprocess
import sys

from routing.neural.model_file import load_model
from tests.processes import ROOT, project_env


def test_manage_py_train_router_writes_a_loadable_model(tmp_path):
    out = tmp_path / "fastgrnn.safetensors"
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "train_router",
            "data/router/train.jsonl",
            "--out",
            str(out),
            "--epochs",
            "2",
            "--seed",
            "3",
        ],
        cwd=ROOT,
        env=project_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "epoch" in result.stdout.lower()
    model = load_model(out)
    assert model.config.input_dim == 5


def test_a_missing_dataset_fails_with_a_message(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "train_router",
            str(tmp_path / "none.jsonl"),
            "--out",
            str(tmp_path / "m"),
        ],
        cwd=ROOT,
        env=project_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "none.jsonl" in (result.stderr + result.stdout)
