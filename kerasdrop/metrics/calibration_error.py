"""Expected and maximum calibration errors, streamed over equal-width
confidence bins."""

import keras
from keras import ops

from kerasdrop.metrics._probability_metric import ProbabilityMetric
from kerasdrop.metrics._probability_metric import validate_num_bins


class _BinnedCalibration(ProbabilityMetric):
    """Per-bin sums of weight, confidence and correctness: the state both
    calibration errors are computed from."""

    def __init__(self, num_bins, from_logits, name, dtype):
        super().__init__(from_logits=from_logits, name=name, dtype=dtype)
        self.num_bins = validate_num_bins(num_bins)
        self.bin_count = self.add_variable(
            shape=(num_bins,), initializer="zeros", name="bin_count"
        )
        self.bin_confidence = self.add_variable(
            shape=(num_bins,), initializer="zeros", name="bin_confidence"
        )
        self.bin_correct = self.add_variable(
            shape=(num_bins,), initializer="zeros", name="bin_correct"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        probabilities, one_hot, weights = self._probabilities_and_labels(
            y_true, y_pred, sample_weight
        )
        confidence = ops.max(probabilities, axis=-1)
        predicted = ops.argmax(probabilities, axis=-1)
        correct = ops.cast(
            ops.equal(predicted, ops.argmax(one_hot, axis=-1)), self.dtype
        )
        # Right-closed bins (0, 1/B], ..., ((B-1)/B, 1], as in
        # `kerasdrop.analysis.calibration_bins`: the number of inner edges
        # below the confidence.
        edges = ops.cast(
            ops.arange(1, self.num_bins) / self.num_bins, self.dtype
        )
        above = ops.greater(confidence[:, None], edges[None, :])
        index = ops.sum(ops.cast(above, "int32"), axis=-1)
        in_bin = ops.one_hot(index, self.num_bins, dtype=self.dtype)
        in_bin = in_bin * weights[:, None]
        self.bin_count.assign_add(ops.sum(in_bin, axis=0))
        self.bin_confidence.assign_add(
            ops.sum(in_bin * confidence[:, None], axis=0)
        )
        self.bin_correct.assign_add(ops.sum(in_bin * correct[:, None], axis=0))

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins}


@keras.saving.register_keras_serializable(package="kerasdrop")
class ExpectedCalibrationError(_BinnedCalibration):
    """Expected calibration error (ECE) over equal-width confidence bins.

    The streaming form of `kerasdrop.analysis.expected_calibration_error`
    (Guo et al., 2017): `sum_b (n_b / n) |accuracy_b - confidence_b|` over
    the rows seen since the last reset, weighted by `sample_weight`. The
    state is three sums per bin, so the result does not depend on how the
    rows are split into batches. A row's bin is computed in the metric's
    dtype (float32 by default): a confidence within rounding of a bin edge
    may land in the neighbouring bin of the float64 function.

    Reference: Guo, Pleiss, Sun and Weinberger, 2017, "On Calibration of
    Modern Neural Networks".

    Args:
        num_bins: Number of equal-width bins of confidence (15 in Guo et
            al.).
        from_logits: Whether `y_pred` holds logits instead of
            probabilities.
        name: Name of the metric.
        dtype: Dtype of the metric's computations and state.

    Examples:
        >>> metric = kerasdrop.metrics.ExpectedCalibrationError(num_bins=2)
        >>> metric.update_state(
        ...     [1, 0, 1],
        ...     [[0.4, 0.3, 0.3], [0.9, 0.05, 0.05], [0.2, 0.7, 0.1]])
        >>> round(float(metric.result()), 4)
        0.2667
    """

    def __init__(
        self,
        num_bins=15,
        from_logits=False,
        name="expected_calibration_error",
        dtype=None,
    ):
        super().__init__(num_bins, from_logits, name, dtype)

    def result(self):
        gaps = ops.abs(self.bin_correct - self.bin_confidence)
        return ops.divide_no_nan(ops.sum(gaps), ops.sum(self.bin_count))


@keras.saving.register_keras_serializable(package="kerasdrop")
class MaximumCalibrationError(_BinnedCalibration):
    """Maximum calibration error (MCE): the largest gap of any bin.

    The streaming form of `kerasdrop.analysis.maximum_calibration_error`
    (Naeini et al., 2015): `max_b |accuracy_b - confidence_b|` over the
    non-empty equal-width bins of the rows seen since the last reset.

    Args:
        num_bins: Number of equal-width bins of confidence.
        from_logits: Whether `y_pred` holds logits instead of
            probabilities.
        name: Name of the metric.
        dtype: Dtype of the metric's computations and state.

    Examples:
        >>> metric = kerasdrop.metrics.MaximumCalibrationError(num_bins=2)
        >>> metric.update_state(
        ...     [1, 0, 1],
        ...     [[0.4, 0.3, 0.3], [0.9, 0.05, 0.05], [0.2, 0.7, 0.1]])
        >>> round(float(metric.result()), 4)
        0.4
    """

    def __init__(
        self,
        num_bins=15,
        from_logits=False,
        name="maximum_calibration_error",
        dtype=None,
    ):
        super().__init__(num_bins, from_logits, name, dtype)

    def result(self):
        gaps = ops.abs(
            ops.divide_no_nan(self.bin_correct, self.bin_count)
            - ops.divide_no_nan(self.bin_confidence, self.bin_count)
        )
        # Empty bins have a gap of 0, so they never win.
        return ops.max(gaps)
