"""DropPath (stochastic depth): drops a residual branch per sample.

References:
    - Huang et al., 2016, "Deep Networks with Stochastic Depth".
    - Larsson, Maire and Shakhnarovich, 2017, "FractalNet: Ultra-Deep Neural
      Networks without Residuals" (the name DropPath).
"""

import keras
from keras import ops

from kerasdrop.layers.masks import dropout_mask
from kerasdrop.layers.scheduled_dropout import ScheduledDropout


@keras.saving.register_keras_serializable(package="kerasdrop")
class DropPath(ScheduledDropout):
    """Drops whole samples of a residual branch, with a schedulable rate.

    Put on the residual branch of a block, before the addition of the
    shortcut: during training each sample's branch output is set to 0 with
    probability `rate` (the block is then the identity for that sample) and
    scaled by `1 / (1 - rate)` otherwise, so the expected output is
    unchanged; at inference the layer returns its input. One mask entry per
    sample is the only difference from `kerasdrop.ScheduledDropout`, so the
    rate is a variable that `layer.rate = ...` or
    `kerasdrop.callbacks.DropoutScheduler` changes during `fit`.
    `kerasdrop.models.add_stochastic_depth` puts one on every residual
    branch of a model, and `kerasdrop.transfer.insert_drop_path` on the top
    stage of a pretrained ResNet.

    `mode="row"` (the default) draws one mask entry per sample, as
    Huang et al. (2016) per image, timm's `drop_path` and torchvision's
    `stochastic_depth(mode="row")` do: within a batch some samples skip the
    branch and others do not, so every batch trains a mix of depths.
    `mode="batch"` draws one entry for the whole batch, as torchvision's
    `mode="batch"` and keras-cv's `StochasticDepth` do: the branch is
    dropped for every sample of the batch at once (cheaper by one draw per
    sample, and noisier: a batch's gradient then has no signal from the
    branch at all).

    Reference: Huang et al., 2016, "Deep Networks with Stochastic Depth".

    Args:
        rate: Float between 0 and 1. Probability of dropping the branch of
            each sample.
        seed: Python integer, the random seed.
        mode: `"row"` (one draw per sample, the default) or `"batch"` (one
            draw for the whole batch).
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: Input tensor of rank 2 or more, batch first.
        training: Python boolean: drop branches (`True`) or return the input
            unchanged (`False`, the default).

    Input shape:
        Arbitrary, batch first.

    Output shape:
        Same as the input.

    Examples:
        >>> layer = kerasdrop.layers.DropPath(0.5, seed=1)
        >>> x = np.ones((4, 2, 2, 3), dtype="float32")
        >>> y = keras.ops.convert_to_numpy(layer(x, training=True))
        >>> print(y.shape)
        (4, 2, 2, 3)
        >>> sorted({float(value) for value in y.reshape(4, -1).max(axis=1)})
        [0.0, 2.0]
    """

    _takes_noise_shape = False

    def __init__(self, rate, seed=None, mode="row", **kwargs):
        if mode not in ("row", "batch"):
            raise ValueError(
                "Invalid value received for argument `mode`. Expected "
                f'"row" or "batch". Received: mode={mode!r}'
            )
        super().__init__(rate, seed=seed, **kwargs)
        self.mode = mode

    def call(self, inputs, training=False):
        if not training:
            return inputs
        # One draw per sample (or one for the batch), broadcast over every
        # other axis. The batch size may be symbolic, so the mask shape is
        # built here directly.
        rows = ops.shape(inputs)[0] if self.mode == "row" else 1
        shape = (rows,) + (1,) * (len(inputs.shape) - 1)
        mask = dropout_mask(
            shape,
            self.dropout_rates["rate"],
            self.seed_generator,
            dtype=inputs.dtype,
        )
        return ops.multiply(inputs, mask)

    def get_config(self):
        config = super().get_config()
        config.pop("noise_shape")
        config["mode"] = self.mode
        return config
