import numpy as np
import pytest

from routing.neural.fastgrnn import (
    FastGRNN,
    FastGRNNConfig,
    ScoringKernel,
    initialize,
    project_to_rank,
)


def _reference_score(model: FastGRNN, x: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """Straight transcription of the cell equations in float64, one candidate at a time."""
    t = {k: v.astype(np.float64) for k, v in model.tensors.items()}
    nu, zeta = model.config.nu, model.config.zeta
    out = []
    for row in x.astype(np.float64):
        r = 1 / (1 + np.exp(-nu * (t["w_reset"] @ row + t["b_reset"])))
        u = 1 / (1 + np.exp(-nu * (t["w_update"] @ row + t["b_update"])))
        c = np.tanh(
            zeta * (t["w_candidate"] @ row + t["w_recurrent"] @ (r * h0) + t["b_candidate"])
        )
        h = u * h0 + (1 - u) * c
        out.append(1 / (1 + np.exp(-(t["w_output"] @ h + t["b_output"])))[0])
    return np.array(out)


def test_default_config_matches_reference_sizes() -> None:
    cfg = FastGRNNConfig()
    assert (cfg.input_dim, cfg.hidden_dim, cfg.output_dim) == (5, 8, 1)
    assert cfg.rank is None


@pytest.mark.parametrize(
    "kwargs",
    [{"input_dim": 0}, {"hidden_dim": -1}, {"nu": 0.0}, {"zeta": float("nan")}, {"rank": 9}],
)
def test_invalid_config_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        FastGRNNConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("dims", [(5, 8, 1), (3, 4, 2), (128, 64, 1)])
def test_predict_matches_cell_equations(dims: tuple[int, int, int]) -> None:
    cfg = FastGRNNConfig(
        input_dim=dims[0], hidden_dim=dims[1], output_dim=dims[2], nu=1.3, zeta=0.7
    )
    model = initialize(cfg, seed=3)
    rng = np.random.default_rng(1)
    tensors = {
        k: rng.normal(size=v.shape).astype(np.float32) * 0.3 for k, v in model.tensors.items()
    }
    model = model.replace_tensors(tensors)
    x = rng.normal(size=(7, dims[0])).astype(np.float32)
    h0 = rng.normal(size=dims[1]).astype(np.float32)
    np.testing.assert_allclose(model.predict(x, h0), _reference_score(model, x, h0), atol=1e-5)
    zeros = np.zeros(dims[1], dtype=np.float32)
    np.testing.assert_allclose(model.predict(x), _reference_score(model, x, zeros), atol=1e-5)


@pytest.mark.parametrize("dims", [(5, 8, 1), (128, 64, 1), (4, 3, 2)])
def test_fused_kernel_agrees_with_reference(dims: tuple[int, int, int]) -> None:
    cfg = FastGRNNConfig(
        input_dim=dims[0], hidden_dim=dims[1], output_dim=dims[2], nu=0.8, zeta=1.2
    )
    model = initialize(cfg, seed=5)
    x = np.random.default_rng(2).normal(size=(50, dims[0])).astype(np.float32)
    np.testing.assert_allclose(ScoringKernel(model).score(x), model.predict(x), atol=1e-6)


def test_single_candidate_and_empty_batch() -> None:
    model = initialize(seed=1)
    x = np.full(5, 0.2, dtype=np.float32)
    assert model.predict(x).shape == (1,)
    assert model.predict(np.zeros((0, 5), dtype=np.float32)).shape == (0,)
    assert ScoringKernel(model).score(np.zeros((0, 5), dtype=np.float32)).shape == (0,)


def test_wrong_input_width_rejected() -> None:
    with pytest.raises(ValueError):
        initialize(seed=0).predict(np.zeros((2, 4), dtype=np.float32))


def test_seeded_initialisation_is_reproducible() -> None:
    a, b, c = initialize(seed=7), initialize(seed=7), initialize(seed=8)
    for name in a.tensors:
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.array_equal(a["w_reset"], c["w_reset"])


def test_tensors_are_read_only_copies() -> None:
    model = initialize(seed=0)
    with pytest.raises(ValueError):
        model["w_reset"][0, 0] = 1.0


def test_rank_constraint_applied() -> None:
    model = initialize(FastGRNNConfig(rank=2), seed=0)
    for name in ("w_reset", "w_update", "w_candidate"):
        assert np.linalg.matrix_rank(model[name].astype(np.float64), tol=1e-5) <= 2
    assert project_to_rank(initialize(seed=0)) is not None
