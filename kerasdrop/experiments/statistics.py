"""Paired differences over seeds, their confidence interval and a verdict.

Two variants trained on the same seed share their initial weights, data,
batch order and dropout seeds, so the seed-by-seed differences carry far
less noise than the two spreads over seeds suggest. A difference is
summarized by its mean, its sample standard deviation, a two-sided Student
t confidence interval of the mean over seeds, and the sign counts. The
verdict reads only the interval: a variant is better ("reproduced") or
worse ("contradicted") than the reference only when the interval excludes
zero in that direction. Sign counts alone are too brittle: with 5 seeds,
4 agreeing signs happen by chance for a difference of a quarter of its
standard deviation.
"""

import math
import numbers

import numpy as np

REPRODUCED = "reproduced"
CONTRADICTED = "contradicted"
NOT_DISTINGUISHABLE = "not distinguishable from noise here"
VERDICTS = (REPRODUCED, CONTRADICTED, NOT_DISTINGUISHABLE)


def _t_two_sided_mass(t, df):
    """`P(|T| <= t)` for Student's t with integer `df` degrees of freedom.

    The closed forms of Abramowitz & Stegun (1964), 26.7.3 and 26.7.4.
    """
    theta = math.atan(t / math.sqrt(df))
    sin, cos = math.sin(theta), math.cos(theta)
    if df % 2 == 1:
        # (2 / pi) (theta + sin (cos + 2/3 cos^3 + ... + cos^(df - 2) ...)).
        total, term = 0.0, cos
        for k in range(1, (df - 1) // 2 + 1):
            total += term
            term *= 2 * k / (2 * k + 1) * cos * cos
        return 2.0 / math.pi * (theta + sin * total)
    # sin (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ... + ... cos^(df - 2)).
    total, term = 1.0, 1.0
    for k in range(1, df // 2):
        term *= (2 * k - 1) / (2 * k) * cos * cos
        total += term
    return sin * total


def t_quantile(confidence, df):
    """The two-sided Student t critical value: `P(|T| <= t) = confidence`.

    Exact for integer degrees of freedom (bisection on the closed-form
    distribution function), so no SciPy is needed.

    Args:
        confidence: Float strictly between 0 and 1, such as 0.95.
        df: Positive integer, the degrees of freedom (seeds minus one).

    Returns:
        A Python float.

    Examples:
        >>> round(kerasdrop.experiments.t_quantile(0.95, 4), 3)
        2.776
        >>> round(kerasdrop.experiments.t_quantile(0.95, 9), 3)
        2.262
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(
            "Invalid value received for argument `confidence`. Expected a "
            f"float strictly between 0 and 1. Received: "
            f"confidence={confidence!r}"
        )
    if isinstance(df, bool) or not isinstance(df, numbers.Integral) or df < 1:
        raise ValueError(
            "Invalid value received for argument `df`. Expected a positive "
            f"integer. Received: df={df!r}"
        )
    low, high = 0.0, 1.0
    while _t_two_sided_mass(high, int(df)) < confidence:
        high *= 2.0
    for _ in range(200):
        middle = 0.5 * (low + high)
        if _t_two_sided_mass(middle, int(df)) < confidence:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def mean_std(values):
    """Mean and sample standard deviation (0 for a single value)."""
    values = np.asarray(values, dtype="float64")
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return float(np.mean(values)), std


def paired_difference(
    values, reference, higher_is_better=True, confidence=0.95
):
    """Seed-by-seed differences `values - reference`, summarized.

    The interval is the two-sided Student t interval of the mean over
    seeds: `mean ± t(confidence, n - 1) * std / sqrt(n)` for `n` seeds,
    which assumes the per-seed differences are independent draws from one
    roughly normal distribution. With a single seed there is no interval
    (both ends are NaN).

    Args:
        values: The variant's measurement for each seed.
        reference: The reference's measurement for the same seeds, in the
            same order.
        higher_is_better: Whether a positive difference is a win.
        confidence: Coverage of the interval.

    Returns:
        A dict with `"mean"` and `"std"` of the differences (sample
        standard deviation over seeds), `"ci_low"` and `"ci_high"` (the
        interval), `"confidence"`, `"wins"`, `"losses"` and `"ties"` (seeds
        where the variant is better, worse, equal), `"seeds"`, the list of
        `"differences"`, `higher_is_better` and the `"verdict"`.

    Examples:
        >>> difference = kerasdrop.experiments.paired_difference(
        ...     [0.80, 0.82, 0.81], [0.78, 0.80, 0.80]
        ... )
        >>> difference["wins"], difference["verdict"]
        (3, 'reproduced')
    """
    values = np.asarray(values, dtype="float64")
    reference = np.asarray(reference, dtype="float64")
    if values.shape != reference.shape or values.ndim != 1 or not len(values):
        raise ValueError(
            "Expected `values` and `reference` to be two non-empty lists of "
            "the same length (one number per seed). Received: "
            f"values={values.tolist()}, reference={reference.tolist()}"
        )
    differences = values - reference
    better = differences if higher_is_better else -differences
    mean, std = mean_std(differences)
    count = len(differences)
    if count > 1:
        half = t_quantile(confidence, count - 1) * std / math.sqrt(count)
        low, high = mean - half, mean + half
    else:
        low = high = float("nan")
    difference = {
        "mean": mean,
        "std": std,
        "ci_low": low,
        "ci_high": high,
        "confidence": confidence,
        "wins": int(np.sum(better > 0)),
        "losses": int(np.sum(better < 0)),
        "ties": int(np.sum(better == 0)),
        "seeds": count,
        "differences": differences.tolist(),
        "higher_is_better": bool(higher_is_better),
    }
    difference["verdict"] = verdict(difference)
    return difference


def verdict(difference):
    """What the confidence interval of a paired difference says.

    `"reproduced"` (the variant is better than the reference) when the
    interval lies entirely on the better side of zero, `"contradicted"`
    when it lies entirely on the worse side, and `"not distinguishable
    from noise here"` otherwise (and for a single seed, which has no
    interval). The sign counts do not enter the verdict; report them
    beside it.

    Args:
        difference: A dict as `paired_difference` returns.

    Returns:
        One of the strings of `VERDICTS`.
    """
    low, high = difference["ci_low"], difference["ci_high"]
    if not difference["higher_is_better"]:
        low, high = -high, -low
    if low > 0:
        return REPRODUCED
    if high < 0:
        return CONTRADICTED
    return NOT_DISTINGUISHABLE


def format_paired(difference, scale=1.0, digits=3, interval=True):
    """`"+0.051 ± 0.012 [+0.036, +0.066] (5/5)"`.

    The mean ± standard deviation of the differences, the confidence
    interval (with `interval=True`) and the wins out of the seeds.
    """
    text = (
        f"{scale * difference['mean']:+.{digits}f} ± "
        f"{scale * difference['std']:.{digits}f}"
    )
    if interval and difference["seeds"] > 1:
        low, high = sorted(
            (scale * difference["ci_low"], scale * difference["ci_high"])
        )
        text += f" [{low:+.{digits}f}, {high:+.{digits}f}]"
    return f"{text} ({difference['wins']}/{difference['seeds']})"
