from pathlib import Path
from typing import Any

import numpy as np
import pytest

from routing.neural.fastgrnn import FastGRNN, FastGRNNConfig, initialize
from routing.neural.model_breaker import BreakerState
from routing.neural.model_file import ModelFileError, save_model
from routing.neural.route_request import (
    Candidate,
    CandidateBatch,
    RoutingRequest,
    RoutingRequestError,
)
from routing.neural.router import Router, RouterConfig

NOW = 1_700_000_000.0


def _confident_model(logit_bias: float = 6.0) -> FastGRNN:
    """All-zero weights: every candidate scores sigmoid(logit_bias)."""
    model = initialize(seed=0)
    tensors = {k: np.zeros_like(v) for k, v in model.tensors.items()}
    tensors["b_output"] = np.array([logit_bias], np.float32)
    return model.replace_tensors(tensors)


def _request(n: int = 3, dim: int = 4) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    return {
        "query_embedding": rng.normal(size=dim).tolist(),
        "metadata": {"lang": "en"},
        "candidates": [
            {
                "id": f"c{i}",
                "embedding": rng.normal(size=dim).tolist(),
                "metadata": {"lang": "en"} if i % 2 == 0 else {},
                "created_at": NOW - 60 * i,
                "access_count": 10 * i,
                "success_rate": 0.5 + 0.1 * i,
            }
            for i in range(n)
        ],
    }


def test_reference_config_defaults() -> None:
    cfg = RouterConfig()
    assert cfg.model_path == "./models/fastgrnn.safetensors"
    assert (cfg.confidence_threshold, cfg.max_uncertainty) == (0.85, 0.15)
    assert cfg.enable_circuit_breaker and cfg.circuit_breaker_threshold == 5
    assert cfg.enable_quantization and cfg.database_path is None


def test_route_response_shape_and_order() -> None:
    router = Router(RouterConfig(), model=initialize(seed=3))
    response = router.route(_request(6), now=NOW)
    assert response.candidates_processed == 6
    assert response.fallback is None
    assert response.inference_time_us >= response.feature_time_us >= 0
    confidences = [d.confidence for d in response.decisions]
    assert confidences == sorted(confidences, reverse=True)
    assert {d.candidate_id for d in response.decisions} == {f"c{i}" for i in range(6)}
    body = response.to_dict()
    assert set(body["decisions"][0]) == {
        "candidate_id",
        "confidence",
        "use_lightweight",
        "uncertainty",
    }


def test_route_matches_model_on_features() -> None:
    model = initialize(seed=3)
    router = Router(RouterConfig(enable_quantization=False), model=model)
    req = _request(5)
    response = router.route(req, now=NOW)
    from routing.neural.features import candidate_features, metadata_overlaps

    cands = req["candidates"]
    f = candidate_features(
        np.array(req["query_embedding"], np.float32),
        np.array([c["embedding"] for c in cands], np.float32),
        np.array([c["created_at"] for c in cands]),
        np.array([c["access_count"] for c in cands], np.float32),
        np.array([c["success_rate"] for c in cands], np.float32),
        metadata_overlaps(req["metadata"], [c["metadata"] for c in cands]),
        now=NOW,
    )
    expected = dict(zip([c["id"] for c in cands], model.predict(f).tolist(), strict=True))
    for d in response.decisions:
        assert d.confidence == pytest.approx(expected[d.candidate_id], abs=1e-6)


def test_confident_model_routes_lightweight() -> None:
    router = Router(RouterConfig(), model=_confident_model(6.0))
    response = router.route(_request(3), now=NOW)
    assert all(d.use_lightweight for d in response.decisions)
    assert [d.candidate_id for d in response.decisions] == ["c0", "c1", "c2"]  # ties: input order


def test_dataclass_request_and_empty_candidates() -> None:
    router = Router(RouterConfig(), model=initialize(seed=1))
    req = RoutingRequest([1.0, 0.0], [Candidate("a", [0.5, 0.5], created_at=NOW)])
    assert router.route(req, now=NOW).decisions[0].candidate_id == "a"
    empty = router.route({"query_embedding": [1.0], "candidates": []}, now=NOW)
    assert empty.decisions == [] and empty.candidates_processed == 0


def test_clock_used_when_now_omitted() -> None:
    router = Router(RouterConfig(), model=initialize(seed=1), clock=lambda: NOW)
    assert router.route(_request(2)).candidates_processed == 2


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: r["candidates"][0].update(embedding=[1.0, 2.0]),
        lambda r: r.update(query_embedding=[1.0]),
        lambda r: r.pop("candidates"),
        lambda r: r["candidates"][0].update(success_rate="high"),
    ],
)
def test_malformed_requests(mutate: Any) -> None:
    router = Router(RouterConfig(), model=initialize(seed=1))
    req = _request(3)
    mutate(req)
    with pytest.raises(RoutingRequestError):
        router.route(req, now=NOW)


def test_missing_model_falls_back_to_powerful_tier(tmp_path: Path) -> None:
    router = Router(RouterConfig(model_path=str(tmp_path / "absent.safetensors")))
    assert router.load_error is not None and "not found" in router.load_error
    response = router.route(_request(3), now=NOW)
    assert response.fallback == "model_unavailable"
    assert not any(d.use_lightweight for d in response.decisions)
    assert [d.uncertainty for d in response.decisions] == [1.0, 1.0, 1.0]


def test_reload_keeps_previous_model_on_bad_file(tmp_path: Path) -> None:
    good = tmp_path / "good.safetensors"
    save_model(initialize(seed=2), good)
    router = Router(RouterConfig(model_path=str(good)))
    served = router.served_model
    assert served is not None and served.quantized
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 3)
    with pytest.raises(ModelFileError):
        router.reload(str(bad))
    wide = tmp_path / "wide.safetensors"
    save_model(initialize(FastGRNNConfig(input_dim=7), seed=0), wide)
    with pytest.raises(ModelFileError, match="inputs"):
        router.reload(str(wide))
    assert router.served_model is served


def _nan_batch(n: int = 3) -> tuple[np.ndarray, CandidateBatch]:
    emb = np.ones((n, 2), np.float32)
    batch = CandidateBatch.from_arrays(
        [str(i) for i in range(n)], emb, np.full(n, np.nan), np.zeros(n), np.zeros(n)
    )
    return np.ones(2, np.float32), batch


def test_non_finite_scores_trip_the_breaker() -> None:
    clock = [NOW]
    router = Router(
        RouterConfig(circuit_breaker_threshold=2, circuit_breaker_recovery_seconds=30),
        model=_confident_model(),
        clock=lambda: clock[0],
    )
    query, bad = _nan_batch()
    _, good = _nan_batch()
    good = CandidateBatch.from_arrays(
        good.ids, good.embeddings, np.full(3, NOW), np.zeros(3), np.ones(3)
    )

    assert router.rank(query, bad, now=NOW).fallback == "non_finite_score"
    assert router.breaker_state(NOW) is BreakerState.CLOSED
    assert router.rank(query, bad, now=NOW).fallback == "non_finite_score"
    assert router.breaker_state(NOW) is BreakerState.OPEN
    # Open: even good requests go to the powerful tier without touching the model.
    open_route = router.rank(query, good, now=NOW + 1)
    assert open_route.fallback == "circuit_open"
    assert not open_route.decisions.use_lightweight.any()
    # After recovery the trial request runs and closes the breaker.
    assert router.breaker_state(NOW + 30) is BreakerState.HALF_OPEN
    assert router.rank(query, good, now=NOW + 30).fallback is None
    assert router.breaker_state(NOW + 30) is BreakerState.CLOSED


def test_breaker_disabled() -> None:
    router = Router(RouterConfig(enable_circuit_breaker=False), model=_confident_model())
    query, bad = _nan_batch()
    for _ in range(10):
        assert router.rank(query, bad, now=NOW).fallback == "non_finite_score"
    assert router.breaker_state(NOW) is None
