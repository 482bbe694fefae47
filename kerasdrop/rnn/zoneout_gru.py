"""A GRU layer with zoneout.

Reference: Krueger et al., 2017, "Zoneout: Regularizing RNNs by Randomly
Preserving Hidden Activations".
"""

import keras

from kerasdrop.rnn._wrapped_cell_rnn import CellRate
from kerasdrop.rnn._wrapped_cell_rnn import ZoneoutRNN
from kerasdrop.rnn.zoneout_cell import ZoneoutCell


@keras.saving.register_keras_serializable(package="kerasdrop")
class ZoneoutGRU(ZoneoutRNN):
    """Gated Recurrent Unit layer with zoneout on its state.

    `keras.layers.RNN(kerasdrop.ZoneoutCell(keras.layers.GRUCell(units)))`,
    configured like `keras.layers.GRU`. In training, each unit of the state
    keeps its previous value with probability `rate`, independently at every
    time step; at inference the state is the expectation
    `rate * old + (1 - rate) * new`. See `kerasdrop.ZoneoutCell`.

    The weights are those of `keras.layers.GRU(units)` (same `get_weights()`
    order and shapes). The rate is a variable, which `layer.rate = 0.2` or
    `kerasdrop.callbacks.DropoutScheduler` change during `fit` without
    tracing again.

    Reference: Krueger et al., 2017, "Zoneout: Regularizing RNNs by
    Randomly Preserving Hidden Activations".

    Args:
        units: Positive integer, dimensionality of the output space.
        rate: Float between 0 and 1. Probability that a unit keeps its
            previous value.
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
        mask: Optional boolean tensor `(batch, timesteps)`; masked steps
            keep the previous state.
        training: Python boolean: random zoneout or its expectation.

    Input shape:
        3D tensor `(batch, timesteps, features)`.

    Output shape:
        `(batch, units)`, or `(batch, timesteps, units)` with
        `return_sequences=True`; with `return_state=True`, followed by the
        final state `(batch, units)`.

    Examples:
        >>> layer = kerasdrop.ZoneoutGRU(4, rate=0.1, return_sequences=True)
        >>> print(keras.ops.shape(layer(np.ones((2, 5, 3)), training=True)))
        (2, 5, 4)
    """

    rate = CellRate()

    def __init__(self, units, rate=0.1, seed=None, **kwargs):
        super().__init__(
            ZoneoutCell,
            keras.layers.GRUCell,
            units,
            {"rate": rate},
            seed=seed,
            **kwargs,
        )
