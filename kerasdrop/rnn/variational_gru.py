"""A GRU layer with variational dropout.

Reference: Gal & Ghahramani, 2016, "A Theoretically Grounded Application of
Dropout in Recurrent Neural Networks".
"""

import keras

from kerasdrop.rnn._wrapped_cell_rnn import CellRate
from kerasdrop.rnn._wrapped_cell_rnn import VariationalRNN
from kerasdrop.rnn.variational_dropout_cell import VariationalDropoutCell


@keras.saving.register_keras_serializable(package="kerasdrop")
class VariationalGRU(VariationalRNN):
    """Gated Recurrent Unit layer with variational (per-sequence) dropout.

    `keras.layers.RNN(kerasdrop.VariationalDropoutCell(GRUCell(units)))`,
    configured like `keras.layers.GRU`. In training, one mask on the input
    features and one mask on the recurrent input `h_{t-1}` are drawn per
    sequence, before the time loop, and used at every step (Gal &
    Ghahramani). The recurrent mask applies where `h_{t-1}` enters the
    recurrent weights; the update `h_t = z * h_{t-1} + (1 - z) * h'` carries
    the un-dropped `h_{t-1}`, as in Keras's own `recurrent_dropout`. At
    inference the layer is a plain GRU.

    The weights are those of `keras.layers.GRU(units)` (same
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
        **kwargs: Arguments of `keras.layers.GRUCell` (`activation`,
            `recurrent_activation`, `use_bias`, `reset_after`, initializers,
            regularizers, constraints; not `dropout` or
            `recurrent_dropout`), of `keras.layers.RNN` (`return_sequences`,
            `return_state`, `go_backwards`, `stateful`, `unroll`) and base
            layer arguments (`name`, `dtype`, `activity_regularizer`).

    Call arguments:
        sequences: A 3D tensor `(batch, timesteps, features)`.
        initial_state: Optional initial state.
        mask: Optional boolean tensor `(batch, timesteps)`.
        training: Python boolean: apply the dropout masks or not.

    Input shape:
        3D tensor `(batch, timesteps, features)`.

    Output shape:
        `(batch, units)`, or `(batch, timesteps, units)` with
        `return_sequences=True`; with `return_state=True`, followed by the
        final state `(batch, units)`.

    Examples:
        >>> layer = kerasdrop.VariationalGRU(
        ...     4, input_rate=0.2, recurrent_rate=0.2
        ... )
        >>> print(keras.ops.shape(layer(np.ones((2, 5, 3)), training=True)))
        (2, 4)
    """

    input_rate = CellRate()
    recurrent_rate = CellRate()

    def __init__(
        self, units, input_rate=0.25, recurrent_rate=0.25, seed=None, **kwargs
    ):
        super().__init__(
            VariationalDropoutCell,
            keras.layers.GRUCell,
            units,
            {"input_rate": input_rate, "recurrent_rate": recurrent_rate},
            seed=seed,
            **kwargs,
        )
