"""Measures of co-adaptation between the units of a layer.

Co-adaptation — units that are only useful in the presence of specific other
units — is what dropout exists to prevent (Hinton et al., 2012, "Improving
neural networks by preventing co-adaptation of feature detectors";
Srivastava et al., 2014, "Dropout: A Simple Way to Prevent Neural Networks
from Overfitting"). This module measures it in two ways:

- from an activation matrix (samples × units): how correlated the units are
  (mean absolute correlation, and DeCov from Cogswell et al., 2016,
  "Reducing Overfitting in Deep Networks by Decorrelating
  Representations"), how many directions the activations really use
  (effective rank, Roy & Vetterli, 2007, and participation ratio), and how
  sparse they are (Srivastava et al., 2014, Fig. 8);
- from a model, a layer and data: how the model degrades as units of the
  layer are zeroed at test time (the ablation curve of Morcos et al., 2018,
  "On the importance of single directions for generalization"), and whether
  pairs of units matter more together than apart (pairwise ablation
  interaction).

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

import keras
import numpy as np
from keras import ops

from kerasdrop.analysis import _graph

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


def layer_activations(model, layer, x, batch_size=None):
    """The activations of a layer's units on data, at inference.

    The units of a dropout layer are its input (the units it drops); the
    units of any other layer are its output.

    Args:
        model: A Functional or Sequential model.
        layer: A layer of `model`, or its name.
        x: Input data for `model`.
        batch_size: Rows per call of the model; `None` for a single call.

    Returns:
        A NumPy array whose last axis holds the units.

    Examples:
        >>> model = keras.Sequential([
        ...     keras.Input((3,)),
        ...     keras.layers.Dense(4, name="hidden"),
        ...     kerasdrop.ScheduledDropout(0.5, name="dropout"),
        ...     keras.layers.Dense(2),
        ... ])
        >>> layer_activations(model, "dropout", np.ones((5, 3))).shape
        (5, 4)
    """
    layer = _graph.get_layer(model, layer)
    batch_size = _graph.validate_positive_int(
        batch_size, "batch_size", allow_none=True
    )
    submodel = keras.Model(
        _graph.model_input(model), _graph.units_tensor(layer)
    )
    return _graph.predict(submodel, x, batch_size)


# Ablation: zeroing units of a layer at test time.


def _accuracy(y_true, y_pred):
    y_true = np.asarray(ops.convert_to_numpy(y_true))
    y_pred = np.asarray(ops.convert_to_numpy(y_pred))
    if y_pred.ndim == 1 or y_pred.shape[-1] == 1:
        predicted = (y_pred.reshape(len(y_pred), -1)[:, 0] > 0.5).astype(int)
        return float(np.mean(predicted == y_true.reshape(-1)))
    predicted = np.argmax(y_pred, axis=-1)
    if y_true.shape == y_pred.shape:  # One-hot labels.
        y_true = np.argmax(y_true, axis=-1)
    return float(np.mean(predicted == y_true.reshape(predicted.shape)))


def _get_metric(metric, model):
    """Returns a function `(y_true, y_pred) -> float` for `metric`."""
    if callable(metric):
        return lambda y_true, y_pred: float(metric(y_true, y_pred))
    if metric == "accuracy":
        return _accuracy
    if metric == "loss":
        loss = getattr(model, "loss", None)
        if loss is None or isinstance(loss, (dict, list, tuple)):
            raise ValueError(
                'metric="loss" needs a model compiled with a single loss. '
                f"The model '{model.name}' has loss={loss!r}. Compile it, "
                "or pass a function `(y_true, y_pred) -> float` as `metric`."
            )
        loss = keras.losses.get(loss)
        return lambda y_true, y_pred: float(
            np.mean(ops.convert_to_numpy(loss(y_true, y_pred)))
        )
    raise ValueError(
        "Invalid value received for argument `metric`. Expected "
        '"accuracy", "loss" or a function (y_true, y_pred) -> float. '
        f"Received: metric={metric!r}"
    )


def _ablation_setup(model, layer, x, metric, batch_size):
    """Validates, and splits `model` at the units of `layer`.

    Returns the layer, the activations of its units on `x` (the part of the
    model before the layer runs once), the part after it, the metric as a
    function and the batch size.
    """
    batch_size = _graph.validate_positive_int(
        batch_size, "batch_size", allow_none=True
    )
    metric = _get_metric(metric, model)
    layer = _graph.get_layer(model, layer)
    prefix, suffix = _graph.split(model, _graph.units_tensor(layer))
    activations = _graph.predict(prefix, x, batch_size)
    return layer, activations, suffix, metric, batch_size


def _evaluate_masks(suffix, activations, masks, y, metric, batch_size):
    values = np.empty(len(masks))
    for start, outputs in _graph.masked_outputs(
        suffix, activations, masks, batch_size
    ):
        for offset, output in enumerate(outputs):
            values[start + offset] = metric(y, output)
    return values


def _validate_fractions(fractions):
    if fractions is None:
        return np.linspace(0.0, 1.0, 11)
    array = np.asarray(fractions, dtype="float64")
    if (
        array.ndim != 1
        or array.size < 2
        or not np.all(np.isfinite(array))
        or array.min() < 0.0
        or array.max() > 1.0
        or np.any(np.diff(array) <= 0.0)
    ):
        raise ValueError(
            "Invalid value received for argument `fractions`. Expected at "
            "least 2 increasing floats between 0 and 1. "
            f"Received: fractions={fractions!r}"
        )
    return array


def ablation_curve(
    model,
    layer,
    x,
    y,
    fractions=None,
    num_orders=5,
    metric="accuracy",
    seed=None,
    batch_size=None,
):
    """How a model degrades as a growing fraction of a layer's units is zeroed.

    For each of `num_orders` random orders of the units, the first
    `round(fraction * units)` units are set to zero at test time (the units
    of a dropout layer are its input; of any other layer, its output) and the
    metric is measured on `(x, y)`. Morcos et al. (2018) found that networks
    which generalize well depend less on single units: their curve falls
    more slowly. The curve is summarized by the area under its mean, over
    the fractions (the trapezoid rule), in units of the metric.

    All ablated copies of the data go through the part of the model after
    the layer in large batches; the part before runs once.

    Reference: Morcos et al., 2018, "On the importance of single directions
    for generalization".

    Args:
        model: A Functional or Sequential model with a single output; every
            path from its inputs to its output must go through the layer.
        layer: A layer of `model`, or its name.
        x: Input data.
        y: Targets for `metric`.
        fractions: Increasing fractions of units to zero, in [0, 1].
            Defaults to 0, 0.1, ..., 1.
        num_orders: Number of random orders of the units to average over.
        metric: `"accuracy"` (arg-max, or a 0.5 threshold for a single
            output), `"loss"` (the compiled loss of `model`), or a function
            `(y_true, y_pred) -> float`.
        seed: Seed of the random orders.
        batch_size: Rows per call of the model; defaults to large batches.

    Returns:
        A dict with `"fractions"` (shape `(F,)`), `"values"` (the metric,
        shape `(num_orders, F)`), `"mean"` (shape `(F,)`) and `"area"` (a
        float).

    Examples:
        >>> model = keras.Sequential([
        ...     keras.Input((4,)),
        ...     keras.layers.Dense(8, activation="relu", name="hidden"),
        ...     keras.layers.Dense(3, activation="softmax"),
        ... ])
        >>> x, y = np.ones((10, 4)), np.zeros(10, dtype=int)
        >>> curve = ablation_curve(model, "hidden", x, y, num_orders=2, seed=0)
        >>> curve["values"].shape
        (2, 11)
    """
    fractions = _validate_fractions(fractions)
    num_orders = _graph.validate_positive_int(num_orders, "num_orders")
    _, activations, suffix, metric, batch_size = _ablation_setup(
        model, layer, x, metric, batch_size
    )
    num_units = activations.shape[-1]
    counts = np.round(fractions * num_units).astype(int)
    rng = np.random.default_rng(seed)
    masks = np.ones((num_orders, len(counts), num_units), dtype="float32")
    for order in range(num_orders):
        permutation = rng.permutation(num_units)
        for index, count in enumerate(counts):
            masks[order, index, permutation[:count]] = 0.0
    values = _evaluate_masks(
        suffix,
        activations,
        masks.reshape(-1, num_units),
        y,
        metric,
        batch_size,
    ).reshape(num_orders, len(counts))
    mean = values.mean(axis=0)
    area = float(np.sum(np.diff(fractions) * (mean[1:] + mean[:-1]) / 2.0))
    return {
        "fractions": fractions,
        "values": values,
        "mean": mean,
        "area": area,
    }


def ablation_interaction(
    model,
    layer,
    x,
    y,
    num_pairs=50,
    metric="loss",
    seed=None,
    batch_size=None,
):
    """Whether pairs of units matter more (or less) together than apart.

    For sampled pairs of units `(i, j)` of a layer, with `ΔL(S)` the change
    of the metric when the units in `S` are zeroed at test time, the
    interaction is `ΔL({i, j}) - ΔL({i}) - ΔL({j})`. It is 0 when the two
    units contribute independently, and large in magnitude for units that
    only help together (each alone is as bad as both gone) or that stand in
    for each other (either alone is enough). The summary is the mean
    absolute interaction over the pairs: a direct measure of co-adaptation.

    Args:
        model: A Functional or Sequential model with a single output; every
            path from its inputs to its output must go through the layer.
        layer: A layer of `model`, or its name.
        x: Input data.
        y: Targets for `metric`.
        num_pairs: Number of distinct pairs to sample (all pairs if there
            are fewer).
        metric: `"loss"` (the compiled loss of `model`; the default, as it
            varies smoothly), `"accuracy"`, or a function
            `(y_true, y_pred) -> float`.
        seed: Seed of the pair sampling.
        batch_size: Rows per call of the model; defaults to large batches.

    Returns:
        A dict with `"pairs"` (int array of shape `(P, 2)`),
        `"interactions"` (shape `(P,)`) and `"mean_absolute_interaction"` (a
        float).

    Examples:
        >>> model = keras.Sequential([
        ...     keras.Input((4,)),
        ...     keras.layers.Dense(6, activation="relu", name="hidden"),
        ...     keras.layers.Dense(1),
        ... ])
        >>> mean_output = lambda y_true, y_pred: float(np.mean(y_pred))
        >>> result = ablation_interaction(
        ...     model, "hidden", np.ones((8, 4)), None, num_pairs=5,
        ...     metric=mean_output, seed=0,
        ... )
        >>> result["pairs"].shape
        (5, 2)
    """
    num_pairs = _graph.validate_positive_int(num_pairs, "num_pairs")
    layer, activations, suffix, metric, batch_size = _ablation_setup(
        model, layer, x, metric, batch_size
    )
    num_units = activations.shape[-1]
    if num_units < 2:
        raise ValueError(
            f"The layer '{layer.name}' has {num_units} unit; pairwise "
            "interaction needs at least 2."
        )
    rows, columns = np.triu_indices(num_units, k=1)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(rows), min(num_pairs, len(rows)), replace=False)
    pairs = np.stack([rows[chosen], columns[chosen]], axis=1)
    singles = np.unique(pairs)
    # One call for every condition: nothing zeroed, each single unit zeroed,
    # each pair zeroed.
    masks = np.ones((1 + len(singles) + len(pairs), num_units), "float32")
    masks[1 + np.arange(len(singles)), singles] = 0.0
    pair_rows = 1 + len(singles) + np.arange(len(pairs))
    masks[pair_rows, pairs[:, 0]] = 0.0
    masks[pair_rows, pairs[:, 1]] = 0.0
    values = _evaluate_masks(suffix, activations, masks, y, metric, batch_size)
    base = values[0]
    single = dict(zip(singles.tolist(), values[1 : 1 + len(singles)]))
    together = values[1 + len(singles) :]
    interactions = np.array(
        [
            (both - base) - (single[i] - base) - (single[j] - base)
            for (i, j), both in zip(pairs.tolist(), together)
        ]
    )
    return {
        "pairs": pairs,
        "interactions": interactions,
        "mean_absolute_interaction": float(np.mean(np.abs(interactions))),
    }
