"""The variance shift of batch normalization after dropout.

Li et al. (2019), "Understanding the disharmony between dropout and batch
normalization by variance shift": dropout before a `BatchNormalization`
layer changes the variance of that layer's input between training (units
dropped, the rest scaled by `1 / (1 - rate)`) and inference (every unit,
unscaled). The moving variance the layer normalizes with at inference was
gathered during training, so at inference it normalizes with the wrong
variance. `variance_shift` measures the ratio of the two: 1 where there is
no shift, below 1 when the moving variance overestimates the inference
variance (as after dropout).
"""

import keras
import numpy as np

from kerasdrop.analysis import _graph


def variance_shift(model, layer, x, batch_size=None):
    """Ratio of a BatchNorm layer's input variance at inference to its
    moving variance.

    Runs `x` through `model` in inference mode, reads the input of the
    `keras.layers.BatchNormalization` layer `layer`, and computes per
    channel (the layer's `axis`) the variance of that input over every
    other axis (the population variance, as batch normalization computes
    it), divided by the layer's `moving_variance`.

    Args:
        model: A Functional or Sequential model.
        layer: A `BatchNormalization` layer of `model` (among
            `model.layers`), or its name.
        x: Input data for `model`; use enough rows for a stable variance.
        batch_size: Rows per call of the model; `None` for a single call.

    Returns:
        A dict with `"ratio"` (a NumPy array, one value per channel),
        `"mean_ratio"` (its mean, a Python float), `"input_variance"` and
        `"moving_variance"` (NumPy arrays, per channel).

    Examples:
        >>> model = keras.Sequential([
        ...     keras.Input((3,)),
        ...     keras.layers.BatchNormalization(name="bn"),
        ... ])
        >>> x = np.array([[0.0, 0.0, 0.0], [2.0, 4.0, 6.0]])
        >>> shift = kerasdrop.analysis.variance_shift(model, "bn", x)
        >>> shift["ratio"]  # Variances 1, 4, 9; moving variance 1.
        array([1., 4., 9.])
    """
    layer = _graph.get_layer(model, layer)
    if not isinstance(layer, keras.layers.BatchNormalization):
        raise ValueError(
            "Expected a `keras.layers.BatchNormalization` layer. Received: "
            f"layer={layer.name!r} of type {type(layer).__name__}"
        )
    batch_size = _graph.validate_positive_int(
        batch_size, "batch_size", allow_none=True
    )
    submodel = keras.Model(_graph.model_input(model), layer.input)
    inputs = np.asarray(_graph.predict(submodel, x, batch_size), "float64")
    axes = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    axes = [axis % inputs.ndim for axis in axes]
    reduced = tuple(i for i in range(inputs.ndim) if i not in axes)
    input_variance = inputs.var(axis=reduced)
    moving_variance = np.asarray(
        keras.ops.convert_to_numpy(layer.moving_variance), "float64"
    ).reshape(input_variance.shape)
    ratio = input_variance / moving_variance
    return {
        "ratio": ratio,
        "mean_ratio": float(np.mean(ratio)),
        "input_variance": input_variance,
        "moving_variance": moving_variance,
    }
