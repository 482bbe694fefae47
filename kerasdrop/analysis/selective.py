"""Selective prediction: how the error falls when the model may abstain.

A classifier that abstains on the rows it is least confident about answers
fewer rows (its *coverage*) with fewer errors (its *risk*, the error rate
on the rows it answers). The risk-coverage curve traces that trade-off as
the confidence threshold rises, and the area under it (AURC, Geifman and
El-Yaniv, 2017; Geifman et al., 2019) sums it up: lower is better, and it
rewards a model whose confidence ranks its errors last. Any score can rank
the rows: the largest class probability (the default), or minus an
uncertainty such as `mutual_information` of Monte-Carlo dropout samples.

References:
    - Geifman and El-Yaniv, 2017, "Selective Classification for Deep
      Neural Networks".
    - Geifman, Uziel and El-Yaniv, 2019, "Bias-Reduced Uncertainty
      Estimation for Deep Neural Classifiers".
"""

import numpy as np

from kerasdrop.analysis import calibration


def _scores(values, name, rows):
    """One finite float64 score per row."""
    values = np.asarray(values, dtype="float64")
    if values.ndim != 1 or len(values) != rows:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected one "
            f"score per row, shape ({rows},). Received: {name} of shape "
            f"{values.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected "
            f"finite scores. Received: {name} with "
            f"{int(np.sum(~np.isfinite(values)))} NaN or infinite values"
        )
    return values


def risk_coverage_curve(probabilities, labels, confidence=None):
    """The error rate on the rows answered, for every confidence threshold.

    Rows are answered from the most confident down; at each distinct
    confidence `t`, the model answers the rows of confidence at least `t`
    (rows of equal confidence are answered or refused together).

    Args:
        probabilities: Class probabilities `(rows, classes)`: the predicted
            class of a row is its most probable one.
        labels: True classes: indices `(rows,)` or one-hot rows.
        confidence: Scores `(rows,)` that rank the rows, higher for more
            confident (such as `-mutual_information(samples)`); by default
            the largest class probability.

    Returns:
        A dict of arrays, one entry per distinct confidence from the
        highest down: `"threshold"`, `"coverage"` (the fraction of rows
        answered, rising to 1) and `"risk"` (the error rate on them).

    Examples:
        >>> curve = risk_coverage_curve(
        ...     [[0.9, 0.1], [0.8, 0.2], [0.6, 0.4]], [0, 1, 0])
        >>> curve["coverage"].round(3), curve["risk"].round(3)
        (array([0.333, 0.667, 1.   ]), array([0.   , 0.5  , 0.333]))
    """
    probabilities, labels = calibration._rows(probabilities, labels)
    if confidence is None:
        confidence = probabilities.max(axis=-1)
    confidence = _scores(confidence, "confidence", len(labels))
    errors = probabilities.argmax(axis=-1) != labels
    order = np.argsort(-confidence, kind="stable")
    confidence, errors = confidence[order], errors[order]
    # The last row of each group of equal confidence.
    ends = np.flatnonzero(np.diff(confidence, append=-np.inf) != 0.0)
    answered = ends + 1
    return {
        "threshold": confidence[ends],
        "coverage": answered / len(errors),
        "risk": np.cumsum(errors)[ends] / answered,
    }


def area_under_risk_coverage(probabilities, labels, confidence=None):
    """Area under the risk-coverage curve (AURC); lower is better.

    `AURC = (1/n) sum_k risk(k)`: the risk when the `k` most confident
    rows are answered, averaged over `k = 1..n`, with tied rows all given
    the risk of their group answered together. A model whose errors are
    its least confident rows has the smallest AURC its error rate allows;
    one whose confidence says nothing about its errors has an AURC equal to
    its error rate.

    Args:
        probabilities: Class probabilities `(rows, classes)`.
        labels: True classes: indices `(rows,)` or one-hot rows.
        confidence: Scores `(rows,)`, higher for more confident; by default
            the largest class probability.

    Returns:
        The AURC, a Python float between 0 and 1.

    Examples:
        >>> # Risks 0, 1/2 and 1/3 for 1, 2 and 3 rows answered.
        >>> round(area_under_risk_coverage(
        ...     [[0.9, 0.1], [0.8, 0.2], [0.6, 0.4]], [0, 1, 0]), 4)
        0.2778
    """
    curve = risk_coverage_curve(probabilities, labels, confidence)
    sizes = np.diff(curve["coverage"], prepend=0.0)
    return float(np.sum(sizes * curve["risk"]))


def risk_coverage_plot(probabilities, labels, confidence=None, ax=None):
    """Plots the risk-coverage curve, with its AURC in the legend.

    Needs matplotlib, imported only here. Call it once per model on the
    same axes to compare them.

    Args:
        probabilities: Class probabilities `(rows, classes)`.
        labels: True classes: indices `(rows,)` or one-hot rows.
        confidence: Scores `(rows,)`, higher for more confident; by default
            the largest class probability.
        ax: A matplotlib `Axes` to draw on; a new figure's by default.

    Returns:
        The matplotlib `Axes`.
    """
    import matplotlib.pyplot as plt

    curve = risk_coverage_curve(probabilities, labels, confidence)
    area = area_under_risk_coverage(probabilities, labels, confidence)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    ax.step(
        np.concatenate([[0.0], curve["coverage"]]),
        np.concatenate([curve["risk"][:1], curve["risk"]]),
        where="pre",
        label=f"AURC = {area:.4f}",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("coverage (fraction of rows answered)")
    ax.set_ylabel("risk (error rate on them)")
    ax.legend(loc="upper left")
    return ax
