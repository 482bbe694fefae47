"""Proper scoring rules and calibration errors of class probabilities.

Each function takes class probabilities `(rows, classes)` (a softmax, such
as the `"mean"` of `kerasdrop.analysis.mc_predict`, or one sigmoid
probability per row, read as two classes) and the true classes (indices or
one-hot rows), and returns a Python float; lower is better for all of them.

- `negative_log_likelihood` and `brier_score` are proper scoring rules: they
  reward both accuracy and honest confidence, and can be compared across
  models on the same data (Gneiting and Raftery, 2007).
- `expected_calibration_error` (equal-width bins, Guo et al., 2017),
  `adaptive_calibration_error` (equal-mass bins, Nixon et al., 2019) and
  `maximum_calibration_error` (the worst bin, Naeini et al., 2015) measure
  only whether the confidence of the predicted class matches its accuracy:
  a model that always predicts the class frequencies is calibrated and
  useless.

`kerasdrop.metrics` has the same measures as streaming Keras metrics, for
`model.compile(metrics=...)` and `model.evaluate`.

References:
    - Gneiting and Raftery, 2007, "Strictly Proper Scoring Rules,
      Prediction, and Estimation".
    - Brier, 1950, "Verification of Forecasts Expressed in Terms of
      Probability".
    - Naeini, Cooper and Hauskrecht, 2015, "Obtaining Well Calibrated
      Probabilities Using Bayesian Binning".
    - Nixon, Dusenberry, Zhang, Jerfel and Tran, 2019, "Measuring
      Calibration in Deep Learning".
"""

import numpy as np

from kerasdrop.analysis import _graph
from kerasdrop.analysis import uncertainty

# The smallest probability whose log is taken: a probability of 0 for the
# true class costs -log(tiny), about 87 nats, instead of infinity.
_TINY = float(np.finfo("float32").tiny)


def _rows(probabilities, labels):
    """Validated `(probabilities (rows, classes), labels (rows,))`."""
    probabilities = uncertainty._probabilities(
        probabilities, "probabilities", 2
    )
    if probabilities.ndim != 2:
        raise ValueError(
            "Invalid value received for argument `probabilities`. Expected "
            "an array of shape (rows, classes). Received: probabilities of "
            f"shape {probabilities.shape}"
        )
    return probabilities, uncertainty._labels(labels, probabilities)


def negative_log_likelihood(probabilities, labels):
    """Mean negative log-likelihood of the true classes, in nats.

    `NLL = -(1/n) sum_i log p_i[y_i]`, the cross-entropy (scikit-learn's
    `log_loss`): 0 for certain right predictions, `log(classes)` for
    uniform ones. A probability of 0 for the true class is taken as the
    smallest positive float32 (a cost of about 87 nats), not infinity.

    Args:
        probabilities: Class probabilities `(rows, classes)`, or a
            sigmoid's `(rows, 1)`.
        labels: True classes: indices `(rows,)` or one-hot rows.

    Returns:
        The NLL, a Python float of at least 0.

    Examples:
        >>> probabilities = [[0.5, 0.5], [0.9, 0.1]]
        >>> round(negative_log_likelihood(probabilities, [0, 0]), 4)
        0.3993
    """
    probabilities, labels = _rows(probabilities, labels)
    true = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.maximum(true, _TINY))))


def brier_score(probabilities, labels):
    """Brier score: mean squared distance to the one-hot true class.

    `(1/n) sum_i sum_k (p_ik - [y_i = k])^2`, Brier's (1950) multi-class
    score, between 0 and 2. This is scikit-learn's `brier_score_loss` for
    several classes; for two classes scikit-learn halves it by default
    (the squared error of the positive class alone, between 0 and 1), and
    `brier_score_loss(..., scale_by_half=False)` is this score.

    Args:
        probabilities: Class probabilities `(rows, classes)`, or a
            sigmoid's `(rows, 1)` (two classes).
        labels: True classes: indices `(rows,)` or one-hot rows.

    Returns:
        The Brier score, a Python float between 0 and 2.

    Examples:
        >>> round(brier_score([[0.8, 0.2], [0.4, 0.6]], [0, 0]), 4)
        0.4
    """
    probabilities, labels = _rows(probabilities, labels)
    one_hot = np.eye(probabilities.shape[-1])[labels]
    return float(np.mean(np.sum((probabilities - one_hot) ** 2, axis=-1)))


def maximum_calibration_error(probabilities, labels, num_bins=15):
    """Maximum calibration error (MCE): the worst bin's confidence gap.

    `MCE = max_b |accuracy_b - confidence_b|` over the non-empty
    equal-width confidence bins of `calibration_bins` (Naeini et al.,
    2015). A bin of one row counts as much as a bin of thousands, so the
    MCE is noisy on small data; it says how wrong the model can be in some
    range of confidence.

    Args:
        probabilities: Class probabilities `(rows, classes)`.
        labels: True classes: indices `(rows,)` or one-hot rows.
        num_bins: Number of equal-width bins.

    Returns:
        The MCE, a Python float between 0 and 1.

    Examples:
        >>> probabilities = [[0.4, 0.3, 0.3], [0.9, 0.05, 0.05],
        ...                  [0.2, 0.7, 0.1]]
        >>> # Bin (0, 0.5]: one wrong row at 0.4, a gap of 0.4; bin
        >>> # (0.5, 1]: two right rows at 0.9 and 0.7, a gap of 0.2.
        >>> round(maximum_calibration_error(probabilities, [1, 0, 1], 2), 4)
        0.4
    """
    bins = uncertainty.calibration_bins(probabilities, labels, num_bins)
    filled = bins["count"] > 0
    gaps = np.abs(bins["accuracy"][filled] - bins["confidence"][filled])
    return float(gaps.max())


def adaptive_calibration_bins(probabilities, labels, num_bins=15):
    """Confidence and accuracy in bins that hold equal numbers of rows.

    The bin edges are the quantiles of the confidence (the largest class
    probability of each row) at `0, 1/num_bins, ..., 1` (NumPy's linear
    quantiles); a row goes into the bin `(edges[b], edges[b + 1]]`, the
    first bin closed on both sides. Rows of equal confidence always share a
    bin, so with ties some bins hold more rows than others and some none;
    without ties the bins hold `rows / num_bins` rows each, to one row.

    Args:
        probabilities: Class probabilities `(rows, classes)`.
        labels: True classes: indices `(rows,)` or one-hot rows.
        num_bins: Number of bins.

    Returns:
        A dict of arrays like `calibration_bins`: `"edges"` (the
        `num_bins + 1` quantiles), `"confidence"`, `"accuracy"` (NaN for an
        empty bin) and `"count"`.

    Examples:
        >>> bins = adaptive_calibration_bins(
        ...     [[0.6, 0.4], [0.7, 0.3], [0.8, 0.2], [0.9, 0.1]],
        ...     [0, 1, 0, 0], num_bins=2)
        >>> bins["count"], bins["accuracy"]
        (array([2, 2]), array([0.5, 1. ]))
    """
    probabilities, labels = _rows(probabilities, labels)
    num_bins = _graph.validate_positive_int(num_bins, "num_bins")
    confidence = probabilities.max(axis=-1)
    correct = probabilities.argmax(axis=-1) == labels
    edges = np.quantile(confidence, np.linspace(0.0, 1.0, num_bins + 1))
    # Right-closed bins: the first edge at or above the confidence.
    index = np.searchsorted(edges[1:-1], confidence, side="left")
    count = np.bincount(index, minlength=num_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = (
            np.bincount(index, weights=confidence, minlength=num_bins) / count
        )
        accuracy = (
            np.bincount(index, weights=correct, minlength=num_bins) / count
        )
    return {
        "edges": edges,
        "confidence": mean_confidence,
        "accuracy": accuracy,
        "count": count,
    }


def adaptive_calibration_error(probabilities, labels, num_bins=15):
    """Adaptive (equal-mass) expected calibration error.

    The ECE over the bins of `adaptive_calibration_bins`, which hold equal
    numbers of rows instead of equal ranges of confidence:
    `sum_b (n_b / n) |accuracy_b - confidence_b|`. Modern networks put most
    rows at confidences near 1, where equal-width bins lump them into one
    or two bins; equal-mass bins resolve that range (Nixon et al., 2019,
    who also show the equal-width ECE's ranking of models is sensitive to
    the number of bins).

    Args:
        probabilities: Class probabilities `(rows, classes)`.
        labels: True classes: indices `(rows,)` or one-hot rows.
        num_bins: Number of bins.

    Returns:
        The adaptive ECE, a Python float between 0 and 1.

    Examples:
        >>> probabilities = [[0.6, 0.4], [0.7, 0.3], [0.8, 0.2], [0.9, 0.1]]
        >>> # Bins {0.6, 0.7} (accuracy 0.5) and {0.8, 0.9} (accuracy 1).
        >>> round(adaptive_calibration_error(
        ...     probabilities, [0, 1, 0, 0], num_bins=2), 4)
        0.15
    """
    bins = adaptive_calibration_bins(probabilities, labels, num_bins)
    filled = bins["count"] > 0
    weights = bins["count"][filled] / bins["count"].sum()
    gaps = np.abs(bins["accuracy"][filled] - bins["confidence"][filled])
    return float(np.sum(weights * gaps))
