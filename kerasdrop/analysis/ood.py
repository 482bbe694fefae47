"""Out-of-distribution detection from an uncertainty score.

A score that is higher on rows the model was not trained for (another
dataset, unseen classes) lets it flag them. Scores, all *higher for more
out-of-distribution*:

- `max_probability_score`: one minus the largest class probability
  (Hendrycks and Gimpel, 2017, the baseline);
- `kerasdrop.analysis.predictive_entropy` of the prediction, and
  `kerasdrop.analysis.mutual_information` of Monte-Carlo dropout samples,
  the disagreement of the subnetworks (epistemic uncertainty);
- `energy_score` of the logits (Liu et al., 2020).

`ood_detection` measures how well a score separates in-distribution rows
from out-of-distribution ones, with the out-of-distribution rows as the
positive class: the area under the ROC curve (AUROC: 0.5 for a useless
score, 1 for a perfect one; scikit-learn's `roc_auc_score`), the area under
the precision-recall curve (AUPR, scikit-learn's `average_precision_score`)
and the false-positive rate at 95% true-positive rate (FPR95: the fraction
of in-distribution rows flagged when 95% of the out-of-distribution rows
are).

References:
    - Hendrycks and Gimpel, 2017, "A Baseline for Detecting Misclassified
      and Out-of-Distribution Examples in Neural Networks".
    - Liu, Wang, Owens and Li, 2020, "Energy-based Out-of-distribution
      Detection".
"""

import numpy as np

from kerasdrop.analysis import uncertainty


def max_probability_score(probabilities):
    """One minus the largest class probability of each row.

    Args:
        probabilities: Class probabilities `(rows, classes)` (or any
            `(..., classes)`), or a sigmoid's `(rows, 1)`.

    Returns:
        A float64 array of shape `probabilities.shape[:-1]`, between 0 and
        `1 - 1/classes`: higher for less confident rows.

    Examples:
        >>> max_probability_score([[0.9, 0.1], [0.5, 0.5]]).round(4)
        array([0.1, 0.5])
    """
    probabilities = uncertainty._probabilities(
        probabilities, "probabilities", 1
    )
    return 1.0 - probabilities.max(axis=-1)


def energy_score(logits, temperature=1.0):
    """The free energy of the logits: `-T log sum_k exp(z_k / T)`.

    Low (very negative) for rows with a large logit, so higher for
    out-of-distribution rows (Liu et al., 2020). Unlike the softmax, it
    keeps the scale of the logits, which the softmax divides away.

    Args:
        logits: Logits `(rows, classes)` (or any `(..., classes)`), the
            inputs of the softmax.
        temperature: Positive float `T`.

    Returns:
        A float64 array of shape `logits.shape[:-1]`.

    Examples:
        >>> energy_score([[10.0, 0.0], [1.0, 1.0]]).round(4)
        array([-10.    ,  -1.6931])
    """
    logits = np.asarray(logits, dtype="float64")
    if logits.ndim < 1 or logits.shape[-1] == 0:
        raise ValueError(
            "Invalid value received for argument `logits`. Expected an "
            "array with classes on the last axis. Received: logits of "
            f"shape {logits.shape}"
        )
    if not np.all(np.isfinite(logits)):
        raise ValueError(
            "Invalid value received for argument `logits`. Expected finite "
            "values. Received: logits with NaN or infinite values"
        )
    if not (
        isinstance(temperature, (int, float, np.number))
        and np.isfinite(temperature)
        and temperature > 0
    ):
        raise ValueError(
            "Invalid value received for argument `temperature`. Expected a "
            f"positive float. Received: temperature={temperature!r}"
        )
    scaled = logits / temperature
    top = scaled.max(axis=-1, keepdims=True)
    log_sum = np.log(np.sum(np.exp(scaled - top), axis=-1)) + top[..., 0]
    return -temperature * log_sum


def _detection_scores(in_scores, out_scores):
    """`(scores, is_out)`, validated, out-of-distribution rows last."""
    parts = []
    for name, values in (("in_scores", in_scores), ("out_scores", out_scores)):
        values = np.asarray(values, dtype="float64")
        if values.ndim != 1 or len(values) == 0:
            raise ValueError(
                f"Invalid value received for argument `{name}`. Expected a "
                "non-empty array of one score per row, shape (rows,). "
                f"Received: {name} of shape {values.shape}"
            )
        if not np.all(np.isfinite(values)):
            raise ValueError(
                f"Invalid value received for argument `{name}`. Expected "
                f"finite scores. Received: {name} with NaN or infinite "
                "values"
            )
        parts.append(values)
    scores = np.concatenate(parts)
    is_out = np.concatenate(
        [np.zeros(len(parts[0]), bool), np.ones(len(parts[1]), bool)]
    )
    return scores, is_out


def _roc_points(scores, is_out):
    """True and false positives at each distinct threshold, highest first
    (rows of equal score are flagged together)."""
    order = np.argsort(-scores, kind="stable")
    scores, is_out = scores[order], is_out[order]
    ends = np.flatnonzero(np.diff(scores, append=-np.inf) != 0.0)
    true_positives = np.cumsum(is_out)[ends]
    false_positives = ends + 1 - true_positives
    return true_positives, false_positives


def ood_auroc(in_scores, out_scores):
    """Area under the ROC curve of a score, out-of-distribution positive.

    The probability that an out-of-distribution row scores higher than an
    in-distribution one, ties counting one half (the Mann-Whitney
    statistic; scikit-learn's `roc_auc_score`).

    Args:
        in_scores: Scores `(rows,)` of in-distribution rows.
        out_scores: Scores `(rows,)` of out-of-distribution rows, expected
            higher.

    Returns:
        The AUROC, a Python float between 0 and 1 (0.5 for a score that
        does not separate them).

    Examples:
        >>> ood_auroc([0.1, 0.2, 0.4], [0.3, 0.5])
        0.8333333333333334
    """
    scores, is_out = _detection_scores(in_scores, out_scores)
    _, inverse, counts = np.unique(
        scores, return_inverse=True, return_counts=True
    )
    # Average ranks (1-based) of tied scores.
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]
    positives = is_out.sum()
    negatives = len(scores) - positives
    statistic = ranks[is_out].sum() - positives * (positives + 1) / 2.0
    return float(statistic / (positives * negatives))


def ood_aupr(in_scores, out_scores):
    """Area under the precision-recall curve, out-of-distribution positive.

    The average precision `sum_t (R_t - R_{t-1}) P_t` over the distinct
    thresholds `t` of the score (scikit-learn's `average_precision_score`,
    no interpolation). A useless score gets the fraction of
    out-of-distribution rows.

    Args:
        in_scores: Scores `(rows,)` of in-distribution rows.
        out_scores: Scores `(rows,)` of out-of-distribution rows, expected
            higher.

    Returns:
        The AUPR, a Python float between 0 and 1.

    Examples:
        >>> # Thresholds 0.5, 0.4, 0.3: precision 1, 1/2, 2/3 at recall
        >>> # 1/2, 1/2, 1.
        >>> round(ood_aupr([0.1, 0.2, 0.4], [0.3, 0.5]), 4)
        0.8333
    """
    scores, is_out = _detection_scores(in_scores, out_scores)
    true_positives, false_positives = _roc_points(scores, is_out)
    precision = true_positives / (true_positives + false_positives)
    recall = true_positives / is_out.sum()
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def fpr_at_tpr(in_scores, out_scores, tpr=0.95):
    """False-positive rate when a `tpr` fraction of outliers is flagged.

    The smallest fraction of in-distribution rows flagged by a threshold
    that flags at least `tpr` of the out-of-distribution rows (FPR95 for
    the default): lower is better.

    Args:
        in_scores: Scores `(rows,)` of in-distribution rows.
        out_scores: Scores `(rows,)` of out-of-distribution rows, expected
            higher.
        tpr: The true-positive rate to reach, in (0, 1].

    Returns:
        The false-positive rate, a Python float between 0 and 1.

    Examples:
        >>> fpr_at_tpr([0.1, 0.2, 0.4], [0.3, 0.5], tpr=0.95)
        0.3333333333333333
    """
    if not (
        isinstance(tpr, (int, float, np.number)) and 0.0 < float(tpr) <= 1.0
    ):
        raise ValueError(
            "Invalid value received for argument `tpr`. Expected a float in "
            f"(0, 1]. Received: tpr={tpr!r}"
        )
    scores, is_out = _detection_scores(in_scores, out_scores)
    true_positives, false_positives = _roc_points(scores, is_out)
    rates = true_positives / is_out.sum()
    first = int(np.searchsorted(rates, tpr, side="left"))
    return float(false_positives[first] / (~is_out).sum())


def ood_detection(in_scores, out_scores, tpr=0.95):
    """AUROC, AUPR and FPR at `tpr` of a score, in one dict.

    Args:
        in_scores: Scores `(rows,)` of in-distribution rows.
        out_scores: Scores `(rows,)` of out-of-distribution rows, expected
            higher.
        tpr: The true-positive rate of `"fpr_at_tpr"`.

    Returns:
        A dict of Python floats: `"auroc"`, `"aupr"` and `"fpr_at_tpr"`.

    Examples:
        >>> result = ood_detection([0.1, 0.2, 0.4], [0.3, 0.5])
        >>> sorted(result)
        ['aupr', 'auroc', 'fpr_at_tpr']
    """
    return {
        "auroc": ood_auroc(in_scores, out_scores),
        "aupr": ood_aupr(in_scores, out_scores),
        "fpr_at_tpr": fpr_at_tpr(in_scores, out_scores, tpr),
    }


def ood_histogram(in_scores, out_scores, bins=30, ax=None, xlabel="score"):
    """Histograms of a score on in- and out-of-distribution rows.

    The two densities on shared bins, with the AUROC in the title. Needs
    matplotlib, imported only here.

    Args:
        in_scores: Scores `(rows,)` of in-distribution rows.
        out_scores: Scores `(rows,)` of out-of-distribution rows.
        bins: Number of bins over the range of both.
        ax: A matplotlib `Axes` to draw on; a new figure's by default.
        xlabel: The name of the score, for the x axis.

    Returns:
        The matplotlib `Axes`.
    """
    import matplotlib.pyplot as plt

    scores, is_out = _detection_scores(in_scores, out_scores)
    auroc = ood_auroc(in_scores, out_scores)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    edges = np.histogram_bin_edges(scores, bins=bins)
    style = {"bins": edges, "density": True, "alpha": 0.55}
    ax.hist(scores[~is_out], label="in-distribution", **style)
    ax.hist(scores[is_out], label="out-of-distribution", **style)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_title(f"AUROC = {auroc:.3f}")
    ax.legend()
    return ax
