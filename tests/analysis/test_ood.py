"""Out-of-distribution scores and detection measures, against
scikit-learn."""

import numpy as np
import pytest
from sklearn import metrics as sk_metrics

from kerasdrop.analysis import energy_score
from kerasdrop.analysis import fpr_at_tpr
from kerasdrop.analysis import max_probability_score
from kerasdrop.analysis import ood_aupr
from kerasdrop.analysis import ood_auroc
from kerasdrop.analysis import ood_detection
from kerasdrop.analysis import ood_histogram


def _scores(seed=0, decimals=None, rows_in=300, rows_out=200):
    rng = np.random.default_rng(seed)
    in_scores = rng.normal(0.0, 1.0, rows_in)
    out_scores = rng.normal(1.0, 1.0, rows_out)
    if decimals is not None:  # Many ties, inside and across the two sets.
        in_scores, out_scores = (
            np.round(in_scores, decimals),
            np.round(out_scores, decimals),
        )
    return in_scores, out_scores


def _sklearn_form(in_scores, out_scores):
    y = np.r_[np.zeros(len(in_scores)), np.ones(len(out_scores))]
    return y, np.r_[in_scores, out_scores]


CASES = [None, 1, 0]


@pytest.mark.parametrize("decimals", CASES)
def test_auroc_matches_sklearn(decimals):
    in_scores, out_scores = _scores(decimals=decimals)
    assert ood_auroc(in_scores, out_scores) == pytest.approx(
        sk_metrics.roc_auc_score(*_sklearn_form(in_scores, out_scores)),
        abs=1e-12,
    )


@pytest.mark.parametrize("decimals", CASES)
def test_aupr_matches_sklearn_average_precision(decimals):
    in_scores, out_scores = _scores(decimals=decimals)
    assert ood_aupr(in_scores, out_scores) == pytest.approx(
        sk_metrics.average_precision_score(
            *_sklearn_form(in_scores, out_scores)
        ),
        abs=1e-12,
    )


@pytest.mark.parametrize("decimals", CASES)
@pytest.mark.parametrize("tpr", [0.95, 0.5, 1.0])
def test_fpr_at_tpr_matches_sklearn_roc_curve(decimals, tpr):
    in_scores, out_scores = _scores(decimals=decimals)
    fpr, tprs, _ = sk_metrics.roc_curve(
        *_sklearn_form(in_scores, out_scores), drop_intermediate=False
    )
    expected = fpr[np.searchsorted(tprs, tpr, side="left")]
    assert fpr_at_tpr(in_scores, out_scores, tpr) == pytest.approx(
        expected, abs=1e-12
    )


def test_perfect_and_useless_scores():
    result = ood_detection([0.1, 0.2, 0.3], [0.5, 0.6])
    assert result == {"auroc": 1.0, "aupr": 1.0, "fpr_at_tpr": 0.0}
    useless = ood_detection(np.zeros(6), np.zeros(4))
    assert useless["auroc"] == 0.5
    assert useless["aupr"] == pytest.approx(0.4)  # The fraction of outliers.
    assert useless["fpr_at_tpr"] == 1.0


def test_max_probability_score_and_energy_by_hand():
    np.testing.assert_allclose(
        max_probability_score([[0.7, 0.2, 0.1], [0.4, 0.3, 0.3]]), [0.3, 0.6]
    )
    logits = np.array([[2.0, -1.0, 0.5]])
    expected = -np.log(np.exp(logits).sum())
    np.testing.assert_allclose(energy_score(logits), [expected])
    np.testing.assert_allclose(
        energy_score(logits, temperature=2.0),
        [-2.0 * np.log(np.exp(logits / 2.0).sum())],
    )
    # Large logits do not overflow.
    assert energy_score([[1000.0, 0.0]])[0] == pytest.approx(-1000.0)


def test_bad_inputs_raise_value_errors():
    with pytest.raises(ValueError, match="non-empty"):
        ood_auroc([], [0.2])  # One class only: no in-distribution rows.
    with pytest.raises(ValueError, match="non-empty"):
        ood_detection([0.1, 0.2], [])
    with pytest.raises(ValueError, match="finite"):
        ood_aupr([0.1, np.nan], [0.3])
    with pytest.raises(ValueError, match="shape \\(rows,\\)"):
        fpr_at_tpr(np.zeros((2, 2)), [0.3])
    with pytest.raises(ValueError, match="tpr"):
        fpr_at_tpr([0.1], [0.3], tpr=0.0)
    with pytest.raises(ValueError, match="temperature"):
        energy_score([[1.0, 2.0]], temperature=0.0)
    with pytest.raises(ValueError, match="finite"):
        energy_score([[1.0, np.inf]])
    with pytest.raises(ValueError, match="between 0 and 1"):
        max_probability_score([[1.5, -0.5]])


def test_the_histogram_returns_axes_with_both_sets(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    import matplotlib.pyplot as plt

    in_scores, out_scores = _scores()
    ax = ood_histogram(in_scores, out_scores, bins=20, xlabel="entropy")
    try:
        assert ax.get_xlabel() == "entropy"
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == ["in-distribution", "out-of-distribution"]
        assert len(ax.patches) == 40
        assert f"{ood_auroc(in_scores, out_scores):.3f}" in ax.get_title()
    finally:
        plt.close(ax.figure)
