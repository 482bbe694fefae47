"""The part every kerasdrop RNN cell wrapper shares.

A wrapper holds a Keras RNN cell, has the same states, output and initial
state, and adds no weights, so a `keras.layers.RNN` around it has the same
`get_weights()` as one around the bare cell. It takes part in Keras's
dropout-mask protocol (masks drawn once before the time loop), for its own
masks and for the wrapped cell's, so wrappers nest and Keras's own cell
dropout keeps working inside them.
"""

import keras
from keras import ops

from kerasdrop import _compat
from kerasdrop.layers.rates import RateMixin

DropoutRNNCell = _compat.dropout_rnn_cell_base()


def validate_cell(cell, wrapper_name):
    """Checks that `cell` is a Keras RNN cell with flat, integer states.

    Returns:
        The list of the cell's state sizes.

    Raises:
        TypeError: if `cell` is not a Keras layer with `call` and
            `state_size`.
        ValueError: if a state size is not a positive integer.
    """
    if not isinstance(cell, keras.layers.Layer) or not hasattr(
        cell, "state_size"
    ):
        raise TypeError(
            f"Invalid value received for argument `cell` of {wrapper_name}. "
            "Expected a Keras RNN cell: a `keras.layers.Layer` with a "
            "`state_size` attribute, such as `keras.layers.LSTMCell(32)`. "
            f"Received: cell={cell!r} of type {type(cell).__name__}"
        )
    if isinstance(cell, keras.layers.StackedRNNCells):
        raise ValueError(
            f"{wrapper_name} wraps a single cell, not a "
            "`StackedRNNCells`. Wrap each cell of the stack separately."
        )
    sizes = cell.state_size
    sizes = list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ValueError(
                f"{wrapper_name} wraps cells whose states are vectors: "
                "`state_size` must be an integer or a list of integers. "
                f"Received a cell with state_size={cell.state_size!r}."
            )
    return sizes


def as_list(states):
    """A cell's states as a list (Keras passes one state bare or listed)."""
    return list(states) if keras.tree.is_nested(states) else [states]


class CellWrapper(RateMixin, DropoutRNNCell, keras.layers.Layer):
    """Base class of RNN cell wrappers; see the module docstring.

    Subclasses validate their arguments, call `super().__init__(cell, seed,
    **kwargs)`, then assign their rates.
    """

    def __init__(self, cell, seed=None, **kwargs):
        state_sizes = validate_cell(cell, type(self).__name__)
        super().__init__(**kwargs)
        self.cell = cell
        self.state_sizes = tuple(state_sizes)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.state_size = cell.state_size
        self.output_size = getattr(cell, "output_size", None)

    def build(self, input_shape):
        if not self.cell.built:
            self.cell.build(input_shape)
            self.cell.built = True

    def get_initial_state(self, batch_size=None):
        get_initial_state = getattr(self.cell, "get_initial_state", None)
        if get_initial_state is not None:
            return get_initial_state(batch_size=batch_size)
        return [
            ops.zeros((batch_size, size), dtype=self.compute_dtype)
            for size in self.state_sizes
        ]

    # Keras's mask protocol, forwarded to the wrapped cell.
    def get_dropout_mask(self, step_input):
        if isinstance(self.cell, DropoutRNNCell):
            return self.cell.get_dropout_mask(step_input)
        return None

    def get_recurrent_dropout_mask(self, step_input):
        if isinstance(self.cell, DropoutRNNCell):
            return self.cell.get_recurrent_dropout_mask(step_input)
        return None

    def reset_dropout_mask(self):
        if isinstance(self.cell, DropoutRNNCell):
            self.cell.reset_dropout_mask()

    def reset_recurrent_dropout_mask(self):
        if isinstance(self.cell, DropoutRNNCell):
            self.cell.reset_recurrent_dropout_mask()

    def get_config(self):
        config = {
            "cell": keras.saving.serialize_keras_object(self.cell),
            "seed": self.seed,
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        cell = keras.saving.deserialize_keras_object(config.pop("cell"))
        return cls(cell, **config)
