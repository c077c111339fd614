"""Int8 quantization and magnitude pruning of a FastGRNN.

Quantization is per-tensor and asymmetric: w ≈ (q - zero_point) · scale with q in
[-128, 127].  The range is widened to include 0 so that exact zeros (pruned weights)
stay exact.  Weight matrices are quantized; biases stay float32, as in common int8
schemes, because they are few and are added after the matmul.

Inference dequantizes once at load time: the router then runs the float kernel on
weights that are exactly the int8 grid values, which is what "serving the quantized
model" means for accuracy, without paying int8 → float conversions per request.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from routing.neural.fastgrnn import TENSOR_NAMES, WEIGHT_MATRIX_NAMES, FastGRNN, FastGRNNConfig

FloatArray = npt.NDArray[np.float32]
Int8Array = npt.NDArray[np.int8]

_QMIN, _QMAX = -128, 127


@dataclass(frozen=True, slots=True)
class QuantizedTensor:
    values: Int8Array
    scale: float
    zero_point: int

    def dequantize(self) -> FloatArray:
        centred = self.values.astype(np.float32) - np.float32(self.zero_point)
        out: FloatArray = centred * np.float32(self.scale)
        return out


def quantize_tensor(weights: npt.ArrayLike) -> QuantizedTensor:
    """Asymmetric per-tensor int8; every in-range weight is within scale/2 of its value."""
    w = np.asarray(weights, dtype=np.float32)
    low = min(float(w.min(initial=0.0)), 0.0)
    high = max(float(w.max(initial=0.0)), 0.0)
    if high == low:
        # All zeros: any scale represents it exactly; 1.0 keeps dequantize well defined.
        return QuantizedTensor(np.zeros(w.shape, dtype=np.int8), 1.0, 0)
    scale = (high - low) / (_QMAX - _QMIN)
    zero_point = int(np.clip(round(_QMIN - low / scale), _QMIN, _QMAX))
    q = np.clip(np.rint(w.astype(np.float64) / scale) + zero_point, _QMIN, _QMAX)
    return QuantizedTensor(q.astype(np.int8), scale, zero_point)


@dataclass(frozen=True, slots=True)
class QuantizedFastGRNN:
    config: FastGRNNConfig
    weights: dict[str, QuantizedTensor]
    biases: dict[str, FloatArray]

    def dequantize(self) -> FastGRNN:
        tensors = {name: q.dequantize() for name, q in self.weights.items()}
        tensors.update(self.biases)
        return FastGRNN(self.config, tensors)

    @property
    def size_bytes(self) -> int:
        """Parameter storage: int8 values, a float32 scale and int32 zero point per tensor."""
        weight_bytes = sum(q.values.nbytes + 8 for q in self.weights.values())
        return weight_bytes + sum(b.nbytes for b in self.biases.values())


def quantize_model(model: FastGRNN) -> QuantizedFastGRNN:
    weights = {name: quantize_tensor(model[name]) for name in WEIGHT_MATRIX_NAMES}
    biases = {
        name: np.array(model[name], dtype=np.float32)
        for name in TENSOR_NAMES
        if name not in WEIGHT_MATRIX_NAMES
    }
    return QuantizedFastGRNN(model.config, weights, biases)


@dataclass(frozen=True, slots=True)
class QuantizationReport:
    max_abs_score_change: float
    mean_abs_score_change: float
    decision_agreement: float
    float_accuracy: float | None
    quantized_accuracy: float | None
    float_bytes: int
    quantized_bytes: int


def quantization_report(
    model: FastGRNN,
    features: npt.ArrayLike,
    labels: npt.ArrayLike | None = None,
    threshold: float = 0.5,
) -> QuantizationReport:
    """How much int8 quantization moves scores and decisions on a dataset.

    Decisions are `score ≥ threshold`; accuracies are reported only when labels are given.
    """
    x = np.asarray(features, dtype=np.float32)
    quantized = quantize_model(model)
    float_scores = model.predict(x)
    quant_scores = quantized.dequantize().predict(x)
    change = np.abs(float_scores.astype(np.float64) - quant_scores)
    float_pick = float_scores >= threshold
    quant_pick = quant_scores >= threshold
    float_acc = quant_acc = None
    if labels is not None:
        y = np.asarray(labels).astype(bool)
        float_acc = float(np.mean(float_pick == y))
        quant_acc = float(np.mean(quant_pick == y))
    return QuantizationReport(
        max_abs_score_change=float(change.max(initial=0.0)),
        mean_abs_score_change=float(change.mean()) if change.size else 0.0,
        decision_agreement=float(np.mean(float_pick == quant_pick)) if x.size else 1.0,
        float_accuracy=float_acc,
        quantized_accuracy=quant_acc,
        float_bytes=sum(model[name].nbytes for name in TENSOR_NAMES),
        quantized_bytes=quantized.size_bytes,
    )
