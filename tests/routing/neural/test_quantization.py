import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from routing.neural.fastgrnn import WEIGHT_MATRIX_NAMES, initialize
from routing.neural.model_holder import prepare_model
from routing.neural.quantization import (
    quantization_report,
    quantize_model,
    quantize_tensor,
)

finite = st.floats(-1e3, 1e3, allow_nan=False, width=32)


@given(arrays(np.float32, st.tuples(st.integers(1, 12), st.integers(1, 12)), elements=finite))
@settings(max_examples=200, deadline=None)
def test_quantization_error_within_half_a_step(w: np.ndarray) -> None:
    q = quantize_tensor(w)
    assert q.values.dtype == np.int8
    assert -128 <= q.zero_point <= 127
    error = np.abs(q.dequantize().astype(np.float64) - w)
    # scale/2 from rounding, plus float32 rounding of the reconstructed value.
    bound = q.scale / 2 + 1e-6 * np.abs(w).max() + 1e-12
    assert error.max() <= bound


def test_zeros_stay_exact_and_constant_tensor() -> None:
    w = np.array([[0.0, 0.5, -0.25, 0.0]], dtype=np.float32)
    assert quantize_tensor(w).dequantize()[0, 0] == 0.0
    z = quantize_tensor(np.zeros((3, 3), dtype=np.float32))
    assert np.all(z.dequantize() == 0.0)


def test_quantized_model_is_what_serves() -> None:
    model = initialize(seed=4)
    served = prepare_model(model, quantize=True)
    q = quantize_model(model)
    for name in WEIGHT_MATRIX_NAMES:
        np.testing.assert_array_equal(served.model[name], q.weights[name].dequantize())
    x = np.random.default_rng(0).uniform(size=(20, 5)).astype(np.float32)
    np.testing.assert_allclose(served.kernel.score(x), served.model.predict(x), atol=1e-6)


def test_quantization_report_on_dataset() -> None:
    model = initialize(seed=4)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(500, 5)).astype(np.float32)
    y = (x[:, 0] > 0.5).astype(int)
    report = quantization_report(model, x, y)
    assert 0.0 <= report.max_abs_score_change < 0.02
    assert report.mean_abs_score_change <= report.max_abs_score_change
    assert report.decision_agreement > 0.95
    assert report.float_accuracy is not None and report.quantized_accuracy is not None
    assert report.quantized_bytes < report.float_bytes
