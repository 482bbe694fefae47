import math

import keras
import numpy as np
import pytest

import kerasdrop
from kerasdrop.analysis import calibration_bins
from kerasdrop.analysis import expected_calibration_error
from kerasdrop.analysis import expected_entropy
from kerasdrop.analysis import mutual_information
from kerasdrop.analysis import predictive_entropy
from kerasdrop.analysis import reliability_diagram
from tests.warning_checks import no_warnings


def _softmax_samples(num_samples, rows, classes, seed=0):
    logits = np.random.default_rng(seed).standard_normal(
        (num_samples, rows, classes)
    )
    exp = np.exp(logits)
    return exp / exp.sum(axis=-1, keepdims=True)


def test_identical_samples_have_zero_mutual_information():
    one = _softmax_samples(1, 6, 4)
    samples = np.repeat(one, 10, axis=0)
    np.testing.assert_allclose(mutual_information(samples), 0.0, atol=1e-12)
    np.testing.assert_allclose(
        predictive_entropy(samples), expected_entropy(samples), atol=1e-12
    )


@pytest.mark.parametrize("classes", [2, 5, 10])
def test_uniform_predictions_have_entropy_log_k(classes):
    samples = np.full((3, 4, classes), 1.0 / classes)
    np.testing.assert_allclose(predictive_entropy(samples), math.log(classes))
    np.testing.assert_allclose(expected_entropy(samples), math.log(classes))
    np.testing.assert_allclose(mutual_information(samples), 0.0, atol=1e-12)


def test_confident_disagreement_is_all_mutual_information():
    # Half the samples say class 0, half class 1, each certain.
    samples = np.array([[[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]]] * 3)
    np.testing.assert_allclose(predictive_entropy(samples), math.log(2))
    np.testing.assert_allclose(expected_entropy(samples), 0.0)
    np.testing.assert_allclose(mutual_information(samples), math.log(2))


def test_entropies_by_hand():
    samples = np.array([[[0.8, 0.2]], [[0.4, 0.6]]])

    def entropy(p):
        return -sum(q * math.log(q) for q in p)

    predictive = entropy([0.6, 0.4])  # the mean prediction
    expected = (entropy([0.8, 0.2]) + entropy([0.4, 0.6])) / 2
    assert predictive_entropy(samples)[0] == pytest.approx(predictive)
    assert expected_entropy(samples)[0] == pytest.approx(expected)
    assert mutual_information(samples)[0] == pytest.approx(
        predictive - expected
    )
    assert predictive - expected == pytest.approx(0.0863, abs=1e-4)


def test_a_sigmoid_output_is_two_classes():
    sigmoid = np.array([[[0.8]], [[0.4]]])
    two = np.array([[[0.2, 0.8]], [[0.6, 0.4]]])
    for measure in (predictive_entropy, expected_entropy, mutual_information):
        np.testing.assert_allclose(measure(sigmoid), measure(two))


def test_expected_calibration_error_by_hand():
    probabilities = np.array(
        [[0.4, 0.3, 0.3], [0.9, 0.05, 0.05], [0.2, 0.7, 0.1],
         [0.6, 0.4, 0.0]]
    )  # fmt: skip
    labels = np.array([1, 0, 1, 2])
    # Two bins, (0, 0.5] and (0.5, 1]: the first holds the row at 0.4
    # (wrong: accuracy 0); the second the rows at 0.9 (right), 0.7 (right)
    # and 0.6 (wrong): accuracy 2/3, confidence 2.2/3.
    expected = 1 / 4 * abs(0.0 - 0.4) + 3 / 4 * abs(2 / 3 - 2.2 / 3)
    assert expected_calibration_error(
        probabilities, labels, num_bins=2
    ) == pytest.approx(expected)
    one_hot = np.eye(3)[labels]
    assert expected_calibration_error(
        probabilities, one_hot, num_bins=2
    ) == pytest.approx(expected)
    bins = calibration_bins(probabilities, labels, num_bins=2)
    np.testing.assert_array_equal(bins["count"], [1, 3])
    np.testing.assert_allclose(bins["accuracy"], [0.0, 2 / 3])
    np.testing.assert_allclose(bins["confidence"], [0.4, 2.2 / 3])


def test_calibrated_predictions_have_zero_ece():
    # Right with confidence 1, and a coin flip at 0.5 right half the time.
    probabilities = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.5, 0.5]])
    labels = np.array([0, 1, 0, 1])
    assert expected_calibration_error(probabilities, labels) == 0.0


def test_sigmoid_probabilities_for_ece():
    sigmoid = np.array([[0.9], [0.2], [0.7]])
    two = np.concatenate([1 - sigmoid, sigmoid], axis=1)
    labels = np.array([1, 0, 0])
    assert expected_calibration_error(sigmoid, labels) == pytest.approx(
        expected_calibration_error(two, labels)
    )


def test_reliability_diagram_draws_the_filled_bins():
    import matplotlib

    matplotlib.use("Agg")
    probabilities = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]])
    ax = reliability_diagram(probabilities, [0, 1, 1], num_bins=5)
    heights = sorted(bar.get_height() for bar in ax.patches)
    # Bins (0.6, 0.8] and (0.8, 1]: accuracies 0.5 and 1.
    assert heights == pytest.approx([0.5, 1.0])
    assert ax.get_title().startswith("ECE = ")
    matplotlib.pyplot.close(ax.figure)


def test_on_mc_predict_samples():
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    dropout = kerasdrop.ScheduledDropout(0.5, seed=0, name="dropout")
    outputs = keras.layers.Dense(3, activation="softmax")(dropout(hidden))
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype("float32")
    result = kerasdrop.analysis.mc_predict(
        model, x, num_samples=30, return_samples=True
    )
    information = mutual_information(result["samples"])
    assert information.shape == (5,)
    assert np.all(information > 0)
    assert np.all(predictive_entropy(result["samples"]) <= math.log(3) + 1e-6)
    # Without dropout every sample is the same: no mutual information.
    dropout.rate = 0.0
    still = kerasdrop.analysis.mc_predict(
        model, x, num_samples=5, return_samples=True
    )
    np.testing.assert_allclose(
        mutual_information(still["samples"]), 0.0, atol=1e-6
    )
    error = expected_calibration_error(still["mean"], np.zeros(5, "int64"))
    assert 0.0 <= error <= 1.0


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: predictive_entropy(np.ones((2, 3))), "sum to 1"),
        (lambda: mutual_information(np.array([[[1.5, -0.5]]])), "between 0"),
        (lambda: expected_entropy(np.ones(3)), "rank 2"),
        (
            lambda: expected_calibration_error([[0.5, 0.5]], [0], 0),
            "num_bins=0",
        ),
        (
            lambda: expected_calibration_error([[0.5, 0.5]], [0, 1]),
            "`labels`",
        ),
    ],
)
def test_bad_inputs_raise(call, fragment):
    with pytest.raises(ValueError) as info:
        call()
    assert fragment in str(info.value)


THREE_CLASSES = [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]]


@pytest.mark.parametrize(
    "function", [expected_calibration_error, calibration_bins]
)
@pytest.mark.parametrize(
    "labels, fragments",
    [
        ([5, 0], ["`labels`", "0 to 2", "5"]),
        ([-1, 0], ["`labels`", "0 to 2", "-1"]),
        ([0.7, 1], ["`labels`", "whole", "0.7"]),
        ([float("nan"), 1], ["`labels`", "whole", "nan"]),
        (["a", "b"], ["`labels`", "numbers"]),
        (np.eye(4)[[0, 1]], ["`labels`", "3 classes", "(2, 4)"]),
        ([[1, 1, 0], [0, 1, 0]], ["`labels`", "one-hot", "[1 1 0]"]),
        ([[0, 0, 0], [0, 1, 0]], ["`labels`", "one-hot", "[0 0 0]"]),
    ],
)
def test_labels_that_name_no_class_raise(function, labels, fragments):
    # Each was a silent number: an index out of range or truncated, a
    # one-hot row of another class count or with no single class.
    with pytest.raises(ValueError) as info:
        function(THREE_CLASSES, labels)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_labels_as_whole_floats_and_one_hot_rows_are_accepted():
    indices = expected_calibration_error(THREE_CLASSES, [0, 2], 2)
    assert expected_calibration_error(THREE_CLASSES, [0.0, 2.0], 2) == indices
    one_hot = expected_calibration_error(THREE_CLASSES, np.eye(3)[[0, 2]], 2)
    assert one_hot == indices
    # A sigmoid's probabilities are two classes: indices 0 and 1.
    sigmoid = [[0.2], [0.9]]
    assert expected_calibration_error(sigmoid, np.eye(2)[[0, 1]]) == (
        expected_calibration_error(sigmoid, [0, 1])
    )
    with pytest.raises(ValueError, match="0 to 1"):
        expected_calibration_error(sigmoid, [0, 2])


@pytest.mark.parametrize(
    "call, fragments",
    [
        (
            lambda: predictive_entropy(np.zeros((0, 2, 3))),
            ["`samples`", "at least one sample", "(0, 2, 3)"],
        ),
        (
            lambda: expected_entropy(np.zeros((0, 2, 3))),
            ["`samples`", "at least one sample"],
        ),
        (
            lambda: mutual_information(np.zeros((0, 2, 3))),
            ["`samples`", "at least one sample"],
        ),
        (
            lambda: predictive_entropy(np.zeros((2, 2, 0))),
            ["`samples`", "at least one class", "(2, 2, 0)"],
        ),
        (
            lambda: expected_calibration_error(np.zeros((0, 3)), []),
            ["`probabilities`", "at least one row", "(0, 3)"],
        ),
        (
            lambda: calibration_bins(np.zeros((0, 3)), []),
            ["`probabilities`", "at least one row"],
        ),
        (
            lambda: expected_calibration_error(np.zeros((2, 0)), [0, 0]),
            ["`probabilities`", "at least one class"],
        ),
    ],
)
def test_empty_inputs_raise(call, fragments):
    # Were NaN with NumPy warnings, 0.0 (a "perfect" calibration of no
    # rows) or NumPy's own error.
    with no_warnings():
        with pytest.raises(ValueError) as info:
            call()
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)
