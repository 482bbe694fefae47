"""The mean negative log-likelihood of the true classes, streamed."""

import keras
from keras import ops

from kerasdrop.metrics._probability_metric import RowMeanMetric

# The smallest probability whose log is taken, as in
# `kerasdrop.analysis.negative_log_likelihood`.
_TINY = 1.1754944e-38


@keras.saving.register_keras_serializable(package="kerasdrop")
class NegativeLogLikelihood(RowMeanMetric):
    """Mean negative log-likelihood of the true classes, in nats.

    The streaming form of `kerasdrop.analysis.negative_log_likelihood`:
    `-(1/n) sum_i log p_i[y_i]` over every row seen since the last reset
    (weighted by `sample_weight`), with a probability of 0 taken as the
    smallest positive float32. Takes class indices or one-hot rows, so one
    metric serves both label formats.

    Args:
        from_logits: Whether `y_pred` holds logits (a softmax, or a sigmoid
            for one column, is taken) instead of probabilities.
        name: Name of the metric.
        dtype: Dtype of the metric's computations and state.

    Examples:
        >>> metric = kerasdrop.metrics.NegativeLogLikelihood()
        >>> metric.update_state([0, 0], [[0.5, 0.5], [0.9, 0.1]])
        >>> round(float(metric.result()), 4)
        0.3993
    """

    def __init__(
        self, from_logits=False, name="negative_log_likelihood", dtype=None
    ):
        super().__init__(from_logits=from_logits, name=name, dtype=dtype)

    def row_values(self, probabilities, one_hot):
        true = ops.sum(probabilities * one_hot, axis=-1)
        return -ops.log(ops.maximum(true, _TINY))
