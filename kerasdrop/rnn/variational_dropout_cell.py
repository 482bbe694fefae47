"""Variational (per-sequence) dropout around any Keras RNN cell.

Reference: Gal & Ghahramani, 2016, "A Theoretically Grounded Application of
Dropout in Recurrent Neural Networks".
"""

import keras
from keras import ops

from kerasdrop.layers.masks import dropout_mask
from kerasdrop.layers.rates import Rate
from kerasdrop.layers.rates import validate_rate
from kerasdrop.rnn._cell_wrapper import CellWrapper
from kerasdrop.rnn._cell_wrapper import as_list
from kerasdrop.rnn._cell_wrapper import validate_cell


@keras.saving.register_keras_serializable(package="kerasdrop")
class VariationalDropoutCell(CellWrapper):
    """Wraps an RNN cell with one input and one recurrent mask per sequence.

    Variational dropout (Gal & Ghahramani) drops the same input features and
    the same recurrent units at every time step of a sequence, with a
    different mask for each sequence of the batch. The masks are drawn once,
    before the time loop (`keras.layers.RNN` asks for them through Keras's
    mask protocol), and kept units are scaled by `1 / (1 - rate)`.

    - The input mask multiplies the cell's input `x_t`.
    - The recurrent mask multiplies the previous output `h_{t-1}` where the
      cell feeds it to its recurrent weights. For `LSTMCell` and
      `SimpleRNNCell` that is the first state the cell receives (the LSTM's
      carry `c` is never dropped). A `GRUCell` also carries `h_{t-1}` into
      its new state, `h_t = z * h_{t-1} + (1 - z) * h'`; there only the
      recurrent-weight input is masked and the carried `h_{t-1}` is not, as
      in Gal & Ghahramani's GRU. Any other cell gets its first state
      masked.

    Unlike Keras's `recurrent_dropout`, which makes `LSTMCell` switch to a
    slower step with four separately masked copies of each input, the
    wrapped cell keeps its fused step. Both rates are variables:
    `cell.input_rate = 0.1` or `kerasdrop.callbacks.DropoutScheduler`
    changes them during `fit` without tracing again.

    Reference: Gal & Ghahramani, 2016, "A Theoretically Grounded Application
    of Dropout in Recurrent Neural Networks".

    Args:
        cell: A Keras RNN cell, such as `keras.layers.LSTMCell(32)`, whose
            states are vectors.
        input_rate: Float between 0 and 1. Fraction of the input features
            dropped, for the whole sequence.
        recurrent_rate: Float between 0 and 1. Fraction of the recurrent
            units dropped, for the whole sequence.
        seed: Python integer, the random seed.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: The input at one time step, `(batch, features)`.
        states: The cell's states at the previous time step.
        training: Python boolean: apply the masks (`True`) or not (`False`,
            the default).

    Examples:
        >>> cell = kerasdrop.VariationalDropoutCell(
        ...     keras.layers.LSTMCell(4), input_rate=0.2, recurrent_rate=0.2
        ... )
        >>> layer = keras.layers.RNN(cell, return_sequences=True)
        >>> print(keras.ops.shape(layer(np.ones((2, 5, 3)), training=True)))
        (2, 5, 4)
    """

    input_rate = Rate("Fraction of input features dropped; assignable.")
    recurrent_rate = Rate("Fraction of recurrent units dropped; assignable.")

    def __init__(
        self, cell, input_rate=0.0, recurrent_rate=0.0, seed=None, **kwargs
    ):
        validate_cell(cell, "VariationalDropoutCell")
        validate_rate(input_rate, "input_rate")
        validate_rate(recurrent_rate, "recurrent_rate")
        if isinstance(cell, keras.layers.GRUCell) and (
            cell.dropout or cell.recurrent_dropout
        ):
            raise ValueError(
                "VariationalDropoutCell runs a wrapped GRUCell's step itself "
                "and does not apply the cell's own dropout. Use `input_rate` "
                "and `recurrent_rate` in place of the cell's `dropout` and "
                f"`recurrent_dropout`. Received: dropout={cell.dropout}, "
                f"recurrent_dropout={cell.recurrent_dropout}"
            )
        super().__init__(cell, seed=seed, **kwargs)
        self.input_rate = input_rate
        self.recurrent_rate = recurrent_rate
        self._input_mask = None
        self._recurrent_mask = None

    def _get_input_mask(self, inputs):
        if self._input_mask is None:
            self._input_mask = dropout_mask(
                ops.shape(inputs),
                self.dropout_rates["input_rate"],
                self.seed_generator,
                dtype=self.compute_dtype,
            )
        return self._input_mask

    def _get_recurrent_mask(self, state):
        if self._recurrent_mask is None:
            self._recurrent_mask = dropout_mask(
                ops.shape(state),
                self.dropout_rates["recurrent_rate"],
                self.seed_generator,
                dtype=self.compute_dtype,
            )
        return self._recurrent_mask

    def get_dropout_mask(self, step_input):
        super().get_dropout_mask(step_input)
        return self._get_input_mask(step_input)

    def get_recurrent_dropout_mask(self, step_input):
        super().get_recurrent_dropout_mask(step_input)
        return self._get_recurrent_mask(step_input)

    def reset_dropout_mask(self):
        super().reset_dropout_mask()
        self._input_mask = None

    def reset_recurrent_dropout_mask(self):
        super().reset_recurrent_dropout_mask()
        self._recurrent_mask = None

    def call(self, inputs, states, training=False):
        nested = keras.tree.is_nested(states)
        states = as_list(states)
        previous_output = states[0]
        recurrent_input = previous_output
        if training:
            inputs = inputs * self._get_input_mask(inputs)
            recurrent_input = previous_output * self._get_recurrent_mask(
                previous_output
            )
        if isinstance(self.cell, keras.layers.GRUCell):
            output = _gru_step(
                self.cell, inputs, previous_output, recurrent_input
            )
            return output, [output] if nested else output
        cell_states = [recurrent_input] + states[1:]
        return self.cell(
            inputs,
            cell_states if nested else recurrent_input,
            training=training,
        )

    def get_config(self):
        config = {
            "input_rate": self.input_rate,
            "recurrent_rate": self.recurrent_rate,
        }
        return {**super().get_config(), **config}


def _gru_step(cell, inputs, previous_output, recurrent_input):
    """One step of `cell` (a `keras.layers.GRUCell`), Gal & Ghahramani style.

    The same computation as Keras's fused GRU step, except that the
    recurrent weights read `recurrent_input` (the masked `h_{t-1}`) while
    the update `z * h_{t-1} + (1 - z) * h'` carries the unmasked
    `previous_output`.
    """
    units = cell.units
    matrix_x = ops.matmul(inputs, cell.kernel)
    recurrent_bias = None
    if cell.use_bias:
        if cell.reset_after:
            input_bias, recurrent_bias = cell.bias[0], cell.bias[1]
        else:
            input_bias = cell.bias
        matrix_x = matrix_x + input_bias
    x_z, x_r, x_h = ops.split(matrix_x, 3, axis=-1)
    if cell.reset_after:
        matrix_inner = ops.matmul(recurrent_input, cell.recurrent_kernel)
        if recurrent_bias is not None:
            matrix_inner = matrix_inner + recurrent_bias
    else:
        matrix_inner = ops.matmul(
            recurrent_input, cell.recurrent_kernel[:, : 2 * units]
        )
    z = cell.recurrent_activation(x_z + matrix_inner[:, :units])
    r = cell.recurrent_activation(x_r + matrix_inner[:, units : 2 * units])
    if cell.reset_after:
        recurrent_h = r * matrix_inner[:, 2 * units :]
    else:
        recurrent_h = ops.matmul(
            r * recurrent_input, cell.recurrent_kernel[:, 2 * units :]
        )
    candidate = cell.activation(x_h + recurrent_h)
    return z * previous_output + (1 - z) * candidate
