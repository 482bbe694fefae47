"""A GRU layer with DropConnect on its recurrent kernel.

Reference: Merity et al., 2017, "Regularizing and Optimizing LSTM Language
Models".
"""

import keras

from kerasdrop.rnn._weight_drop import WeightDropRNN


@keras.saving.register_keras_serializable(package="kerasdrop")
class WeightDropGRU(WeightDropRNN, keras.layers.GRU):
    """Gated Recurrent Unit layer with a weight-dropped recurrent kernel.

    AWD-LSTM's weight drop (Merity et al.) applied to a GRU: in each
    training call (each batch), every entry of the recurrent kernel is
    dropped with probability `rate` and the others scaled by
    `1 / (1 - rate)`; the same dropped kernel serves every sample and time
    step of the batch. At inference the layer is `keras.layers.GRU`.

    The dropped kernel is handed to Keras's own GRU implementation (its
    fused step, or cuDNN where Keras would use it). It is a subclass of
    `keras.layers.GRU` with the same weights; `rate` is a variable, which
    `layer.rate = 0.3` or `kerasdrop.callbacks.DropoutScheduler` change
    during `fit` without tracing again.

    Reference: Merity et al., 2017, "Regularizing and Optimizing LSTM
    Language Models"; Wan et al., 2013, "Regularization of Neural Networks
    using DropConnect".

    Args:
        units: Positive integer, dimensionality of the output space.
        rate: Float between 0 and 1. Fraction of the recurrent kernel's
            entries dropped.
        seed: Python integer, the random seed.
        **kwargs: Any other argument of `keras.layers.GRU`, except a
            non-zero `recurrent_dropout`.

    Call arguments:
        sequences: A 3D tensor `(batch, timesteps, features)`.
        initial_state: Optional initial state.
        mask: Optional boolean tensor `(batch, timesteps)`.
        training: Python boolean: drop kernel entries or not.

    Input shape:
        3D tensor `(batch, timesteps, features)`.

    Output shape:
        As `keras.layers.GRU`.

    Examples:
        >>> layer = kerasdrop.WeightDropGRU(4, rate=0.5, return_sequences=True)
        >>> print(keras.ops.shape(layer(np.ones((2, 5, 3)), training=True)))
        (2, 5, 4)
    """
