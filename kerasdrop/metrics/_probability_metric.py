"""What the probability metrics share: reading `y_true` and `y_pred`."""

import keras
from keras import ops


def validate_num_bins(num_bins):
    """`num_bins` as a positive Python int, or a `ValueError`."""
    if (
        isinstance(num_bins, bool)
        or not isinstance(num_bins, int)
        or num_bins < 1
    ):
        raise ValueError(
            "Invalid value received for argument `num_bins`. Expected a "
            f"positive integer. Received: num_bins={num_bins!r}"
        )
    return num_bins


class ProbabilityMetric(keras.metrics.Metric):
    """A metric of class probabilities against true classes.

    `y_pred` holds class probabilities `(batch, classes)`, or logits with
    `from_logits=True` (a softmax is taken); a single column `(batch, 1)`
    is the probability (or logit, through a sigmoid) of the second of two
    classes. `y_true` holds class indices `(batch,)` or `(batch, 1)`, or
    one-hot rows `(batch, classes)`.
    """

    def __init__(self, from_logits=False, name=None, dtype=None):
        if not isinstance(from_logits, bool):
            raise ValueError(
                "Invalid value received for argument `from_logits`. "
                "Expected a bool. Received: "
                f"from_logits={from_logits!r}"
            )
        super().__init__(name=name, dtype=dtype)
        self.from_logits = from_logits

    def _probabilities_and_labels(self, y_true, y_pred, sample_weight):
        """`(probabilities (batch, classes), one_hot, weights (batch,))`."""
        y_pred = ops.convert_to_tensor(y_pred, dtype=self.dtype)
        if len(y_pred.shape) != 2:
            raise ValueError(
                f"{type(self).__name__} expects `y_pred` of shape "
                "(batch, classes). Received: y_pred of shape "
                f"{y_pred.shape}"
            )
        classes = y_pred.shape[-1]
        if classes == 1:
            if self.from_logits:
                y_pred = ops.sigmoid(y_pred)
            probabilities = ops.concatenate([1.0 - y_pred, y_pred], axis=-1)
        elif self.from_logits:
            probabilities = ops.softmax(y_pred, axis=-1)
        else:
            probabilities = y_pred
        y_true = ops.convert_to_tensor(y_true)
        if (
            len(y_true.shape) == 2
            and classes > 1
            and (y_true.shape[-1] == classes)
        ):
            labels = ops.argmax(y_true, axis=-1)
        else:
            labels = ops.reshape(y_true, (-1,))
        one_hot = ops.one_hot(
            ops.cast(labels, "int32"), max(classes, 2), dtype=self.dtype
        )
        if sample_weight is None:
            weights = ops.ones_like(probabilities[:, 0])
        else:
            weights = ops.reshape(ops.cast(sample_weight, self.dtype), (-1,))
            weights = ops.broadcast_to(weights, ops.shape(probabilities[:, 0]))
        return probabilities, one_hot, weights

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


class RowMeanMetric(ProbabilityMetric):
    """The weighted mean of a value per row, over every row since the
    last reset. A subclass gives the value of each row, `row_values`."""

    def __init__(self, from_logits=False, name=None, dtype=None):
        super().__init__(from_logits=from_logits, name=name, dtype=dtype)
        self.total = self.add_variable(
            shape=(), initializer="zeros", name="total"
        )
        self.count = self.add_variable(
            shape=(), initializer="zeros", name="count"
        )

    def row_values(self, probabilities, one_hot):
        """The value of each row, `(batch,)`."""
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        probabilities, one_hot, weights = self._probabilities_and_labels(
            y_true, y_pred, sample_weight
        )
        values = self.row_values(probabilities, one_hot)
        self.total.assign_add(ops.sum(weights * values))
        self.count.assign_add(ops.sum(weights))

    def result(self):
        return ops.divide_no_nan(self.total, self.count)
