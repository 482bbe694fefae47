"""Uncertainty and calibration from Monte-Carlo dropout samples.

`kerasdrop.analysis.mc_predict(..., return_samples=True)` returns the class
probabilities of `num_samples` dropout subnetworks for every row, shaped
`(num_samples, rows, classes)`. Their spread is the model's uncertainty
(Gal & Ghahramani, 2016). The standard summaries, in nats:

- `predictive_entropy`: the entropy of the averaged prediction, the total
  uncertainty;
- `expected_entropy`: the average entropy of the samples, the part of it
  that every subnetwork has (noise in the data, "aleatoric");
- `mutual_information`: their difference, the mutual information between
  the prediction and the weights -- how much the subnetworks disagree
  ("epistemic"; BALD, Houlsby et al., 2011, for active learning);
- `variation_ratio`: the fraction of samples that do not vote for the most
  voted class (Freeman, 1965; Gal, 2016), disagreement counted in votes.

`mc_predict(..., summary="classification")` computes all four while it
samples, without keeping the samples.

`expected_calibration_error` and `reliability_diagram` check whether the
confidence of a prediction matches its accuracy (Guo et al., 2017).

A single probability per row (a sigmoid output, last axis of size 1) is read
as the probability of the second of two classes.

References:
    - Gal and Ghahramani, 2016, "Dropout as a Bayesian Approximation:
      Representing Model Uncertainty in Deep Learning".
    - Houlsby, Huszar, Ghahramani and Lengyel, 2011, "Bayesian Active
      Learning for Classification and Preference Learning".
    - Guo, Pleiss, Sun and Weinberger, 2017, "On Calibration of Modern
      Neural Networks".
    - Gal, 2016, "Uncertainty in Deep Learning" (PhD thesis), Section 3.3.1.
"""

import numpy as np

from kerasdrop.analysis import _graph

# Probabilities may sum to 1 only up to float32 rounding (or float16 in
# mixed precision).
_SUM_TOLERANCE = 1e-2


def _probabilities(array, name, min_rank, first_axis="row"):
    """Validates class probabilities on the last axis, as float64.

    The first axis (samples, or rows) and the last (classes) must not be
    empty: a mean over no samples, or a calibration of no rows, has no
    value.
    """
    array = np.asarray(array, dtype="float64")
    if array.ndim < min_rank:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected an "
            f"array of rank {min_rank} or more with classes on the last "
            f"axis. Received: {name} of shape {array.shape}"
        )
    for axis, what in ((0, first_axis), (-1, "class")):
        if array.shape[axis] == 0:
            raise ValueError(
                f"Invalid value received for argument `{name}`. Expected "
                f"at least one {what}. Received: {name} of shape "
                f"{array.shape}"
            )
    if array.size and (
        not np.all(np.isfinite(array))
        or array.min() < 0.0
        or array.max() > 1.0 + 1e-6
    ):
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected "
            "probabilities between 0 and 1 (the outputs of a softmax or a "
            f"sigmoid). Received values in [{array.min()}, {array.max()}]"
        )
    if array.shape[-1] == 1:
        array = np.concatenate([1.0 - array, array], axis=-1)
    sums = array.sum(axis=-1)
    if array.size and np.abs(sums - 1.0).max() > _SUM_TOLERANCE:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected "
            "probabilities that sum to 1 over the last axis (a softmax), or "
            "a single sigmoid probability. Received sums between "
            f"{sums.min()} and {sums.max()}"
        )
    return array


def _entropy(probabilities):
    """Entropy in nats over the last axis, with 0 log 0 = 0."""
    logs = np.log(np.where(probabilities > 0.0, probabilities, 1.0))
    return -np.sum(probabilities * logs, axis=-1)


def predictive_entropy(samples):
    """Entropy of the mean prediction: the total uncertainty, in nats.

    `H[mean_s p_s] = -sum_k pbar_k log pbar_k`, where `pbar` is the average
    of the sampled class probabilities.

    Args:
        samples: Class probabilities `(num_samples, rows, classes)` (or any
            `(num_samples, ..., classes)`), such as the `"samples"` of
            `mc_predict(..., return_samples=True)`.

    Returns:
        A float64 array of shape `samples.shape[1:-1]`: between 0 and
        `log(classes)`.

    Examples:
        >>> samples = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
        >>> predictive_entropy(samples).round(4)  # log 2
        array([0.6931])
    """
    samples = _probabilities(samples, "samples", 2, "sample")
    return _entropy(samples.mean(axis=0))


def expected_entropy(samples):
    """Mean entropy of the samples: the uncertainty every sample has.

    `mean_s H[p_s]`, the aleatoric part of `predictive_entropy`.

    Args:
        samples: Class probabilities `(num_samples, rows, classes)`.

    Returns:
        A float64 array of shape `samples.shape[1:-1]`, in nats.

    Examples:
        >>> samples = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
        >>> expected_entropy(samples)
        array([0.])
    """
    samples = _probabilities(samples, "samples", 2, "sample")
    return _entropy(samples).mean(axis=0)


def mutual_information(samples):
    """Mutual information between prediction and weights (BALD), in nats.

    `predictive_entropy(samples) - expected_entropy(samples)`: zero when
    every sample predicts the same, large when confident samples disagree.
    This is the score of Bayesian active learning by disagreement (BALD).
    Values a rounding error below zero are returned as zero.

    Args:
        samples: Class probabilities `(num_samples, rows, classes)`.

    Returns:
        A float64 array of shape `samples.shape[1:-1]`, between 0 and
        `log(classes)`.

    Examples:
        >>> samples = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
        >>> mutual_information(samples).round(4)
        array([0.6931])
    """
    samples = _probabilities(samples, "samples", 2, "sample")
    information = _entropy(samples.mean(axis=0)) - _entropy(samples).mean(0)
    return np.maximum(information, 0.0)


def variation_ratio(samples):
    """The fraction of samples that disagree with the most voted class.

    `1 - max_k f_k / num_samples`, where `f_k` counts the samples whose
    most probable class is `k`: 0 when every sample predicts the same
    class, up to `1 - 1/classes`. It ignores how confident each sample is
    (Gal, 2016, Section 3.3.1); a tie of probabilities votes for the first
    of the tied classes, as `argmax` does.

    Args:
        samples: Class probabilities `(num_samples, rows, classes)`.

    Returns:
        A float64 array of shape `samples.shape[1:-1]`, between 0 and
        `1 - 1/classes`.

    Examples:
        >>> samples = np.array([[[0.9, 0.1]], [[0.6, 0.4]], [[0.2, 0.8]]])
        >>> variation_ratio(samples).round(4)  # 2 votes of 3 for class 0
        array([0.3333])
    """
    samples = _probabilities(samples, "samples", 2, "sample")
    return _variation_ratio(_votes(samples).sum(axis=0), len(samples))


def _votes(probabilities):
    """One-hot of the most probable class, over the last axis."""
    classes = probabilities.shape[-1]
    return np.eye(classes)[probabilities.argmax(axis=-1)]


def _variation_ratio(votes, num_samples):
    """`1 - (largest vote count) / num_samples` over the last axis."""
    return 1.0 - votes.max(axis=-1) / num_samples


def _labels(labels, probabilities):
    """Class indices, one per row of `probabilities`, as int64.

    `labels` holds indices (integers, or floats with whole values) from 0
    to `classes - 1`, or one-hot rows of `classes` entries.
    """
    classes = probabilities.shape[-1]
    labels = np.asarray(labels)
    if labels.dtype == bool:
        labels = labels.astype("int64")
    if not np.issubdtype(labels.dtype, np.number):
        raise ValueError(
            "Invalid value received for argument `labels`. Expected "
            "numbers: class indices or one-hot rows. Received: labels of "
            f"dtype {labels.dtype}"
        )
    if labels.ndim == probabilities.ndim and labels.shape[-1] > 1:
        if labels.shape[-1] != classes:
            raise ValueError(
                "Invalid value received for argument `labels`. Expected "
                f"one-hot rows of {classes} classes, the last axis of "
                "`probabilities`. Received: labels of shape "
                f"{labels.shape}"
            )
        one_hot = np.isin(labels, (0, 1)).all(axis=-1)
        one_hot &= labels.sum(axis=-1) == 1
        if not one_hot.all():
            row = labels[~one_hot][0]
            raise ValueError(
                "Invalid value received for argument `labels`. Expected "
                "one-hot rows: one 1 and 0 elsewhere (or class indices). "
                f"Received: a row {row}"
            )
        labels = labels.argmax(axis=-1)
    labels = labels.reshape(labels.shape[: probabilities.ndim - 1])
    if labels.shape != probabilities.shape[:-1]:
        raise ValueError(
            "Invalid value received for argument `labels`. Expected one "
            "class index (or one-hot row) per row of `probabilities`, "
            f"{probabilities.shape[:-1]}. Received: labels of shape "
            f"{np.shape(labels)}"
        )
    whole = np.isfinite(labels) & (labels == np.round(labels))
    if not whole.all():
        raise ValueError(
            "Invalid value received for argument `labels`. Expected class "
            "indices, whole numbers. Received: "
            f"labels={labels[~whole][0]}"
        )
    outside = (labels < 0) | (labels >= classes)
    if outside.any():
        raise ValueError(
            "Invalid value received for argument `labels`. Expected class "
            f"indices from 0 to {classes - 1} ({classes} classes in "
            f"`probabilities`). Received: labels={labels[outside][0]}"
        )
    return labels.astype("int64")


def calibration_bins(probabilities, labels, num_bins=15):
    """Confidence and accuracy of the predictions, in confidence bins.

    The confidence of a row is its largest class probability and its
    prediction that class; rows go into `num_bins` equal-width bins of
    confidence, `(0, 1/num_bins]`, ..., `((num_bins - 1)/num_bins, 1]`.

    Args:
        probabilities: Class probabilities `(rows, classes)`, such as the
            `"mean"` of `mc_predict`.
        labels: True classes: indices `(rows,)` from 0 to `classes - 1`
            (integers, or floats with whole values), or one-hot rows
            `(rows, classes)`; anything else raises a `ValueError`.
        num_bins: Number of bins.

    Returns:
        A dict of arrays of length `num_bins`: `"edges"` (the `num_bins + 1`
        bin edges), `"confidence"` and `"accuracy"` (mean confidence and
        accuracy of each bin's rows, NaN for an empty bin) and `"count"`.

    Examples:
        >>> bins = calibration_bins([[0.9, 0.1], [0.3, 0.7]], [0, 0], 2)
        >>> bins["accuracy"], bins["count"]
        (array([nan, 0.5]), array([0, 2]))
    """
    probabilities = _probabilities(probabilities, "probabilities", 2)
    num_bins = _graph.validate_positive_int(num_bins, "num_bins")
    labels = _labels(labels, probabilities)
    confidence = probabilities.max(axis=-1).ravel()
    correct = (probabilities.argmax(axis=-1) == labels).ravel()
    return bin_statistics(
        confidence, correct, np.linspace(0.0, 1.0, num_bins + 1)
    )


def bin_statistics(confidence, correct, edges):
    """Mean confidence, accuracy and count of the rows in each bin.

    Right-closed bins: a row goes into the first bin whose right edge is at
    or above its confidence (compared with the edges themselves, so a
    confidence of exactly 0.3 is not moved up by the rounding of
    `0.3 * 10`); a confidence at or below the first edge goes in the first.

    Args:
        confidence: The confidence of each row, `(rows,)`.
        correct: Whether each row's prediction is right, `(rows,)`.
        edges: The `num_bins + 1` increasing bin edges.

    Returns:
        The dict of `calibration_bins`, NaN for an empty bin.
    """
    num_bins = len(edges) - 1
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


def expected_calibration_error(probabilities, labels, num_bins=15):
    """Expected calibration error (ECE) of class probabilities.

    `ECE = sum_b (n_b / n) |accuracy_b - confidence_b|` over the
    equal-width confidence bins of `calibration_bins` (Guo et al., 2017):
    0 for a model whose confidence is its accuracy.

    Args:
        probabilities: Class probabilities `(rows, classes)`, such as the
            `"mean"` of `mc_predict`, or a sigmoid's `(rows, 1)`.
        labels: True classes: indices `(rows,)` from 0 to `classes - 1`
            (integers, or floats with whole values), or one-hot rows
            `(rows, classes)`; anything else raises a `ValueError`.
        num_bins: Number of bins (15 in Guo et al.).

    Returns:
        The ECE, a Python float between 0 and 1.

    Examples:
        >>> probabilities = [[0.4, 0.3, 0.3], [0.9, 0.05, 0.05],
        ...                  [0.2, 0.7, 0.1]]
        >>> labels = [1, 0, 1]
        >>> # Bin (0, 0.5]: one wrong row at 0.4; bin (0.5, 1]: two right
        >>> # rows at 0.9 and 0.7. ECE = 1/3 * 0.4 + 2/3 * (1 - 0.8).
        >>> round(expected_calibration_error(probabilities, labels, 2), 4)
        0.2667
    """
    bins = calibration_bins(probabilities, labels, num_bins)
    filled = bins["count"] > 0
    weights = bins["count"][filled] / bins["count"].sum()
    gaps = np.abs(bins["accuracy"][filled] - bins["confidence"][filled])
    return float(np.sum(weights * gaps))


def reliability_diagram(probabilities, labels, num_bins=10, ax=None):
    """Plots accuracy against confidence per bin (a reliability diagram).

    Bars show each bin's accuracy, the diagonal a perfectly calibrated
    model, and the title the expected calibration error. Needs matplotlib,
    imported only here.

    Args:
        probabilities: Class probabilities `(rows, classes)`.
        labels: True classes: indices `(rows,)` or one-hot, as for
            `calibration_bins`.
        num_bins: Number of confidence bins.
        ax: A matplotlib `Axes` to draw on; a new figure's by default.

    Returns:
        The matplotlib `Axes`.
    """
    import matplotlib.pyplot as plt

    bins = calibration_bins(probabilities, labels, num_bins)
    error = expected_calibration_error(probabilities, labels, num_bins)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    edges = bins["edges"]
    filled = bins["count"] > 0
    ax.bar(
        edges[:-1][filled],
        bins["accuracy"][filled],
        width=np.diff(edges)[filled],
        align="edge",
        edgecolor="black",
        label="accuracy",
    )
    ax.plot([0, 1], [0, 1], linestyle="--", color="gray", label="calibrated")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(f"ECE = {error:.3f}")
    ax.legend(loc="upper left")
    return ax
