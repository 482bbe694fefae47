"""The area under the risk-coverage curve, as a Keras metric."""

import keras
from keras import ops

from kerasdrop.metrics._row_buffer import RowBufferMetric


@keras.saving.register_keras_serializable(package="kerasdrop")
class AreaUnderRiskCoverage(RowBufferMetric):
    """Area under the risk-coverage curve (AURC) of the rows seen.

    The Keras-metric form of `kerasdrop.analysis.area_under_risk_coverage`
    with the largest class probability as the confidence: the error rate
    when the `k` most confident rows are answered, averaged over `k`, tied
    rows answered together (Geifman et al., 2019); lower is better. It ranks
    every row seen since the last reset, so it keeps the confidence and
    correctness of up to `max_rows` rows; more rows make the result NaN, and
    so does no row. It does not take `sample_weight`.

    Reference: Geifman, Uziel and El-Yaniv, 2019, "Bias-Reduced Uncertainty
    Estimation for Deep Neural Classifiers".

    Args:
        max_rows: The most rows kept between resets (an evaluation set).
        from_logits: Whether `y_pred` holds logits instead of
            probabilities.
        name: Name of the metric.
        dtype: Dtype of the metric's computations and state.

    Examples:
        >>> metric = kerasdrop.metrics.AreaUnderRiskCoverage(max_rows=100)
        >>> metric.update_state([0, 1, 0], [[0.9, 0.1], [0.8, 0.2], [0.6, 0.4]])
        >>> round(float(metric.result()), 4)
        0.2778
    """

    def __init__(
        self,
        max_rows=100_000,
        from_logits=False,
        name="area_under_risk_coverage",
        dtype=None,
    ):
        super().__init__(max_rows, from_logits, name, dtype)

    def result(self):
        confidence, correct, valid, rows = self._rows()
        # Most confident first; entries that hold no row last.
        key = ops.where(valid, -confidence, float("inf"))
        order = ops.argsort(key)
        key = ops.take(key, order)
        errors = ops.take(ops.where(valid, 1.0 - correct, 0.0), order)
        answered = ops.cumsum(errors)
        # Each row takes the risk of its whole group of equal confidence.
        end = ops.searchsorted(key, key, side="right") - 1
        risk = ops.take(answered, end) / ops.cast(end + 1, self.dtype)
        risk = risk * ops.cast(ops.take(valid, order), self.dtype)
        return self._checked(ops.sum(risk) / ops.maximum(rows, 1.0))
