"""The committed default model and dataset are usable as shipped."""

from pathlib import Path

import numpy as np

from routing.neural.model_file import load_model
from routing.neural.router import Router, RouterConfig
from routing.neural.training_data import load_jsonl

ROOT = Path(__file__).resolve().parents[3]
MODEL = ROOT / "models" / "fastgrnn.safetensors"
DATA = ROOT / "data" / "router" / "train.jsonl"


def test_default_model_loads_and_is_accurate_on_its_validation_split() -> None:
    model = load_model(MODEL)
    assert model.config.input_dim == 5 and model.config.hidden_dim == 8
    _, validation = load_jsonl(DATA).split(0.2, seed=0)
    scores = model.predict(validation.features.astype(np.float32))
    assert np.mean((scores >= 0.5) == (validation.labels == 1)) > 0.8


def test_router_serves_the_default_model() -> None:
    router = Router(RouterConfig(model_path=str(MODEL)))
    assert router.load_error is None
    served = router.served_model
    assert served is not None and served.quantized and served.size_bytes == MODEL.stat().st_size


def test_dataset_is_small() -> None:
    assert DATA.stat().st_size < 1_000_000
