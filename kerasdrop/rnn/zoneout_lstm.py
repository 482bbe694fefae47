"""An LSTM layer with zoneout.

Reference: Krueger et al., 2017, "Zoneout: Regularizing RNNs by Randomly
Preserving Hidden Activations".
"""

import keras

from kerasdrop.rnn._wrapped_cell_rnn import CellRate
from kerasdrop.rnn._wrapped_cell_rnn import ZoneoutRNN
from kerasdrop.rnn.zoneout_cell import ZoneoutCell


@keras.saving.register_keras_serializable(package="kerasdrop")
class ZoneoutLSTM(ZoneoutRNN):
    """Long Short-Term Memory layer with zoneout on its cell and hidden state.

    `keras.layers.RNN(kerasdrop.ZoneoutCell(keras.layers.LSTMCell(units)))`,
    configured like `keras.layers.LSTM`. In training, each unit of the
    memory cell `c` keeps its previous value with probability `cell_rate`,
    and each unit of the hidden state `h` with probability `hidden_rate`,
    independently at every time step; at inference each state is the
    expectation `rate * old + (1 - rate) * new`. The new `h` is computed
    from the un-zoned new `c`, as in the paper, and the layer outputs the
    zoned `h`. See `kerasdrop.ZoneoutCell` for the exact semantics.

    The weights are those of `keras.layers.LSTM(units)` (same
    `get_weights()` order and shapes), so `set_weights` moves them between
    the two. Both rates are variables, which `layer.cell_rate = 0.3` or
    `kerasdrop.callbacks.DropoutScheduler` (under this layer's name) change
    during `fit` without tracing again.

    Reference: Krueger et al., 2017, "Zoneout: Regularizing RNNs by
    Randomly Preserving Hidden Activations". The defaults are the paper's
    setting for character-level Penn Treebank.

    Args:
        units: Positive integer, dimensionality of the output space.
        cell_rate: Float between 0 and 1. Probability that a unit of `c`
            keeps its previous value.
        hidden_rate: Float between 0 and 1. Probability that a unit of `h`
            keeps its previous value.
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
        mask: Optional boolean tensor `(batch, timesteps)`; masked steps
            keep the previous state.
        training: Python boolean: random zoneout or its expectation.

    Input shape:
        3D tensor `(batch, timesteps, features)`.

    Output shape:
        `(batch, units)`, or `(batch, timesteps, units)` with
        `return_sequences=True`; with `return_state=True`, followed by the
        final `h` and `c`, each `(batch, units)`.

    Examples:
        >>> layer = kerasdrop.ZoneoutLSTM(4, cell_rate=0.5, hidden_rate=0.05)
        >>> print(keras.ops.shape(layer(np.ones((2, 5, 3)), training=True)))
        (2, 4)
        >>> layer.cell_rate = 0.3
        >>> sorted(layer.dropout_rates)
        ['cell_rate', 'hidden_rate']
    """

    cell_rate = CellRate()
    hidden_rate = CellRate()

    def __init__(
        self, units, cell_rate=0.5, hidden_rate=0.05, seed=None, **kwargs
    ):
        super().__init__(
            ZoneoutCell,
            keras.layers.LSTMCell,
            units,
            {"cell_rate": cell_rate, "hidden_rate": hidden_rate},
            seed=seed,
            **kwargs,
        )
