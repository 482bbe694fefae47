"""An LSTM layer with variational dropout.

Reference: Gal & Ghahramani, 2016, "A Theoretically Grounded Application of
Dropout in Recurrent Neural Networks".
"""

import keras

from kerasdrop.rnn._wrapped_cell_rnn import CellRate
from kerasdrop.rnn._wrapped_cell_rnn import VariationalRNN
from kerasdrop.rnn.variational_dropout_cell import VariationalDropoutCell


@keras.saving.register_keras_serializable(package="kerasdrop")
class VariationalLSTM(VariationalRNN):
    """Long Short-Term Memory layer with variational (per-sequence) dropout.

    `keras.layers.RNN(kerasdrop.VariationalDropoutCell(LSTMCell(units)))`,
    configured like `keras.layers.LSTM`. In training, one mask on the input
    features and one mask on the recurrent input `h_{t-1}` are drawn per
    sequence, before the time loop, and used at every step (Gal &
    Ghahramani); the memory cell `c` is never dropped. At inference the
    layer is a plain LSTM.

    Where Keras's `LSTM(recurrent_dropout=...)` switches to a slower step
    (four masked copies of the input and state, four matrix products each),
    this layer keeps Keras's fused LSTM step and multiplies by one mask.
    The weights are those of `keras.layers.LSTM(units)` (same
    `get_weights()` order and shapes). Both rates are variables, which
    `layer.recurrent_rate = 0.3` or `kerasdrop.callbacks.DropoutScheduler`
    change during `fit` without tracing again.

    Reference: Gal & Ghahramani, 2016, "A Theoretically Grounded
    Application of Dropout in Recurrent Neural Networks".

    Args:
        units: Positive integer, dimensionality of the output space.
        input_rate: Float between 0 and 1. Fraction of the input features
            dropped, per sequence.
        recurrent_rate: Float between 0 and 1. Fraction of the recurrent
            units dropped, per sequence.
        seed: Python integer, the random seed.
        **kwargs: Arguments of `keras.layers.LSTMCell` (`activation`,
            `recurrent_activation`, `use_bias`, `unit_forget_bias`,
            initializers, regularizers, constraints; not `dropout` or
            `recurrent_dropout`), of `keras.layers.RNN` (`return_sequences`,
            `return_state`, `go_backwards`, `stateful`, `unroll`) and base
            layer arguments (`name`, `dtype`, `activity_regularizer`).

    Call arguments:
        sequences: A 3D tensor `(batch, timesteps, features)`.
        initial_state: Optional list `[h, c]` of initial states.
        mask: Optional boolean tensor `(batch, timesteps)`.
        training: Python boolean: apply the dropout masks or not.

    Input shape:
        3D tensor `(batch, timesteps, features)`.

    Output shape:
        `(batch, units)`, or `(batch, timesteps, units)` with
        `return_sequences=True`; with `return_state=True`, followed by the
        final `h` and `c`, each `(batch, units)`.

    Examples:
        >>> layer = kerasdrop.VariationalLSTM(
        ...     4, input_rate=0.2, recurrent_rate=0.2
        ... )
        >>> print(keras.ops.shape(layer(np.ones((2, 5, 3)), training=True)))
        (2, 4)
        >>> sorted(layer.dropout_rates)
        ['input_rate', 'recurrent_rate']
    """

    input_rate = CellRate()
    recurrent_rate = CellRate()

    def __init__(
        self, units, input_rate=0.25, recurrent_rate=0.25, seed=None, **kwargs
    ):
        super().__init__(
            VariationalDropoutCell,
            keras.layers.LSTMCell,
            units,
            {"input_rate": input_rate, "recurrent_rate": recurrent_rate},
            seed=seed,
            **kwargs,
        )
