"""The multi-class Brier score, streamed."""

import keras
from keras import ops

from kerasdrop.metrics._probability_metric import RowMeanMetric


@keras.saving.register_keras_serializable(package="kerasdrop")
class BrierScore(RowMeanMetric):
    """Brier score: mean squared distance to the one-hot true class.

    The streaming form of `kerasdrop.analysis.brier_score`:
    `(1/n) sum_i sum_k (p_ik - [y_i = k])^2`, between 0 and 2, over every
    row seen since the last reset (weighted by `sample_weight`).

    Args:
        from_logits: Whether `y_pred` holds logits instead of
            probabilities.
        name: Name of the metric.
        dtype: Dtype of the metric's computations and state.

    Examples:
        >>> metric = kerasdrop.metrics.BrierScore()
        >>> metric.update_state([0, 0], [[0.8, 0.2], [0.4, 0.6]])
        >>> round(float(metric.result()), 4)
        0.4
    """

    def __init__(self, from_logits=False, name="brier_score", dtype=None):
        super().__init__(from_logits=from_logits, name=name, dtype=dtype)

    def row_values(self, probabilities, one_hot):
        return ops.sum(ops.square(probabilities - one_hot), axis=-1)
