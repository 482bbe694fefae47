"""An LSTM layer with DropConnect on its recurrent kernel (AWD-LSTM).

Reference: Merity et al., 2017, "Regularizing and Optimizing LSTM Language
Models".
"""

import keras

from kerasdrop.rnn._weight_drop import WeightDropRNN


@keras.saving.register_keras_serializable(package="kerasdrop")
class WeightDropLSTM(WeightDropRNN, keras.layers.LSTM):
    """Long Short-Term Memory layer with a weight-dropped recurrent kernel.

    The weight-dropped LSTM of AWD-LSTM (Merity et al.): DropConnect on the
    hidden-to-hidden weights. In each training call (each batch), every
    entry of the recurrent kernel is dropped with probability `rate` and
    the others scaled by `1 / (1 - rate)`; the same dropped kernel serves
    every sample and every time step of the batch. At inference the layer
    is `keras.layers.LSTM`.

    The dropped kernel is handed to Keras's own LSTM implementation, so the
    layer keeps its speed: Keras's fused step on CPU, and cuDNN on a GPU
    where `keras.layers.LSTM` would use it. Recurrent connections are
    regularized without `recurrent_dropout`, which makes Keras fall back to
    a slower step. It is a subclass of `keras.layers.LSTM` with the same
    weights; `rate` is a variable, which `layer.rate = 0.3` or
    `kerasdrop.callbacks.DropoutScheduler` change during `fit` without
    tracing again.

    Reference: Merity et al., 2017, "Regularizing and Optimizing LSTM
    Language Models"; Wan et al., 2013, "Regularization of Neural Networks
    using DropConnect".

    Args:
        units: Positive integer, dimensionality of the output space.
        rate: Float between 0 and 1. Fraction of the recurrent kernel's
            entries dropped. Defaults to 0.5, AWD-LSTM's setting for Penn
            Treebank.
        seed: Python integer, the random seed.
        **kwargs: Any other argument of `keras.layers.LSTM`, except a
            non-zero `recurrent_dropout`. Its `dropout` (a fixed rate on the
            inputs) is allowed; for a schedulable per-sequence input mask,
            put `kerasdrop.VariationalDropout` before the layer.

    Call arguments:
        sequences: A 3D tensor `(batch, timesteps, features)`.
        initial_state: Optional list `[h, c]` of initial states.
        mask: Optional boolean tensor `(batch, timesteps)`.
        training: Python boolean: drop kernel entries or not.

    Input shape:
        3D tensor `(batch, timesteps, features)`.

    Output shape:
        As `keras.layers.LSTM`.

    Examples:
        >>> layer = kerasdrop.WeightDropLSTM(4, rate=0.5)
        >>> print(keras.ops.shape(layer(np.ones((2, 5, 3)), training=True)))
        (2, 4)
        >>> tuple(w.shape for w in layer.get_weights())  # As keras.layers.LSTM.
        ((3, 16), (4, 16), (16,))
    """
