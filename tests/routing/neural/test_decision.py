import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from routing.neural.decision import (
    DecisionPolicy,
    NonFiniteScoreError,
    decide,
    margin_uncertainty,
)

scores_strategy = arrays(np.float32, st.integers(0, 40), elements=st.floats(0, 1, width=32))
# Few distinct values so that ties are common.
tied_scores = arrays(
    np.float32, st.integers(0, 40), elements=st.sampled_from([0.1, 0.5, 0.86, 0.9, 0.99, 1.0])
)


def test_margin_uncertainty_formula() -> None:
    s = np.array([0.0, 0.25, 0.5, 0.9, 1.0, -0.5, 1.5], np.float32)
    expected = np.clip(1 - 2 * np.abs(s - 0.5), 0, 1)
    np.testing.assert_allclose(margin_uncertainty(s), expected, atol=1e-7)


@given(scores_strategy, st.floats(0, 1), st.floats(0, 1))
@settings(max_examples=200, deadline=None)
def test_decision_rule_invariants(scores: np.ndarray, threshold: float, max_unc: float) -> None:
    policy = DecisionPolicy(threshold, max_unc)
    d = decide(scores, policy)
    confidence, uncertainty, lightweight = d.ranked()
    assert sorted(d.order.tolist()) == list(range(len(scores)))
    assert np.all((uncertainty >= 0) & (uncertainty <= 1))
    np.testing.assert_array_equal(confidence, scores[d.order])
    assert np.all(np.diff(confidence.astype(np.float64)) <= 0)
    expected = (confidence >= np.float32(threshold)) & (uncertainty <= np.float32(max_unc))
    np.testing.assert_array_equal(lightweight, expected)


@given(tied_scores)
@settings(max_examples=200, deadline=None)
def test_ties_keep_request_order(scores: np.ndarray) -> None:
    order = decide(scores, DecisionPolicy()).order
    expected = sorted(range(len(scores)), key=lambda i: -float(scores[i]))  # sorted() is stable
    assert order.tolist() == expected


def test_defaults_and_examples() -> None:
    d = decide(np.array([0.5, 0.95, 0.9, 0.2], np.float32), DecisionPolicy())
    assert d.order.tolist() == [1, 2, 0, 3]
    # 0.95 -> uncertainty 0.1 (light); 0.9 -> uncertainty 0.2 > 0.15 (powerful).
    assert d.use_lightweight.tolist() == [False, True, False, False]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_scores_rejected(bad: float) -> None:
    with pytest.raises(NonFiniteScoreError):
        decide(np.array([0.5, bad], np.float32), DecisionPolicy())


def test_policy_validation() -> None:
    with pytest.raises(ValueError):
        DecisionPolicy(confidence_threshold=1.5)
