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
    `kerasdrop.transfer.insert_drop_path` puts it into a pretrained ResNet.

    Reference: Huang et al., 2016, "Deep Networks with Stochastic Depth".

    Args:
        rate: Float between 0 and 1. Probability of dropping the branch of
            each sample.
        seed: Python integer, the random seed.
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

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)

    def call(self, inputs, training=False):
        if not training:
            return inputs
        # One draw per sample, broadcast over every other axis. The batch
        # size may be symbolic, so the mask shape is built here directly.
        shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        mask = dropout_mask(
            shape,
            self.dropout_rates["rate"],
            self.seed_generator,
            dtype=inputs.dtype,
        )
        return inputs * mask

    def get_config(self):
        config = super().get_config()
        config.pop("noise_shape")
        return config
