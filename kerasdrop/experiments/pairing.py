"""What makes the runs of a paired comparison share everything but dropout.

Within a seed, every variant starts from the same initial weights
(`copy_initial_weights`, also between models whose layer lists differ by
their dropout layers), sees the same batches in the same order
(`batch_order`, `ordered_rows`), and -- being built after the same
`keras.utils.set_random_seed(seed)` -- has dropout layers that draw the
same random numbers, so two variants with equal rates draw equal masks.
"""

import keras
import numpy as np

from kerasdrop.layers import ConcreteDropout
from kerasdrop.models.walk import layers_of


def batch_order(num_rows, batch_size, epochs, seed):
    """Row indices for every epoch: a fresh random order, whole batches.

    Each epoch is a new permutation of the rows, cut to a whole number of
    batches (the last, partial batch is left out, as it would weigh its
    few rows more than the others).

    Args:
        num_rows: Number of training rows.
        batch_size: Rows per batch, at most `num_rows`.
        epochs: Number of epochs.
        seed: Seed of the permutations.

    Returns:
        An int64 array of `epochs * (num_rows // batch_size) * batch_size`
        row indices, epoch after epoch.

    Examples:
        >>> order = kerasdrop.experiments.batch_order(10, 4, 2, seed=0)
        >>> order.shape
        (16,)
    """
    if batch_size < 1 or batch_size > num_rows:
        raise ValueError(
            "Expected `batch_size` between 1 and the number of rows "
            f"({num_rows}). Received: batch_size={batch_size}"
        )
    rng = np.random.default_rng(seed)
    per_epoch = (num_rows // batch_size) * batch_size
    return np.concatenate(
        [rng.permutation(num_rows)[:per_epoch] for _ in range(epochs)]
    ).astype("int64")


def ordered_rows(data, order):
    """`data` (an array, or a list or dict of arrays) at the rows `order`."""
    return keras.tree.map_structure(
        lambda array: np.asarray(array)[order], data
    )


def _dropout_own_weights(model):
    """Ids of weights that belong to a dropout layer itself: the learned
    rate of a `ConcreteDropout` (not the weights of the layer it wraps)."""
    return {
        id(layer.rate_logit)
        for layer in layers_of(model)
        if isinstance(layer, ConcreteDropout) and layer.rate_logit is not None
    }


def shared_weights(model):
    """The weights that paired variants share, in the model's order.

    Every weight of `model` except what belongs to dropout alone (rate
    variables are not weights; a `ConcreteDropout`'s learned rate is left
    out), so that a model with dropout inserted lines up with the same
    model without it.
    """
    hidden = _dropout_own_weights(model)
    return [w for w in model.weights if id(w) not in hidden]


def initial_weights(model):
    """NumPy copies of `shared_weights(model)`."""
    return [keras.ops.convert_to_numpy(w) for w in shared_weights(model)]


def copy_initial_weights(values, target):
    """Gives `target` the shared weights `values`, where they line up.

    Args:
        values: A list of arrays, as `initial_weights` returns for the model
            to copy from.
        target: A built model whose `shared_weights` should take them.

    Returns:
        `True` if every shared weight of `target` had the shape of the
        value at its place and was set; `False` (and nothing is set) when
        the two models differ by more than their dropout, such as a wider
        layer: their runs are then paired by seed and data only.
    """
    weights = shared_weights(target)
    if len(weights) != len(values) or any(
        tuple(w.shape) != tuple(np.shape(v)) for w, v in zip(weights, values)
    ):
        return False
    for weight, value in zip(weights, values):
        weight.assign(value)
    return True
