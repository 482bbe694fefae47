"""Measures of co-adaptation between the units of a layer.

Co-adaptation — units that are only useful in the presence of specific other
units — is what dropout exists to prevent (Hinton et al., 2012, "Improving
neural networks by preventing co-adaptation of feature detectors";
Srivastava et al., 2014, "Dropout: A Simple Way to Prevent Neural Networks
from Overfitting"). This module measures it from an activation matrix
(samples × units): how correlated the units are (mean absolute correlation,
and DeCov from Cogswell et al., 2016, "Reducing Overfitting in Deep Networks
by Decorrelating Representations"), how many directions the activations
really use (effective rank, Roy & Vetterli, 2007, and participation ratio),
and how sparse they are (Srivastava et al., 2014, Fig. 8). The measures over
a model — a layer's activations on data, and how the model degrades as units
are zeroed — are in `kerasdrop.analysis.ablation`.

Activations of rank above 2, such as `(samples, steps, units)` or
`(samples, height, width, channels)`, are read with the last axis as the
units and every other position as a sample.

Every function raises a `ValueError` on NaN or infinite activations. The
covariance-based measures need at least 2 samples. A constant unit has no
correlation with anything: `correlation_matrix` holds zeros in its row and
column, and `mean_absolute_correlation` averages over the pairs of
non-constant units only.
"""

import numbers

import numpy as np
from keras import ops

DEFAULT_MEASURES = ("correlation", "decov", "participation_ratio", "sparsity")
"""The measures `summarize` (and `CoAdaptationMonitor`) compute by default.

They need no eigendecomposition, so they cost little in every epoch;
`"effective_rank"` is one more name away.
"""

ACTIVATION_MEASURES = (
    "correlation",
    "decov",
    "effective_rank",
    "participation_ratio",
    "sparsity",
)
"""Every measure `summarize` can compute from an activation matrix."""


def _as_matrix(activations, min_samples=1):
    """Returns activations as a float32 `(samples, units)` NumPy array."""
    array = np.asarray(ops.convert_to_numpy(activations), dtype="float32")
    if array.ndim < 2:
        raise ValueError(
            "Expected activations of shape (samples, units) (or of higher "
            "rank, with the units on the last axis). Received an array of "
            f"shape {array.shape}"
        )
    array = array.reshape(-1, array.shape[-1])
    if array.shape[1] == 0:
        raise ValueError(
            f"Expected at least one unit. Received activations of shape "
            f"{array.shape}"
        )
    if array.shape[0] < min_samples:
        raise ValueError(
            f"This measure needs at least {min_samples} samples, since a "
            f"covariance is undefined with fewer. Received activations of "
            f"shape {array.shape}"
        )
    finite = np.isfinite(array)
    if not finite.all():
        raise ValueError(
            f"The activations hold {array.size - finite.sum()} NaN or "
            f"infinite values (of {array.size}). Check the model for a "
            "diverged training run."
        )
    return array


def _validate_threshold(threshold):
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, numbers.Real)
        or not threshold >= 0
    ):
        raise ValueError(
            "Invalid value received for argument `threshold`. Expected a "
            f"non-negative float. Received: threshold={threshold!r}"
        )
    return float(threshold)


def validate_measures(measures, available=ACTIVATION_MEASURES):
    """Returns `measures` as a tuple of names, or raises a clear error."""
    if isinstance(measures, str):
        measures = (measures,)
    measures = tuple(measures)
    unknown = [name for name in measures if name not in available]
    if unknown or not measures:
        raise ValueError(
            "Invalid value received for argument `measures`. Expected a "
            f"non-empty list of names among {available}. "
            f"Received: measures={measures}"
        )
    return measures


# The statistics and the measures come from `keras.ops`, so the same code
# runs eagerly on arrays (`summarize`) and inside the compiled graph of
# `CoAdaptationMonitor`, which then returns a few scalars per layer.


def moment_tensors(
    activations,
    threshold=1e-6,
    covariance=True,
    spectrum=False,
    num_samples=None,
):
    """Computes, with `keras.ops`, the statistics the measures start from.

    Runs eagerly or inside a graph (`CoAdaptationMonitor` compiles it with
    the part of the model that makes the activations). The linear algebra
    runs here, in the backend, rather than in NumPy: beside a training
    backend's thread pool, multi-threaded BLAS calls can be many times
    slower.

    Args:
        activations: A tensor whose last axis holds the units.
        threshold: Activations with `|a| <= threshold` count as zero.
        covariance: Whether to return the covariance (units × units).
        spectrum: Whether to return the eigenvalues of the covariance.
        num_samples: The number of rows of the flattened activations, if
            known in advance: with fewer rows than units, the eigenvalues
            come from the smaller Gram matrix (same non-zero eigenvalues).

    Returns:
        A dict of float32 tensors: `"finite"` (1 if every activation is
        finite, else 0; the other statistics are then meaningless),
        `"near_zero"` (fraction of activations near zero), `"scale"`
        (largest absolute activation of each unit), and if asked
        `"covariance"` (divided by the number of samples) and
        `"eigenvalues"` (of the covariance, ascending).
    """
    matrix = ops.cast(activations, "float32")
    num_units = matrix.shape[-1]
    if len(matrix.shape) != 2:
        matrix = ops.reshape(matrix, (-1, num_units))
    mean = ops.mean(matrix, axis=0)
    # A sum is finite exactly when all its terms are (unless it overflows,
    # and then so would the covariance): far cheaper than testing every
    # activation.
    finite = ops.all(ops.isfinite(mean))
    if spectrum:
        # The eigendecomposition must not see NaN.
        matrix = ops.where(finite, matrix, 0.0)
        mean = ops.where(finite, mean, 0.0)
    magnitude = ops.abs(matrix)
    moments = {
        "finite": ops.cast(finite, "float32"),
        "near_zero": ops.mean(ops.cast(magnitude <= threshold, "float32")),
        "scale": ops.max(magnitude, axis=0),
    }
    if not (covariance or spectrum):
        return moments
    count = ops.cast(ops.shape(matrix)[0], "float32")
    centered = matrix - mean
    # Divided by the number of samples, as in Cogswell et al. (2016).
    product = ops.matmul(ops.transpose(centered), centered) / count
    if covariance:
        moments["covariance"] = product
    if spectrum:
        if spectrum_size(num_samples, num_units) < num_units:
            product = ops.matmul(centered, ops.transpose(centered)) / count
        moments["eigenvalues"] = ops.eigh(product)[0]
    return moments


def spectrum_size(num_samples, num_units):
    """How many eigenvalues `moment_tensors` returns."""
    if num_samples is not None and num_samples < num_units:
        return num_samples  # From the Gram matrix.
    return num_units


def _correlation(covariance, scale):
    """Correlation matrix, with zero rows and columns for constant units.

    Returns it and the 0/1 float mask of the non-constant units.
    """
    std = ops.sqrt(ops.maximum(ops.diagonal(covariance), 0.0))
    # Relative to the unit's scale: float32 centring leaves about 1e-7.
    varying = std > 1e-5 * scale
    std = ops.where(varying, std, 1.0)
    correlation = covariance / (std[:, None] * std[None, :])
    both = ops.logical_and(varying[:, None], varying[None, :])
    correlation = ops.where(both, ops.clip(correlation, -1.0, 1.0), 0.0)
    return correlation, ops.cast(varying, "float32")


def _mean_absolute_correlation(moments):
    correlation, varying = _correlation(moments["covariance"], moments["scale"])
    count = ops.sum(varying)
    pairs = count * (count - 1.0)
    # The diagonal holds about 1 per varying unit: exactly 1 after clipping,
    # or 1 - 6e-8, which changes the mean by less than 1e-9.
    total = ops.sum(ops.abs(correlation)) - count
    # Fewer than two varying units have no pair: 0.
    return ops.where(pairs > 0, total / ops.maximum(pairs, 1.0), 0.0)


def _decov(moments):
    covariance = moments["covariance"]
    # Masked rather than subtracted: uncorrelated units give exactly 0.
    off_diagonal = 1.0 - ops.eye(covariance.shape[-1], dtype="float32")
    return 0.5 * ops.sum(ops.square(covariance * off_diagonal))


def _effective_rank(moments):
    eigenvalues = ops.maximum(moments["eigenvalues"], 0.0)
    # Below this the eigenvalues are float32 round-off, as in
    # `numpy.linalg.matrix_rank`.
    tolerance = (
        ops.max(eigenvalues)
        * eigenvalues.shape[-1]
        * float(np.finfo("float32").eps)
    )
    kept = eigenvalues > tolerance
    eigenvalues = ops.where(kept, eigenvalues, 0.0)
    total = ops.sum(eigenvalues)
    # The dropped eigenvalues get p = 1, whose p * log(p) is 0.
    p = ops.where(kept, eigenvalues / ops.where(total > 0, total, 1.0), 1.0)
    entropy = -ops.sum(p * ops.log(p))
    return ops.where(total > 0, ops.exp(entropy), 0.0)


def _participation_ratio(moments):
    # (sum of eigenvalues)^2 / (sum of squared eigenvalues), computed as
    # trace(C)^2 / ||C||_F^2 without an eigendecomposition.
    covariance = moments["covariance"]
    squares = ops.sum(ops.square(covariance))
    trace = ops.sum(ops.diagonal(covariance))
    ratio = ops.square(trace) / ops.where(squares > 0, squares, 1.0)
    return ops.where(squares > 0, ratio, 0.0)


_MEASURES = {
    "correlation": _mean_absolute_correlation,
    "decov": _decov,
    "effective_rank": _effective_rank,
    "participation_ratio": _participation_ratio,
    "sparsity": lambda moments: moments["near_zero"],
}


def moment_options(measures):
    """The `moment_tensors` arguments that `measures` need."""
    return {
        "covariance": any(
            name not in ("sparsity", "effective_rank") for name in measures
        ),
        "spectrum": "effective_rank" in measures,
    }


def measure_tensors(
    activations, measures=DEFAULT_MEASURES, threshold=1e-6, num_samples=None
):
    """Computes the named measures with `keras.ops`, eagerly or in a graph.

    `summarize` runs it eagerly; `CoAdaptationMonitor` compiles it with the
    part of the model that makes the activations, so that one call returns
    every measure as a scalar. It does not validate its arguments.

    Args:
        activations: A tensor whose last axis holds the units, at least 2
            rows of them for the covariance-based measures.
        measures: Names among `ACTIVATION_MEASURES`.
        threshold: Activations with `|a| <= threshold` count as zero.
        num_samples: Passed to `moment_tensors`.

    Returns:
        A dict from measure name to a float32 scalar tensor; every measure
        is NaN if the activations are not finite.
    """
    moments = moment_tensors(
        activations,
        threshold,
        num_samples=num_samples,
        **moment_options(measures),
    )
    finite = moments["finite"] > 0
    return {
        name: ops.where(finite, _MEASURES[name](moments), float("nan"))
        for name in measures
    }


def summarize(activations, measures=DEFAULT_MEASURES, threshold=1e-6):
    """Computes several co-adaptation measures of one activation matrix.

    The covariance is computed once and shared, so this is cheaper than
    calling the measures one by one. The statistics are computed in float32.

    Args:
        activations: Array of shape `(samples, units)` (or higher rank, with
            the units on the last axis).
        measures: Names among `"correlation"` (see
            `mean_absolute_correlation`), `"decov"`, `"effective_rank"`,
            `"participation_ratio"` and `"sparsity"`.
        threshold: Passed to `sparsity`.

    Returns:
        A dict from measure name to a Python float.

    Examples:
        Two units, each duplicated:

        >>> a = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
        >>> summary = summarize(np.concatenate([a, a], axis=1))
        >>> {name: round(value, 3) for name, value in summary.items()}
        {'correlation': 0.333, 'decov': 0.5, 'participation_ratio': 2.0, 'sparsity': 0.5}
    """  # noqa: E501
    measures = validate_measures(measures)
    threshold = _validate_threshold(threshold)
    needs_covariance = any(name != "sparsity" for name in measures)
    matrix = _as_matrix(activations, min_samples=2 if needs_covariance else 1)
    values = measure_tensors(
        matrix, measures, threshold, num_samples=len(matrix)
    )
    return {
        name: float(ops.convert_to_numpy(value))
        for name, value in values.items()
    }


def correlation_matrix(activations):
    """Pearson correlation between every pair of units.

    Args:
        activations: Array of shape `(samples, units)`, at least 2 samples.

    Returns:
        A `(units, units)` float64 array with ones on the diagonal. Rows and
        columns of constant units are zero, diagonal included.

    Examples:
        >>> a = np.array([[0.0, 0.0, 5.0], [1.0, 2.0, 5.0], [2.0, 4.0, 5.0]])
        >>> print(correlation_matrix(a))
        [[1. 1. 0.]
         [1. 1. 0.]
         [0. 0. 0.]]
    """
    matrix = _as_matrix(activations, min_samples=2)
    moments = moment_tensors(matrix)
    correlation, varying = (
        np.asarray(ops.convert_to_numpy(value), dtype="float64")
        for value in _correlation(moments["covariance"], moments["scale"])
    )
    # Exactly 1 for the varying units (float32 rounding leaves 1 - 6e-8).
    np.fill_diagonal(correlation, varying)
    return correlation


def mean_absolute_correlation(activations):
    """Mean absolute Pearson correlation between distinct units.

    The mean of `|correlation_matrix(activations)|` off its diagonal, over
    the pairs of non-constant units: 1 when every unit is a copy (up to
    sign and scale) of every other, near 0 for independent units. Fewer
    than two non-constant units give 0.

    Args:
        activations: Array of shape `(samples, units)`, at least 2 samples.

    Returns:
        A Python float in [0, 1].

    Examples:
        >>> a = np.random.default_rng(0).standard_normal((100, 1))
        >>> round(mean_absolute_correlation(np.concatenate([a, -2 * a], 1)), 6)
        1.0
    """
    return summarize(activations, ("correlation",))["correlation"]


def decov(activations):
    """The DeCov loss of Cogswell et al. (2016), as a measure.

    With `C` the covariance of the units (normalized by the number of
    samples), `0.5 * (||C||_F^2 - ||diag(C)||^2)`: half the sum of the
    squared covariances between distinct units. Unlike the correlation it
    grows with the scale of the activations.

    Reference: Cogswell et al., 2016, "Reducing Overfitting in Deep Networks
    by Decorrelating Representations".

    Args:
        activations: Array of shape `(samples, units)`, at least 2 samples.

    Returns:
        A non-negative Python float.

    Examples:
        >>> a = np.array([[1.0, 1.0], [-1.0, -1.0]])
        >>> decov(a)
        1.0
    """
    return summarize(activations, ("decov",))["decov"]


def effective_rank(activations):
    """Effective rank of the covariance of the units.

    The exponential of the entropy of the normalized covariance eigenvalues
    (Roy & Vetterli, 2007, "The effective rank: a measure of effective
    dimensionality"): `units` for an isotropic covariance, 1 when every unit
    is a multiple of one signal, 0 when all units are constant. Co-adapted
    units that carry the same information lower it.

    Args:
        activations: Array of shape `(samples, units)`, at least 2 samples.

    Returns:
        A Python float between 0 and the number of units.

    Examples:
        >>> a = np.random.default_rng(0).standard_normal((200, 1))
        >>> round(effective_rank(np.concatenate([a, 3 * a, -a], axis=1)), 6)
        1.0
    """
    return summarize(activations, ("effective_rank",))["effective_rank"]


def participation_ratio(activations):
    """Participation ratio of the covariance of the units.

    `(sum of eigenvalues)^2 / (sum of squared eigenvalues)`: like
    `effective_rank` it is `units` for an isotropic covariance and 1 for a
    single direction, but it weighs the large eigenvalues more.

    Args:
        activations: Array of shape `(samples, units)`, at least 2 samples.

    Returns:
        A Python float between 0 and the number of units.

    Examples:
        >>> a = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
        >>> participation_ratio(a)
        2.0
    """
    return summarize(activations, ("participation_ratio",))[
        "participation_ratio"
    ]


def sparsity(activations, threshold=1e-6):
    """Fraction of activations that are near zero.

    Dropout makes the hidden activations of ReLU networks sparser
    (Srivastava et al., 2014, Fig. 8).

    Args:
        activations: Array of shape `(samples, units)`.
        threshold: Activations with `|a| <= threshold` count as zero.

    Returns:
        A Python float in [0, 1].

    Examples:
        >>> sparsity(np.array([[0.0, 1.0], [0.0, 2.0]]))
        0.5
    """
    return summarize(activations, ("sparsity",), threshold)["sparsity"]


def unit_mean_activations(activations):
    """Mean activation of every unit over the samples.

    The histogram of these values is the right panel of Srivastava et al.
    (2014), Fig. 8: with dropout, most units have a low mean activation.

    Args:
        activations: Array of shape `(samples, units)`.

    Returns:
        A float32 array of shape `(units,)`.

    Examples:
        >>> print(unit_mean_activations(np.array([[0.0, 1.0], [2.0, 1.0]])))
        [1. 1.]
    """
    return _as_matrix(activations).mean(axis=0)
