"""Scoring rules and calibration errors, against scikit-learn and against
NumPy references written here, bin by bin."""

import math

import numpy as np
import pytest
from sklearn import metrics as sk_metrics

from kerasdrop.analysis import adaptive_calibration_bins
from kerasdrop.analysis import adaptive_calibration_error
from kerasdrop.analysis import brier_score
from kerasdrop.analysis import calibration_bins
from kerasdrop.analysis import expected_calibration_error
from kerasdrop.analysis import maximum_calibration_error
from kerasdrop.analysis import negative_log_likelihood

# float64 sums of a few hundred terms of order 1.
TOLERANCE = 1e-12


def _data(rows=300, classes=4, seed=0, scale=2.0):
    """Softmax probabilities and labels drawn from them (so roughly
    calibrated, with some errors in every confidence range)."""
    rng = np.random.default_rng(seed)
    logits = scale * rng.standard_normal((rows, classes))
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=-1, keepdims=True)
    labels = np.array([rng.choice(classes, p=p) for p in probabilities])
    return probabilities, labels


def _reference_bins(confidence, correct, edges):
    """(count, mean confidence, accuracy) per bin `(edges[b], edges[b+1]]`,
    the first closed, by a loop over bins."""
    result = []
    for b in range(len(edges) - 1):
        low, high = edges[b], edges[b + 1]
        inside = (confidence > low) & (confidence <= high)
        if b == 0:
            inside |= confidence == low
        count = int(inside.sum())
        if count:
            result.append(
                (count, confidence[inside].mean(), correct[inside].mean())
            )
        else:
            result.append((0, math.nan, math.nan))
    return result


def _reference_ece(bins, rows):
    return sum(n / rows * abs(a - c) for n, c, a in bins if n)


def _confidence_and_correct(probabilities, labels):
    return (
        probabilities.max(axis=-1),
        (probabilities.argmax(axis=-1) == labels).astype(float),
    )


def test_negative_log_likelihood_matches_sklearn_log_loss():
    probabilities, labels = _data()
    assert negative_log_likelihood(probabilities, labels) == pytest.approx(
        sk_metrics.log_loss(labels, probabilities, labels=range(4)),
        abs=TOLERANCE,
    )


def test_negative_log_likelihood_with_one_class_present():
    probabilities, _ = _data(rows=50)
    labels = np.zeros(50, int)
    assert negative_log_likelihood(probabilities, labels) == pytest.approx(
        sk_metrics.log_loss(labels, probabilities, labels=range(4)),
        abs=TOLERANCE,
    )


def test_negative_log_likelihood_of_a_sigmoid_is_binary_log_loss():
    rng = np.random.default_rng(1)
    positive = rng.uniform(0.05, 0.95, 100)
    labels = rng.integers(0, 2, 100)
    assert negative_log_likelihood(positive[:, None], labels) == (
        pytest.approx(sk_metrics.log_loss(labels, positive), abs=TOLERANCE)
    )


def test_negative_log_likelihood_of_a_zero_probability_is_finite():
    value = negative_log_likelihood([[1.0, 0.0]], [1])
    assert value == pytest.approx(-math.log(np.finfo("float32").tiny))


def test_brier_score_matches_sklearn_for_several_classes():
    probabilities, labels = _data()
    assert brier_score(probabilities, labels) == pytest.approx(
        sk_metrics.brier_score_loss(labels, probabilities, labels=range(4)),
        abs=TOLERANCE,
    )


def test_brier_score_of_two_classes_is_sklearn_unhalved():
    rng = np.random.default_rng(2)
    positive = rng.uniform(0.0, 1.0, 100)
    labels = rng.integers(0, 2, 100)
    expected = sk_metrics.brier_score_loss(
        labels, positive, scale_by_half=False
    )
    assert brier_score(positive[:, None], labels) == pytest.approx(
        expected, abs=TOLERANCE
    )
    # scikit-learn's default for two classes is half of it.
    assert brier_score(positive[:, None], labels) == pytest.approx(
        2 * sk_metrics.brier_score_loss(labels, positive), abs=TOLERANCE
    )


def test_one_hot_labels_give_the_same_scores():
    probabilities, labels = _data(rows=40)
    one_hot = np.eye(4)[labels]
    for measure in (
        negative_log_likelihood,
        brier_score,
        expected_calibration_error,
        adaptive_calibration_error,
        maximum_calibration_error,
    ):
        assert measure(probabilities, one_hot) == measure(probabilities, labels)


@pytest.mark.parametrize("num_bins", [1, 4, 10, 15])
def test_equal_width_errors_match_the_reference(num_bins):
    probabilities, labels = _data()
    confidence, correct = _confidence_and_correct(probabilities, labels)
    bins = _reference_bins(confidence, correct, np.linspace(0, 1, num_bins + 1))
    assert expected_calibration_error(
        probabilities, labels, num_bins
    ) == pytest.approx(_reference_ece(bins, len(labels)), abs=TOLERANCE)
    gaps = [abs(a - c) for n, c, a in bins if n]
    assert maximum_calibration_error(
        probabilities, labels, num_bins
    ) == pytest.approx(max(gaps), abs=TOLERANCE)


def test_confidences_on_bin_edges_go_in_the_lower_bin():
    # Four bins; confidences 0.5 and 0.75 sit exactly on edges (exact in
    # binary), 1.0 on the last edge.
    probabilities = np.array(
        [[0.5, 0.5], [0.75, 0.25], [0.25, 0.75], [1.0, 0.0], [0.6, 0.4]]
    )
    labels = np.array([1, 0, 0, 0, 0])
    confidence, correct = _confidence_and_correct(probabilities, labels)
    bins = _reference_bins(confidence, correct, np.linspace(0, 1, 5))
    assert [n for n, _, _ in bins] == [0, 1, 3, 1]
    assert expected_calibration_error(probabilities, labels, 4) == (
        pytest.approx(_reference_ece(bins, 5), abs=TOLERANCE)
    )
    # The tie 0.5/0.5 predicts the first class (argmax), which is wrong.
    assert correct[0] == 0.0


def test_a_decimal_edge_is_compared_with_the_edge_itself():
    # 0.3 * 10 rounds up to 3.0000000000000004; the row still belongs to
    # (0.2, 0.3], as 0.3 <= linspace(0, 1, 11)[3].
    probabilities = np.array([[0.3, 0.7 / 3, 0.7 / 3, 0.7 / 3]])
    counts = calibration_bins(probabilities, [0], 10)["count"]
    assert counts[2] == 1


def _reference_adaptive(confidence, correct, num_bins):
    """Equal-mass bins by a loop: quantile edges, right-closed bins."""
    edges = np.quantile(confidence, np.linspace(0, 1, num_bins + 1))
    return _reference_bins(confidence, correct, edges)


@pytest.mark.parametrize("num_bins", [1, 3, 10, 15])
def test_adaptive_error_matches_the_reference(num_bins):
    probabilities, labels = _data(rows=301)
    confidence, correct = _confidence_and_correct(probabilities, labels)
    bins = _reference_adaptive(confidence, correct, num_bins)
    assert adaptive_calibration_error(
        probabilities, labels, num_bins
    ) == pytest.approx(_reference_ece(bins, len(labels)), abs=TOLERANCE)


def test_adaptive_bins_hold_equal_numbers_of_rows_without_ties():
    probabilities, labels = _data(rows=301)
    counts = adaptive_calibration_bins(probabilities, labels, 10)["count"]
    assert counts.sum() == 301
    assert counts.max() - counts.min() <= 1


def test_adaptive_bins_keep_tied_rows_together():
    rng = np.random.default_rng(3)
    # 200 rows at only 5 distinct confidences.
    confidence = rng.choice([0.55, 0.6, 0.7, 0.8, 0.95], 200)
    probabilities = np.stack([confidence, 1 - confidence], axis=-1)
    labels = rng.integers(0, 2, 200)
    bins = adaptive_calibration_bins(probabilities, labels, 10)
    assert bins["count"].sum() == 200
    # Each distinct confidence lands in exactly one bin.
    filled = bins["count"] > 0
    assert set(np.round(bins["confidence"][filled], 12)) <= {
        0.55,
        0.6,
        0.7,
        0.8,
        0.95,
    }
    _, correct = _confidence_and_correct(probabilities, labels)
    reference = _reference_adaptive(confidence, correct, 10)
    assert adaptive_calibration_error(probabilities, labels, 10) == (
        pytest.approx(_reference_ece(reference, 200), abs=TOLERANCE)
    )


def test_a_calibrated_model_has_small_errors_and_an_overconfident_one_not():
    # Labels drawn from the probabilities themselves: the errors shrink as
    # 1/sqrt(rows); sharpening the same probabilities (a softmax at
    # temperature 1/3) makes them overconfident.
    probabilities, labels = _data(rows=20000, seed=4)
    sharp = probabilities**3
    sharp /= sharp.sum(axis=-1, keepdims=True)
    for measure in (expected_calibration_error, adaptive_calibration_error):
        calibrated = measure(probabilities, labels, 10)
        assert calibrated < 0.02
        assert measure(sharp, labels, 10) > 5 * calibrated


@pytest.mark.parametrize(
    "measure",
    [
        negative_log_likelihood,
        brier_score,
        expected_calibration_error,
        adaptive_calibration_error,
        maximum_calibration_error,
    ],
)
def test_bad_inputs_raise_value_errors(measure):
    good = np.array([[0.7, 0.3], [0.2, 0.8]])
    with pytest.raises(ValueError, match="between 0 and 1"):
        measure([[0.7, np.nan], [0.2, 0.8]], [0, 1])
    with pytest.raises(ValueError, match="sum to 1"):
        measure([[0.7, 0.7], [0.2, 0.8]], [0, 1])
    with pytest.raises(ValueError, match="from 0 to 1"):
        measure(good, [0, 2])
    with pytest.raises(ValueError, match="one class index"):
        measure(good, [0, 1, 1])
    with pytest.raises(ValueError, match="at least one row"):
        measure(np.zeros((0, 2)), [])


@pytest.mark.parametrize(
    "measure",
    [negative_log_likelihood, brier_score, adaptive_calibration_error],
)
def test_more_than_rows_and_classes_raises(measure):
    with pytest.raises(ValueError, match="shape \\(rows, classes\\)"):
        measure(np.full((2, 2, 2), 0.5), np.zeros((2, 2)))
