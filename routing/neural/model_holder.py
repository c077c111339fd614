"""The model in service, swapped atomically on successful reload.

Readers take `holder.current` once per request and use that object throughout, so a
concurrent reload never mixes two models within one decision.  Rebinding an attribute
is atomic in CPython; the lock only serialises concurrent loaders.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from routing.neural.fastgrnn import FastGRNN, ScoringKernel
from routing.neural.model_file import parse_model, read_model_bytes
from routing.neural.quantization import QuantizedFastGRNN, quantize_model


@dataclass(frozen=True, slots=True)
class ServedModel:
    """A validated model ready for scoring, with where it came from."""

    model: FastGRNN
    kernel: ScoringKernel
    path: str
    size_bytes: int
    quantized: bool
    load_time_ms: float
    quantized_model: QuantizedFastGRNN | None = None


def prepare_model(
    model: FastGRNN,
    *,
    quantize: bool,
    path: str = "<memory>",
    size_bytes: int = 0,
    load_time_ms: float = 0.0,
) -> ServedModel:
    """Build the serving form; when quantizing, the kernel runs on the int8 grid values."""
    quantized = quantize_model(model) if quantize else None
    served = quantized.dequantize() if quantized is not None else model
    return ServedModel(
        model=served,
        kernel=ScoringKernel(served),
        path=path,
        size_bytes=size_bytes,
        quantized=quantized is not None,
        load_time_ms=load_time_ms,
        quantized_model=quantized,
    )


class ModelHolder:
    def __init__(
        self,
        *,
        quantize: bool = True,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._quantize = quantize
        self._timer = timer
        self._lock = threading.Lock()
        self._current: ServedModel | None = None

    @property
    def current(self) -> ServedModel | None:
        return self._current

    def install(self, model: FastGRNN, path: str = "<memory>") -> ServedModel:
        """Serve an in-memory model (tests, freshly trained weights)."""
        served = prepare_model(model, quantize=self._quantize, path=path)
        with self._lock:
            self._current = served
        return served

    def load(
        self,
        path: str | os.PathLike[str],
        accept: Callable[[FastGRNN], None] | None = None,
    ) -> ServedModel:
        """Load `path` and serve it; on `ModelFileError` the previous model stays in service.

        `accept` may veto a well-formed model that does not fit the caller by raising
        `ModelFileError` (for instance a different input width).
        """
        with self._lock:
            started = self._timer()
            where = str(path)
            raw = read_model_bytes(path)
            model = parse_model(raw, where)
            if accept is not None:
                accept(model)
            served = prepare_model(
                model,
                quantize=self._quantize,
                path=where,
                size_bytes=len(raw),
                load_time_ms=(self._timer() - started) * 1000.0,
            )
            self._current = served
            return served
