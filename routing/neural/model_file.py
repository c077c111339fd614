"""The on-disk model: a safetensors file in the tiny-dancer FastGRNN v1 layout.

Tensors (all F32, little-endian): w_reset, w_update, w_candidate [H, I], w_recurrent
[H, H], w_output [O, H], b_reset, b_update, b_candidate [H], b_output [O].
Metadata: `format` = FORMAT_TAG and `config` = JSON of the FastGRNNConfig fields.

Every way a file can be unusable surfaces as `ModelFileError`, so the caller has a
single thing to catch before deciding to keep the model already in service.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load as load_safetensors
from safetensors.numpy import save_file

from routing.neural.fastgrnn import TENSOR_NAMES, FastGRNN, FastGRNNConfig

FORMAT_TAG = "ruvector-tiny-dancer-fastgrnn-v1"
_CONFIG_FIELDS = ("input_dim", "hidden_dim", "output_dim", "nu", "zeta", "rank")
# A model of a few thousand parameters has a header of a few kB; anything huge is not ours.
_MAX_HEADER_BYTES = 1 << 20


class ModelFileError(Exception):
    """The model file is missing, unreadable or not a valid FastGRNN v1 file."""


def config_to_json(config: FastGRNNConfig) -> str:
    return json.dumps({field: getattr(config, field) for field in _CONFIG_FIELDS})


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], None]) -> None:
    """Have `write(temporary name)` write the file, then move it to `path` in one step: readers
    never observe a half-written file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp_name)
        # mkstemp creates the file owner-only; a model file is not a secret.
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def save_model(
    model: FastGRNN, path: str | os.PathLike[str], extra_metadata: dict[str, str] | None = None
) -> None:
    """Write atomically, with `extra_metadata` beside the format tag and config."""
    tensors = {name: np.ascontiguousarray(model[name], dtype="<f4") for name in TENSOR_NAMES}
    metadata = {
        **(extra_metadata or {}),
        "format": FORMAT_TAG,
        "config": config_to_json(model.config),
    }
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def read_metadata(raw: bytes, where: str = "<bytes>") -> dict[str, str]:
    """The string metadata of a model file's header (format, config and any extra entries)."""
    metadata = _read_header(raw, where).get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise ModelFileError(f"{where}: __metadata__ is not a JSON object")
    return {str(k): str(v) for k, v in metadata.items()}


def _read_header(raw: bytes, where: str) -> dict[str, Any]:
    if len(raw) < 8:
        raise ModelFileError(f"{where}: file is {len(raw)} bytes, too short for safetensors")
    (header_len,) = struct.unpack("<Q", raw[:8])
    if header_len > _MAX_HEADER_BYTES or 8 + header_len > len(raw):
        raise ModelFileError(f"{where}: truncated or corrupt safetensors header")
    try:
        header = json.loads(raw[8 : 8 + header_len])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{where}: safetensors header is not valid JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise ModelFileError(f"{where}: safetensors header is not a JSON object")
    return header


def _parse_config(metadata: dict[str, Any], where: str) -> FastGRNNConfig:
    if metadata.get("format") != FORMAT_TAG:
        raise ModelFileError(
            f"{where}: format is {metadata.get('format')!r}, expected {FORMAT_TAG!r}"
        )
    try:
        fields = json.loads(metadata["config"])
        if not isinstance(fields, dict):
            raise TypeError("config metadata is not a JSON object")
        unknown = set(fields) - set(_CONFIG_FIELDS)
        if unknown:
            raise TypeError(f"unknown config fields {sorted(unknown)}")
        return FastGRNNConfig(**fields)
    except KeyError as exc:
        raise ModelFileError(f"{where}: metadata has no 'config' entry") from exc
    except (json.JSONDecodeError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{where}: invalid config metadata: {exc}") from exc


def parse_model(raw: bytes, where: str = "<bytes>") -> FastGRNN:
    """Validate and decode the bytes of a model file."""
    header = _read_header(raw, where)
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise ModelFileError(f"{where}: __metadata__ is not a JSON object")
    config = _parse_config(metadata, where)

    names = set(header) - {"__metadata__"}
    missing = [name for name in TENSOR_NAMES if name not in names]
    if missing:
        raise ModelFileError(f"{where}: missing tensors {missing}")
    extra = sorted(names - set(TENSOR_NAMES))
    if extra:
        raise ModelFileError(f"{where}: unexpected tensors {extra}")
    expected_shapes = config.tensor_shapes()
    for name in TENSOR_NAMES:
        entry = header[name]
        if not isinstance(entry, dict) or entry.get("dtype") != "F32":
            dtype = entry.get("dtype") if isinstance(entry, dict) else entry
            raise ModelFileError(f"{where}: tensor {name} has dtype {dtype!r}, expected 'F32'")
        if tuple(entry.get("shape", ())) != expected_shapes[name]:
            raise ModelFileError(
                f"{where}: tensor {name} has shape {entry.get('shape')}, "
                f"expected {list(expected_shapes[name])} for config {config}"
            )

    try:
        tensors = load_safetensors(raw)
    except Exception as exc:  # the binding raises its own, unexported error types
        raise ModelFileError(f"{where}: unreadable safetensors payload: {exc}") from exc
    for name in TENSOR_NAMES:
        if not np.all(np.isfinite(tensors[name])):
            raise ModelFileError(f"{where}: tensor {name} contains NaN or infinite values")
    return FastGRNN(config, {name: tensors[name] for name in TENSOR_NAMES})


def read_model_bytes(path: str | os.PathLike[str]) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise ModelFileError(f"{path}: model file not found") from exc
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read model file: {exc}") from exc


def load_model(path: str | os.PathLike[str]) -> FastGRNN:
    """Read and validate a model file; raises `ModelFileError` on any problem."""
    return parse_model(read_model_bytes(path), str(path))
