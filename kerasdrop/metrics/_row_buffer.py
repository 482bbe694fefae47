"""The state of the metrics that need every row: a fixed-size buffer."""

from keras import ops

from kerasdrop.metrics._probability_metric import ProbabilityMetric


def validate_max_rows(max_rows):
    """`max_rows` as a positive Python int, or a `ValueError`."""
    if (
        isinstance(max_rows, bool)
        or not isinstance(max_rows, int)
        or max_rows < 1
    ):
        raise ValueError(
            "Invalid value received for argument `max_rows`. Expected a "
            f"positive integer. Received: max_rows={max_rows!r}"
        )
    return max_rows


class RowBufferMetric(ProbabilityMetric):
    """Keeps the confidence and correctness of up to `max_rows` rows.

    Equal-mass bins and rankings need every row, not sums: the rows go into
    two float variables of `max_rows` entries, in order, and `result`
    reads the first `min(count, max_rows)`. More rows than `max_rows` since
    the last reset make `result` NaN (the measure of a part would be
    wrong silently otherwise).
    """

    def __init__(self, max_rows, from_logits, name, dtype):
        super().__init__(from_logits=from_logits, name=name, dtype=dtype)
        self.max_rows = validate_max_rows(max_rows)
        self.confidence = self.add_variable(
            shape=(max_rows,), initializer="zeros", name="confidence"
        )
        self.correct = self.add_variable(
            shape=(max_rows,), initializer="zeros", name="correct"
        )
        self.count = self.add_variable(
            shape=(), initializer="zeros", name="count"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(
                f"{type(self).__name__} ranks or bins the rows themselves "
                "and does not take `sample_weight`. Received: a "
                "sample_weight"
            )
        probabilities, one_hot, _ = self._probabilities_and_labels(
            y_true, y_pred, None
        )
        confidence = ops.max(probabilities, axis=-1)
        correct = ops.cast(
            ops.equal(
                ops.argmax(probabilities, axis=-1), ops.argmax(one_hot, axis=-1)
            ),
            self.dtype,
        )
        start = ops.cast(self.count, "int32")
        index = start + ops.arange(ops.shape(confidence)[0], dtype="int32")
        # Rows past the end overwrite the last entry; `count` still counts
        # them, so `result` knows and returns NaN.
        index = ops.minimum(index, self.max_rows - 1)[:, None]
        self.confidence.assign(
            ops.scatter_update(self.confidence, index, confidence)
        )
        self.correct.assign(ops.scatter_update(self.correct, index, correct))
        self.count.assign_add(ops.cast(ops.shape(confidence)[0], self.dtype))

    def _rows(self):
        """`(confidence, correct, valid, rows)`: the buffer, which entries
        hold rows, and how many."""
        rows = ops.minimum(self.count, float(self.max_rows))
        valid = ops.arange(self.max_rows, dtype=self.dtype) < rows
        return (
            ops.convert_to_tensor(self.confidence),
            ops.convert_to_tensor(self.correct),
            valid,
            rows,
        )

    def _checked(self, value):
        """NaN when rows overflowed the buffer or none came."""
        bad = ops.logical_or(self.count > self.max_rows, self.count < 1)
        return ops.where(bad, float("nan"), value)

    def get_config(self):
        return {**super().get_config(), "max_rows": self.max_rows}
