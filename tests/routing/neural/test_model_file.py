import json
import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from routing.neural.fastgrnn import TENSOR_NAMES, FastGRNNConfig, initialize
from routing.neural.model_file import (
    FORMAT_TAG,
    ModelFileError,
    config_to_json,
    load_model,
    save_model,
)
from routing.neural.model_holder import ModelHolder


def _write(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> Path:
    save_file(tensors, str(path), metadata=metadata)
    return path


def _valid_parts(cfg: FastGRNNConfig | None = None) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    model = initialize(cfg or FastGRNNConfig(), seed=0)
    tensors = {name: np.array(model[name]) for name in TENSOR_NAMES}
    return tensors, {"format": FORMAT_TAG, "config": config_to_json(model.config)}


def test_round_trip_reproduces_predictions(tmp_path: Path) -> None:
    cfg = FastGRNNConfig(input_dim=5, hidden_dim=8, nu=1.5, zeta=0.9, rank=3)
    model = initialize(cfg, seed=11)
    path = tmp_path / "m.safetensors"
    save_model(model, path)
    loaded = load_model(path)
    assert loaded.config == cfg
    x = np.random.default_rng(0).uniform(size=(64, 5)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), atol=1e-6)
    assert not list(tmp_path.glob("*.tmp"))


def test_file_layout_is_little_endian_f32_with_metadata(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save_model(initialize(seed=0), path)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    assert header["__metadata__"]["format"] == FORMAT_TAG
    assert json.loads(header["__metadata__"]["config"]) == {
        "input_dim": 5,
        "hidden_dim": 8,
        "output_dim": 1,
        "nu": 1.0,
        "zeta": 1.0,
        "rank": None,
    }
    assert header["w_reset"] == {**header["w_reset"], "dtype": "F32", "shape": [8, 5]}
    assert header["w_output"]["shape"] == [1, 8]
    assert header["b_output"]["shape"] == [1]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "absent.safetensors")


def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save_model(initialize(seed=0), path)
    raw = path.read_bytes()
    for cut in (0, 4, 20, len(raw) - 4):
        path.write_bytes(raw[:cut])
        with pytest.raises(ModelFileError):
            load_model(path)


def test_garbage_file(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    path.write_bytes(struct.pack("<Q", 5) + b"nope!" + b"\0" * 16)
    with pytest.raises(ModelFileError, match="JSON"):
        load_model(path)


def test_wrong_format_string(tmp_path: Path) -> None:
    tensors, meta = _valid_parts()
    path = _write(tmp_path / "m.safetensors", tensors, {**meta, "format": "something-else"})
    with pytest.raises(ModelFileError, match="format"):
        load_model(path)


def test_missing_metadata(tmp_path: Path) -> None:
    tensors, _ = _valid_parts()
    path = _write(tmp_path / "m.safetensors", tensors, {"format": FORMAT_TAG})
    with pytest.raises(ModelFileError, match="config"):
        load_model(path)


def test_missing_tensor(tmp_path: Path) -> None:
    tensors, meta = _valid_parts()
    del tensors["w_recurrent"]
    with pytest.raises(ModelFileError, match="w_recurrent"):
        load_model(_write(tmp_path / "m.safetensors", tensors, meta))


def test_shape_mismatch_with_config(tmp_path: Path) -> None:
    tensors, meta = _valid_parts()
    tensors["w_update"] = np.zeros((8, 6), dtype=np.float32)
    with pytest.raises(ModelFileError, match="shape"):
        load_model(_write(tmp_path / "m.safetensors", tensors, meta))


def test_wrong_dtype(tmp_path: Path) -> None:
    tensors, meta = _valid_parts()
    tensors["b_output"] = tensors["b_output"].astype(np.float64)
    with pytest.raises(ModelFileError, match="dtype"):
        load_model(_write(tmp_path / "m.safetensors", tensors, meta))


def test_non_finite_weights(tmp_path: Path) -> None:
    tensors, meta = _valid_parts()
    tensors["w_candidate"][0, 0] = np.nan
    with pytest.raises(ModelFileError, match="NaN"):
        load_model(_write(tmp_path / "m.safetensors", tensors, meta))


def test_invalid_config_values(tmp_path: Path) -> None:
    tensors, meta = _valid_parts()
    bad = json.dumps({**json.loads(meta["config"]), "nu": -1})
    with pytest.raises(ModelFileError, match="config"):
        load_model(_write(tmp_path / "m.safetensors", tensors, {**meta, "config": bad}))


def test_holder_keeps_previous_model_on_failure(tmp_path: Path) -> None:
    good = tmp_path / "good.safetensors"
    save_model(initialize(seed=1), good)
    ticks = iter([10.0, 10.25, 20.0, 20.5])
    holder = ModelHolder(quantize=False, timer=lambda: next(ticks))
    served = holder.load(good)
    assert holder.current is served
    assert served.path == str(good)
    assert served.size_bytes == good.stat().st_size
    assert served.quantized is False
    assert served.load_time_ms == pytest.approx(250.0)

    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(good.read_bytes()[:50])
    with pytest.raises(ModelFileError):
        holder.load(broken)
    assert holder.current is served


def test_holder_quantized_flag(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save_model(initialize(seed=1), path)
    served = ModelHolder(quantize=True).load(path)
    assert served.quantized is True
    assert served.quantized_model is not None
