"""Locked (variational) dropout on sequences.

Reference: Gal & Ghahramani, 2016, "A Theoretically Grounded Application of
Dropout in Recurrent Neural Networks"; Merity et al., 2017, "Regularizing
and Optimizing LSTM Language Models" (locked dropout).
"""

import keras

from kerasdrop.layers.scheduled_dropout import ScheduledDropout


@keras.saving.register_keras_serializable(package="kerasdrop")
class VariationalDropout(ScheduledDropout):
    """Drops the same features at every time step of a sequence.

    For inputs `(batch, timesteps, ...)`, one dropout mask is drawn per
    sequence and used at every time step ("locked" dropout, as AWD-LSTM
    puts between its LSTM layers); sequences of the batch get different
    masks. Kept units are scaled by `1 / (1 - rate)`, and at inference the
    layer returns its input. The rate is a variable, which
    `layer.rate = 0.3` or `kerasdrop.callbacks.DropoutScheduler` change
    during `fit` without tracing again. A Keras mask (padded time steps)
    passes through unchanged.

    It is `kerasdrop.ScheduledDropout` with `noise_shape=(batch, 1, ...)`.

    Reference: Gal & Ghahramani, 2016, "A Theoretically Grounded
    Application of Dropout in Recurrent Neural Networks"; Merity et al.,
    2017, "Regularizing and Optimizing LSTM Language Models".

    Args:
        rate: Float between 0 and 1. Fraction of the features to drop.
        seed: Python integer, the random seed.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of rank 3 or more, `(batch, timesteps, ...)`.
        training: Python boolean: drop features or return the input.

    Input shape:
        `(batch, timesteps, ...)`.

    Output shape:
        Same as the input.

    Examples:
        >>> layer = kerasdrop.VariationalDropout(0.5, seed=0)
        >>> y = keras.ops.convert_to_numpy(
        ...     layer(np.ones((2, 4, 3)), training=True)
        ... )
        >>> bool((y == y[:, :1]).all())  # The same mask at every time step.
        True
    """

    _takes_noise_shape = False

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        self.input_spec = keras.layers.InputSpec(min_ndim=3)

    def _get_noise_shape(self, inputs):
        # None takes the input's size: one mask per sequence, for all steps.
        return (None, 1) + (None,) * (len(inputs.shape) - 2)

    def get_config(self):
        config = super().get_config()
        config.pop("noise_shape")
        return config
