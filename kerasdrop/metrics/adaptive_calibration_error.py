"""The adaptive (equal-mass) calibration error, as a Keras metric."""

import keras
from keras import ops

from kerasdrop.metrics._probability_metric import validate_num_bins
from kerasdrop.metrics._row_buffer import RowBufferMetric


@keras.saving.register_keras_serializable(package="kerasdrop")
class AdaptiveCalibrationError(RowBufferMetric):
    """Expected calibration error over bins of equal numbers of rows.

    The Keras-metric form of `kerasdrop.analysis.adaptive_calibration_error`
    (Nixon et al., 2019): the bin edges are the quantiles of the confidence
    of every row seen since the last reset, so the metric keeps the
    confidence and correctness of up to `max_rows` rows (two float32 values
    each) instead of per-bin sums; more rows make the result NaN, and so
    does no row. It does not take `sample_weight`.

    Reference: Nixon, Dusenberry, Zhang, Jerfel and Tran, 2019, "Measuring
    Calibration in Deep Learning".

    Args:
        num_bins: Number of bins.
        max_rows: The most rows kept between resets (an evaluation set).
        from_logits: Whether `y_pred` holds logits instead of
            probabilities.
        name: Name of the metric.
        dtype: Dtype of the metric's computations and state.

    Examples:
        >>> metric = kerasdrop.metrics.AdaptiveCalibrationError(
        ...     num_bins=2, max_rows=100)
        >>> metric.update_state(
        ...     [0, 1, 0, 0], [[0.6, 0.4], [0.7, 0.3], [0.8, 0.2], [0.9, 0.1]])
        >>> round(float(metric.result()), 4)
        0.15
    """

    def __init__(
        self,
        num_bins=15,
        max_rows=100_000,
        from_logits=False,
        name="adaptive_calibration_error",
        dtype=None,
    ):
        super().__init__(max_rows, from_logits, name, dtype)
        self.num_bins = validate_num_bins(num_bins)

    def result(self):
        confidence, correct, valid, rows = self._rows()
        # Entries that hold no row sort last.
        ordered = ops.sort(ops.where(valid, confidence, float("inf")))
        # NumPy's linear quantiles at j / num_bins, j = 1 .. num_bins - 1,
        # with the position j * (rows - 1) / num_bins split exactly into
        # its integer and fractional parts.
        last = ops.cast(rows, "int32") - 1
        numerator = ops.arange(1, self.num_bins, dtype="int32") * last
        low = numerator // self.num_bins
        fraction = ops.cast(numerator % self.num_bins, self.dtype) / (
            self.num_bins
        )
        high = ops.minimum(low + 1, last)
        below, above = ops.take(ordered, low), ops.take(ordered, high)
        edges = below + fraction * (above - below)
        edges = ops.where(fraction == 0, below, edges)
        # Right-closed bins: the number of inner edges below a confidence.
        index = ops.sum(
            ops.cast(confidence[:, None] > edges[None, :], "int32"), axis=-1
        )
        in_bin = ops.one_hot(index, self.num_bins, dtype=self.dtype)
        in_bin = in_bin * ops.cast(valid, self.dtype)[:, None]
        gaps = ops.abs(
            ops.sum(in_bin * correct[:, None], axis=0)
            - ops.sum(in_bin * confidence[:, None], axis=0)
        )
        return self._checked(ops.sum(gaps) / ops.maximum(rows, 1.0))

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins}
