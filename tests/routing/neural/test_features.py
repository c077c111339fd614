import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from routing.neural.features import (
    FeatureWeights,
    candidate_features,
    metadata_overlap,
    metadata_overlaps,
)

NOW = 1_700_000_000.0


def _features(query, embeddings, created, access, success, overlap, **kw):  # type: ignore[no-untyped-def]
    return candidate_features(
        np.asarray(query, np.float32),
        np.asarray(embeddings, np.float32),
        np.asarray(created, np.float64),
        np.asarray(access, np.float32),
        np.asarray(success, np.float32),
        np.asarray(overlap, np.float32),
        now=kw.pop("now", NOW),
        **kw,
    )


def test_reference_formula() -> None:
    q = [1.0, 0.0, 0.0]
    e = [[1.0, 1.0, 0.0], [0.0, 0.0, 2.0]]
    f = _features(q, e, [NOW - 100, NOW - 5000], [0, 99], [0.9, 0.2], [0.5, 1.0])
    assert f.dtype == np.float32 and f.shape == (2, 5)
    expected = [
        [0.4 / math.sqrt(2), 0.2 * math.exp(-0.1), 0.0, 0.15 * 0.9, 0.05],
        [0.0, 0.2 * math.exp(-5.0), 0.15 * math.log(100) / math.log(10001), 0.03, 0.1],
    ]
    np.testing.assert_allclose(f, expected, rtol=1e-5, atol=1e-7)


def test_frequency_saturates() -> None:
    f = _features([1.0], [[1.0], [1.0]], [NOW, NOW], [10_000, 10**9], [0, 0], [0, 0])
    np.testing.assert_allclose(f[:, 2], [0.15, 0.15], rtol=1e-6)


def test_custom_weights_and_decay() -> None:
    w = FeatureWeights(
        similarity=1.0,
        recency=1.0,
        frequency=0.0,
        success=0.5,
        metadata=0.0,
        recency_decay_per_second=0.01,
    )
    f = _features([1.0, 0.0], [[0.0, 3.0]], [NOW - 100], [5], [1.0], [1.0], weights=w)
    np.testing.assert_allclose(f[0], [0.0, math.exp(-1.0), 0.0, 0.5, 0.0], rtol=1e-6)


def test_clock_is_injected() -> None:
    a = _features([1.0], [[1.0]], [1000.0], [0], [0], [0], now=1000.0)
    b = _features([1.0], [[1.0]], [1000.0], [0], [0], [0], now=1000.0 + 693.147)
    assert a[0, 1] == pytest.approx(0.2)
    assert b[0, 1] == pytest.approx(0.1, rel=1e-4)


def test_future_created_at_counts_as_now() -> None:
    f = _features([1.0], [[1.0]], [NOW + 1e6], [0], [0], [0])
    assert f[0, 1] == pytest.approx(0.2)


def test_cosine_conventions() -> None:
    zero = np.zeros(3, np.float32)
    cands = np.array([[0, 0, 0], [1, 2, 3]], np.float32)
    f = _features(zero, cands, [NOW, NOW], [0, 0], [0, 0], [0, 0])
    np.testing.assert_allclose(f[:, 0], [0.4, 0.0])


def test_dimension_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="dimension"):
        _features([1.0, 0.0], [[1.0, 0.0, 0.0]], [NOW], [0], [0], [0])
    with pytest.raises(ValueError, match="success_rate"):
        _features([1.0], [[1.0], [2.0]], [NOW, NOW], [0, 0], [0.5], [0, 0])


def test_metadata_overlap_is_jaccard_of_pairs() -> None:
    q = {"lang": "en", "tier": "gold", "tags": ["a", "b"]}
    assert metadata_overlap(q, q) == 1.0
    assert metadata_overlap(q, {"lang": "en", "tier": "silver"}) == pytest.approx(1 / 4)
    assert metadata_overlap(q, {"tags": ["a", "b"], "x": {"k": 1}}) == pytest.approx(1 / 4)
    assert metadata_overlap({}, {}) == 0.0
    assert metadata_overlap({"a": 1}, {}) == 0.0
    np.testing.assert_allclose(
        metadata_overlaps(q, [q, {}, None, {"lang": "en"}]), [1.0, 0.0, 0.0, 1 / 3], rtol=1e-6
    )
    np.testing.assert_array_equal(metadata_overlaps(None, [q]), [0.0])


@given(
    data=st.data(),
    n=st.integers(0, 12),
    d=st.integers(1, 8),
)
@settings(max_examples=150, deadline=None)
def test_features_stay_within_weight_bounds(data: st.DataObject, n: int, d: int) -> None:
    floats = st.floats(-1e3, 1e3, allow_nan=False, width=32)
    q = data.draw(arrays(np.float32, d, elements=floats))
    e = data.draw(arrays(np.float32, (n, d), elements=floats))
    created = data.draw(arrays(np.float64, n, elements=st.floats(0, 2 * NOW)))
    access = data.draw(arrays(np.float32, n, elements=st.floats(-10, 1e9, width=32)))
    success = data.draw(arrays(np.float32, n, elements=st.floats(-2, 2, width=32)))
    overlap = data.draw(arrays(np.float32, n, elements=st.floats(0, 1, width=32)))
    weights = FeatureWeights()
    f = _features(q, e, created, access, success, overlap, weights=weights)
    low, high = weights.bounds()
    assert f.shape == (n, 5)
    assert np.all(np.isfinite(f))
    assert np.all(f >= low) and np.all(f <= high)
