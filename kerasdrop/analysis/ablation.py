"""Co-adaptation measured by ablation: zeroing a layer's units at test time.

The ablations ask the model itself how it depends on the units of a layer
(the input of a dropout layer: the units it drops; the output of any other
layer): how it degrades as a growing fraction of them is zeroed at test
time (the ablation curve of Morcos et al., 2018, "On the importance of
single directions for generalization"), and whether pairs of units matter
more together than apart (pairwise ablation interaction).

The model is split at the layer's units: the part before the layer runs
once, and every ablated copy of its activations goes through the part after
it in large batches. That needs a Functional or Sequential model in which
every path from the inputs to the output goes through the layer.
"""

import keras
import numpy as np
from keras import ops

from kerasdrop.analysis import _graph


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
