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
    return uncertainty.bin_statistics(confidence, correct, edges)


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


def _logits(logits):
    """Validated float64 logits `(rows, classes)` or `(samples, rows,
    classes)`; one column (a sigmoid's logit `z`) becomes `[0, z]`."""
    logits = np.asarray(logits, dtype="float64")
    if logits.ndim not in (2, 3) or 0 in logits.shape:
        raise ValueError(
            "Invalid value received for argument `logits`. Expected a "
            "non-empty array of shape (rows, classes), or (num_samples, "
            "rows, classes) for Monte-Carlo samples. Received: logits of "
            f"shape {logits.shape}"
        )
    if not np.all(np.isfinite(logits)):
        raise ValueError(
            "Invalid value received for argument `logits`. Expected finite "
            "values. Received: logits with NaN or infinite values"
        )
    if logits.shape[-1] == 1:
        logits = np.concatenate([np.zeros_like(logits), logits], axis=-1)
    return logits


def _log_softmax(logits):
    top = logits.max(axis=-1, keepdims=True)
    shifted = logits - top
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _log_probabilities(logits, temperature):
    """Log of the (sample-averaged) softmax of `logits / temperature`."""
    log_softmax = _log_softmax(logits / temperature)
    if logits.ndim == 2:
        return log_softmax
    # log mean_s p_s, through a log-sum-exp over the samples.
    top = log_softmax.max(axis=0)
    mean = np.mean(np.exp(log_softmax - top), axis=0)
    return np.log(mean) + top


def apply_temperature(logits, temperature):
    """Class probabilities of logits at a temperature.

    `softmax(logits / temperature)`; for Monte-Carlo samples of logits, the
    mean over the samples of the softmax of each (the prediction of
    `mc_predict` on a model that ends with `TemperatureScaling` and a
    softmax).

    Args:
        logits: Logits `(rows, classes)` or `(num_samples, rows, classes)`;
            one column is a sigmoid's logit (two classes are returned).
        temperature: Positive float.

    Returns:
        Float64 probabilities `(rows, classes)` (2 classes for one column).

    Examples:
        >>> apply_temperature([[2.0, 0.0]], 2.0).round(4)
        array([[0.7311, 0.2689]])
    """
    temperature = _positive(temperature, "temperature")
    return np.exp(_log_probabilities(_logits(logits), temperature))


def _positive(value, name):
    if isinstance(value, bool) or not (
        isinstance(value, (int, float, np.number))
        and np.isfinite(value)
        and value > 0
    ):
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a "
            f"positive float. Received: {name}={value!r}"
        )
    return float(value)


def fit_temperature(logits, labels, bounds=(0.05, 20.0)):
    """The temperature that minimizes the NLL of held-out logits.

    Temperature scaling (Guo et al., 2017) divides the logits by one number
    `T`, fitted on validation data (never the training data, on which the
    network is overconfident by construction). `T > 1` softens the
    probabilities; the predicted class never changes, so accuracy does not
    either. For Monte-Carlo dropout, pass the samples of the logits
    (`mc_predict(logit_model, x, return_samples=True)["samples"]`): the
    temperature is then fitted for the mean of the tempered softmaxes,
    MC dropout and temperature scaling combined.

    The search is one-dimensional and needs no optimizer library: a grid
    of 65 temperatures spaced evenly in `log T` over `bounds`, then a
    golden-section search between the neighbours of the best (the NLL of a
    single pass is convex in `1 / T`, so this finds its minimum; for
    Monte-Carlo samples it finds the best of the grid's basins).

    When it helps: a network that is accurate but over- or underconfident
    on data like its validation data. It cannot make a model rank its rows
    better: a temperature keeps every predicted class and, for two
    classes, the order of the rows by confidence (for more classes it can
    reorder some of them). Nor does a temperature fitted on one
    distribution carry over to a shifted one.

    Reference: Guo, Pleiss, Sun and Weinberger, 2017, "On Calibration of
    Modern Neural Networks".

    Args:
        logits: Validation logits `(rows, classes)`, or Monte-Carlo samples
            of them `(num_samples, rows, classes)`; one column is a
            sigmoid's logit.
        labels: True classes: indices `(rows,)` or one-hot rows.
        bounds: `(lowest, highest)` temperatures searched, positive.

    Returns:
        The temperature, a Python float within `bounds`.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> logits = 3.0 * rng.standard_normal((2000, 4))
        >>> # Labels drawn from softmax(logits / 2): the logits are twice
        >>> # too sharp.
        >>> probabilities = apply_temperature(logits, 2.0)
        >>> labels = [rng.choice(4, p=p) for p in probabilities]
        >>> temperature = fit_temperature(logits, labels)
        >>> bool(1.8 < temperature < 2.2)  # 2, up to sampling noise
        True
    """
    logits = _logits(logits)
    if not (
        isinstance(bounds, (tuple, list))
        and len(bounds) == 2
        and all(
            isinstance(b, (int, float, np.number)) and np.isfinite(b)
            for b in bounds
        )
        and 0 < bounds[0] < bounds[1]
    ):
        raise ValueError(
            "Invalid value received for argument `bounds`. Expected two "
            "temperatures `(lowest, highest)` with 0 < lowest < highest. "
            f"Received: bounds={bounds!r}"
        )
    rows = np.arange(logits.shape[-2])
    # Labels are checked against rows and classes like probabilities are.
    labels = uncertainty._labels(labels, np.empty(logits.shape[-2:]))

    def loss(log_temperature):
        log_p = _log_probabilities(logits, np.exp(log_temperature))
        return -np.mean(log_p[rows, labels])

    low, high = np.log(bounds[0]), np.log(bounds[1])
    grid = np.linspace(low, high, 65)
    losses = [loss(t) for t in grid]
    best = int(np.argmin(losses))
    a, b = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    loss_c, loss_d = loss(c), loss(d)
    # Golden-section search to a bracket of 1e-7 in log T.
    while b - a > 1e-7:
        if loss_c < loss_d:
            b, d, loss_d = d, c, loss_c
            c = b - ratio * (b - a)
            loss_c = loss(c)
        else:
            a, c, loss_c = c, d, loss_d
            d = a + ratio * (b - a)
            loss_d = loss(d)
    candidates = [(loss_c, c), (loss_d, d), (losses[best], grid[best])]
    return float(np.exp(min(candidates)[1]))
