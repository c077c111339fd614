import io
import json
from pathlib import Path

import numpy as np
import pytest

from routing.neural.backprop import Batch, LossSettings, loss_and_gradients
from routing.neural.fastgrnn import TENSOR_NAMES, FastGRNNConfig, initialize
from routing.neural.model_file import load_model
from routing.neural.train_cli import main, progress_bar
from routing.neural.training import Adam, TrainingOptions, clip_by_global_norm, train
from routing.neural.training_data import Dataset, TrainingDataError, load_jsonl


def _params(cfg: FastGRNNConfig, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.normal(0, 0.7, size=shape) for name, shape in cfg.tensor_shapes().items()}


@pytest.mark.parametrize("with_h0", [False, True])
def test_gradients_match_finite_differences(with_h0: bool) -> None:
    cfg = FastGRNNConfig(input_dim=5, hidden_dim=4, output_dim=2, nu=1.3, zeta=0.8)
    rng = np.random.default_rng(1)
    teacher = rng.normal(size=6)
    teacher[::2] = np.nan
    batch = Batch(
        rng.normal(size=(6, 5)),
        (rng.uniform(size=6) > 0.5).astype(float),
        teacher,
        rng.normal(size=4) if with_h0 else None,
    )
    settings = LossSettings(l2=0.01, distill_weight=0.4, temperature=2.5)
    params = _params(cfg, 2)
    _, grads = loss_and_gradients(cfg, params, batch, settings)
    eps = 1e-6
    for name in TENSOR_NAMES:
        numeric = np.zeros_like(params[name])
        for idx in np.ndindex(params[name].shape):
            old = params[name][idx]
            params[name][idx] = old + eps
            up, _ = loss_and_gradients(cfg, params, batch, settings)
            params[name][idx] = old - eps
            down, _ = loss_and_gradients(cfg, params, batch, settings)
            params[name][idx] = old
            numeric[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-5, atol=1e-8, err_msg=name)
    if not with_h0:  # with h0 = 0 the reset path carries no gradient except L2
        np.testing.assert_allclose(grads["b_reset"], 0.0, atol=1e-12)


def test_forward_matches_float32_model() -> None:
    model = initialize(FastGRNNConfig(nu=1.2, zeta=0.9), seed=3)
    params = {k: v.astype(np.float64) for k, v in model.tensors.items()}
    x = np.random.default_rng(0).uniform(size=(10, 5))
    from routing.neural.backprop import forward_logits

    z = forward_logits(model.config, params, Batch(x, np.zeros(10), np.full(10, np.nan)))[:, 0]
    np.testing.assert_allclose(1 / (1 + np.exp(-z)), model.predict(x), atol=1e-6)


def test_clip_by_global_norm() -> None:
    grads = {"a": np.array([3.0]), "b": np.array([4.0])}
    clipped, norm = clip_by_global_norm(grads, 1.0)
    assert norm == pytest.approx(5.0)
    assert np.hypot(clipped["a"][0], clipped["b"][0]) == pytest.approx(1.0)
    assert clip_by_global_norm(grads, 10.0)[0] is grads


def test_adam_minimises_quadratic() -> None:
    params = {"w": np.array([5.0, -3.0])}
    adam = Adam(params, 0.9, 0.999, 1e-8)
    for _ in range(500):
        adam.step(params, {"w": 2 * params["w"]}, 0.1)
    np.testing.assert_allclose(params["w"], 0.0, atol=1e-2)


def _separable(n: int = 400, seed: int = 0, teacher: bool = False) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 5))
    logit = 4 * x[:, 0] + 3 * x[:, 3]
    return Dataset(x, (logit > 0).astype(float), logit if teacher else np.full(n, np.nan))


def test_loss_decreases_on_separable_data() -> None:
    result = train(_separable(), TrainingOptions(epochs=30, patience=30, seed=1))
    losses = [r.train_loss for r in result.history]
    assert losses[-1] < 0.5 * losses[0]
    assert result.history[-1].validation_accuracy is not None
    assert result.history[-1].validation_accuracy > 0.9


def test_distillation_path_trains() -> None:
    result = train(_separable(teacher=True), TrainingOptions(epochs=20, patience=20))
    assert result.history[-1].train_accuracy > 0.9


def test_same_seed_same_weights() -> None:
    data, opts = _separable(), TrainingOptions(epochs=5, seed=7)
    a, b = train(data, opts), train(data, opts)
    for name in TENSOR_NAMES:
        np.testing.assert_array_equal(a.model[name], b.model[name])
    c = train(data, TrainingOptions(epochs=5, seed=8))
    assert not np.array_equal(a.model["w_update"], c.model["w_update"])


def test_early_stopping_triggers_and_keeps_best() -> None:
    rng = np.random.default_rng(0)
    noise = Dataset(
        rng.uniform(size=(200, 5)),
        (rng.uniform(size=200) > 0.5).astype(float),
        np.full(200, np.nan),
    )
    result = train(noise, TrainingOptions(epochs=200, patience=3, learning_rate=0.05))
    assert result.stopped_early
    assert len(result.history) < 200
    assert len(result.history) - result.best_epoch == 3
    best = min(r.validation_loss for r in result.history if r.validation_loss is not None)
    assert result.history[result.best_epoch - 1].validation_loss == best


def test_rank_constrained_training() -> None:
    cfg = FastGRNNConfig(rank=2)
    result = train(_separable(), TrainingOptions(epochs=3, model=cfg))
    assert np.linalg.matrix_rank(result.model["w_update"].astype(np.float64), tol=1e-4) <= 2


def _write_jsonl(path: Path, data: Dataset) -> Path:
    with path.open("w") as fh:
        for x, y, t in zip(data.features, data.labels, data.teacher_logits, strict=True):
            row = {"features": x.tolist(), "label": int(y)}
            if not np.isnan(t):
                row["teacher_logit"] = float(t)
            fh.write(json.dumps(row) + "\n")
    return path


def test_load_jsonl_and_errors(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "d.jsonl", _separable(20, teacher=True))
    data = load_jsonl(path)
    assert len(data) == 20 and not np.isnan(data.teacher_logits).any()
    for bad in [
        '{"features": [1, 2], "label": 1}',
        '{"features": [0,0,0,0,0], "label": 2}',
        "not json",
        '{"features": [0,0,0,0,"x"], "label": 0}',
    ]:
        (tmp_path / "bad.jsonl").write_text(bad + "\n")
        with pytest.raises(TrainingDataError, match=r"bad\.jsonl:1"):
            load_jsonl(tmp_path / "bad.jsonl")


def test_cli_trains_and_saves(tmp_path: Path) -> None:
    data = _write_jsonl(tmp_path / "d.jsonl", _separable(300))
    out = tmp_path / "m.safetensors"
    buffer = io.StringIO()
    code = main([str(data), "--out", str(out), "--epochs", "4", "--seed", "3"], stdout=buffer)
    assert code == 0
    text = buffer.getvalue()
    assert "epoch   4" in text and "val_acc" in text and "[####" in text
    model = load_model(out)
    assert model.config.input_dim == 5


def test_cli_reports_bad_data(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text("{}\n")
    buffer = io.StringIO()
    assert main([str(tmp_path / "d.jsonl"), "--out", str(tmp_path / "m")], stdout=buffer) == 2
    assert "error" in buffer.getvalue()


def test_progress_bar() -> None:
    assert progress_bar(5, 10, width=10) == "[#####.....] 5/10"
    assert progress_bar(0, 0, width=4) == "[....] 0/0"
