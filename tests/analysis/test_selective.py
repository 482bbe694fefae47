"""Risk-coverage curve and AURC against a brute-force reference."""

import numpy as np
import pytest

from kerasdrop.analysis import area_under_risk_coverage
from kerasdrop.analysis import risk_coverage_curve
from kerasdrop.analysis import risk_coverage_plot


def _data(rows=200, classes=3, seed=0, decimals=None):
    rng = np.random.default_rng(seed)
    logits = 2.0 * rng.standard_normal((rows, classes))
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=-1, keepdims=True)
    if decimals is not None:  # Ties: few distinct confidences.
        probabilities = np.round(probabilities, decimals)
        probabilities[:, -1] = 1 - probabilities[:, :-1].sum(axis=-1)
        probabilities = np.clip(probabilities, 0, 1)
    labels = np.array([rng.choice(classes, p=p) for p in probabilities])
    return probabilities, labels


def _reference_aurc(confidence, errors):
    """Mean over rows of the error rate of the rows at least as confident."""
    risks = [errors[confidence >= c].mean() for c in confidence]
    return float(np.mean(risks))


@pytest.mark.parametrize("decimals", [None, 1])
def test_aurc_matches_the_reference(decimals):
    probabilities, labels = _data(decimals=decimals)
    confidence = probabilities.max(axis=-1)
    errors = probabilities.argmax(axis=-1) != labels
    if decimals is not None:
        assert len(np.unique(confidence)) < 20  # The case has ties.
    assert area_under_risk_coverage(probabilities, labels) == pytest.approx(
        _reference_aurc(confidence, errors), abs=1e-12
    )


def test_without_ties_aurc_is_the_mean_risk_over_rows_answered():
    probabilities, labels = _data()
    errors = probabilities.argmax(axis=-1) != labels
    order = np.argsort(-probabilities.max(axis=-1))
    risks = np.cumsum(errors[order]) / np.arange(1, len(order) + 1)
    assert area_under_risk_coverage(probabilities, labels) == pytest.approx(
        risks.mean(), abs=1e-12
    )


def test_the_curve_ends_at_full_coverage_and_the_error_rate():
    probabilities, labels = _data(decimals=1)
    curve = risk_coverage_curve(probabilities, labels)
    errors = probabilities.argmax(axis=-1) != labels
    assert curve["coverage"][-1] == 1.0
    assert curve["risk"][-1] == pytest.approx(errors.mean())
    assert np.all(np.diff(curve["coverage"]) > 0)
    assert np.all(np.diff(curve["threshold"]) < 0)


def test_a_confidence_that_ranks_errors_last_beats_a_random_one():
    probabilities, labels = _data(rows=500)
    errors = probabilities.argmax(axis=-1) != labels
    # Errors last, in a random order among themselves (no ties).
    jitter = np.random.default_rng(2).uniform(0, 0.5, len(labels))
    oracle = area_under_risk_coverage(
        probabilities, labels, confidence=jitter - errors
    )
    shuffled = area_under_risk_coverage(
        probabilities,
        labels,
        confidence=np.random.default_rng(1).permutation(len(labels)),
    )
    rate = errors.mean()
    # The oracle's risk is 0 until the errors are answered, then rises to
    # the error rate: (1/n) sum_{k > n(1 - rate)} (k - n(1 - rate)) / k.
    n = len(labels)
    right = n - errors.sum()
    k = np.arange(right + 1, n + 1)
    assert oracle == pytest.approx(np.sum((k - right) / k) / n, abs=1e-12)
    # A random ranking's AURC is the error rate, up to sampling noise of
    # the order of rate / sqrt(n) (generous factor: this is one draw).
    assert abs(shuffled - rate) < 5 * rate / np.sqrt(n) + 0.02
    assert oracle < shuffled


def test_one_row_has_a_curve_of_one_point():
    curve = risk_coverage_curve([[0.6, 0.4]], [1])
    assert curve["coverage"].tolist() == [1.0]
    assert curve["risk"].tolist() == [1.0]


def test_bad_confidence_raises_value_errors():
    probabilities, labels = _data(rows=10)
    with pytest.raises(ValueError, match="one score per row"):
        area_under_risk_coverage(probabilities, labels, np.ones(9))
    with pytest.raises(ValueError, match="finite scores"):
        area_under_risk_coverage(
            probabilities, labels, np.r_[np.nan, np.ones(9)]
        )
    with pytest.raises(ValueError, match="from 0 to 2"):
        area_under_risk_coverage(probabilities, np.full(10, 3))


def test_the_plot_returns_axes_with_the_curve(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    import matplotlib.pyplot as plt

    probabilities, labels = _data()
    ax = risk_coverage_plot(probabilities, labels)
    try:
        assert ax.get_xlabel().startswith("coverage")
        (line,) = ax.get_lines()
        assert line.get_xdata()[-1] == 1.0
        assert "AURC" in ax.get_legend().get_texts()[0].get_text()
    finally:
        plt.close(ax.figure)
