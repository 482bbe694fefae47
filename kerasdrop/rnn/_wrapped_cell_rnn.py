"""The part ZoneoutLSTM, VariationalLSTM and their GRU twins share.

Each is a `keras.layers.RNN` over a kerasdrop wrapper around a Keras
`LSTMCell` or `GRUCell`. The cell is built from the layer's arguments the
way `keras.layers.LSTM` builds it, so the weights (order, shapes, names of
the cell's variables) are those of `keras.layers.LSTM` / `GRU`, and the
config is flat, like Keras's.
"""

import inspect
import re

import keras
from keras import ops

from kerasdrop import _compat
from kerasdrop.layers.rates import SamplingSwitch
from kerasdrop.rnn._cell_wrapper import as_list

# Keras cell arguments the kerasdrop layers replace with their own rates.
_REPLACED_ARGUMENTS = ("dropout", "recurrent_dropout")

# Cell arguments Keras's LSTM and GRU cells read from `**kwargs`.
_CELL_KEYWORD_ARGUMENTS = ("implementation",)


def _make_cell(cell_class, units, kwargs, layer_name, rate_names):
    """Builds `cell_class(units, ...)` from the cell arguments in `kwargs`.

    The cell's arguments are removed from `kwargs`; what is left goes to
    `keras.layers.RNN` (`return_sequences`, `name`, ...). `dtype` and
    `trainable` go to both, as in `keras.layers.LSTM`.
    """
    for name in _REPLACED_ARGUMENTS:
        if name in kwargs:
            raise ValueError(
                f"{layer_name} does not take `{name}`: its dropout is set by "
                f"{', '.join(f'`{rate}`' for rate in rate_names)}. For "
                "dropout on the inputs of a layer, put "
                "`kerasdrop.VariationalDropout` before it. "
                f"Received: {name}={kwargs[name]}"
            )
    parameters = inspect.signature(cell_class.__init__).parameters
    cell_arguments = {
        name: kwargs.pop(name)
        for name in list(kwargs)
        if (name in parameters or name in _CELL_KEYWORD_ARGUMENTS)
        and name not in ("units", "seed", "kwargs")
    }
    return cell_class(
        units,
        dtype=kwargs.get("dtype"),
        trainable=kwargs.get("trainable", True),
        name=_snake_case(cell_class.__name__),
        **cell_arguments,
    )


def _snake_case(name):
    """`"LSTMCell"` -> `"lstm_cell"`, `"ZoneoutCell"` -> `"zoneout_cell"`."""
    return re.sub(
        r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name
    ).lower()


class CellRate:
    """Exposes a rate of the layer's cell wrapper as a layer attribute."""

    def __set_name__(self, owner, name):
        self.name = name
        self.__doc__ = f"The cell's `{name}`, a float in [0, 1]; assignable."

    def __get__(self, layer, owner=None):
        if layer is None:
            return self
        return getattr(layer.cell, self.name)

    def __set__(self, layer, value):
        setattr(layer.cell, self.name, value)


class WrappedCellRNN(SamplingSwitch, keras.layers.RNN):
    """Base class: an RNN over a kerasdrop wrapper of an LSTM or GRU cell."""

    def __init__(
        self, wrapper_class, cell_class, units, rates, seed=None, **kwargs
    ):
        """Builds `wrapper_class(cell_class(units, ...), **rates, seed=seed)`.

        `kwargs` holds the arguments of `cell_class` and of
        `keras.layers.RNN` (see `_make_cell`).
        """
        cell = _make_cell(
            cell_class, units, kwargs, type(self).__name__, list(rates)
        )
        wrapper = wrapper_class(
            cell,
            **rates,
            seed=seed,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name=_snake_case(wrapper_class.__name__),
        )
        super().__init__(wrapper, **kwargs)
        self.input_spec = keras.layers.InputSpec(ndim=3)

    @property
    def dropout_rates(self):
        """The cell's rate variables, found under this layer's name."""
        return self.cell.dropout_rates

    @property
    def units(self):
        return self.cell.cell.units

    @property
    def seed(self):
        return self.cell.seed

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        cell_config = self.cell.cell.get_config()
        for name in ("name", "trainable", "dtype", "seed") + (
            _REPLACED_ARGUMENTS
        ):
            cell_config.pop(name, None)
        rates = {name: getattr(self, name) for name in self.dropout_rates}
        # Not in the config of Keras's cells, but an argument of the layer.
        cell_config["implementation"] = self.cell.cell.implementation
        return {**config, **cell_config, **rates, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class VariationalRNN(WrappedCellRNN):
    """Base class of the variational LSTM and GRU: at inference, Keras's.

    Without dropout the layer is a plain LSTM or GRU, and runs what
    `keras.layers.LSTM` or `GRU` runs (`_compat.keras_rnn_kernel`): the
    backend's fused kernel where Keras uses one, else the generic loop. So
    a Keras layer converted by `make_schedulable` keeps its inference
    outputs to the bit on every backend.
    """

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not training:
            outputs = _compat.keras_rnn_kernel(
                self, self.cell.cell, sequences, initial_state, mask
            )
            if outputs is not None:
                return outputs
        return super().inner_loop(
            sequences, initial_state, mask, training=training
        )


class ZoneoutRNN(WrappedCellRNN):
    """Base class of the zoneout layers: masks drawn outside the recurrence.

    In training, what the keep masks of each time step are drawn from is
    fed to the time loop next to the input sequences, one step's slice at
    each step, the way the loop feeds the inputs: on JAX the masks of all
    steps, drawn in one call before the loop (`lax.scan` cannot draw a new
    mask at each step); on TensorFlow one seed per step, from which each
    step draws its own masks, a draw the loop runs ahead of the recurrent
    computation (`_compat.draws_masks_in_loop`). The loop runs time-major,
    the layout the masks are drawn in, so they are never transposed. The
    loop is fed a flat tuple `(sequences, *per_step)`: Keras's unrolled
    JAX loop slices only the top level of its inputs' structure.
    """

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not training:
            return super().inner_loop(
                sequences, initial_state, mask, training=training
            )
        batch_size, timesteps = ops.shape(sequences)[:2]
        if _compat.draws_masks_in_loop():
            seeds = _compat.step_seeds(timesteps, self.cell.seed_generator)
            per_step = [ops.expand_dims(seeds, 1)]  # (timesteps, 1, 2)
            thresholds = self.cell._keep_thresholds()

            def step_keep(step_extra, step_inputs):
                return self.cell._keep_masks(
                    ops.shape(step_inputs)[:1],
                    seed=step_extra[0][0],
                    thresholds=thresholds,
                )

        else:
            per_step = self.cell._draw_step_masks(batch_size, timesteps)

            def step_keep(step_extra, step_inputs):
                return list(step_extra)

        def step(inputs, states):
            step_inputs, *step_extra = inputs
            if keras.backend.backend() == "torch" and self.stateful:
                # As in `keras.layers.RNN`: no in-place change of a state
                # that autograd still needs.
                states = keras.tree.map_structure(ops.copy, states)
            output, new_states = self.cell._zoned_step(
                step_inputs,
                states,
                step_keep(step_extra, step_inputs),
                training=training,
            )
            return output, as_list(new_states)

        if mask is not None:
            mask = _swap_batch_and_time(mask)
        last_output, outputs, states = _compat.rnn_loop(
            step,
            (_swap_batch_and_time(sequences), *per_step),
            initial_state,
            go_backwards=self.go_backwards,
            mask=mask,
            unroll=self.unroll,
            input_length=sequences.shape[1],
            time_major=True,
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences,
        )
        return last_output, _swap_batch_and_time(outputs), states


def _swap_batch_and_time(tensor):
    """`(batch, timesteps, ...)` <-> `(timesteps, batch, ...)`."""
    axes = list(range(len(tensor.shape)))
    axes[0], axes[1] = 1, 0
    return ops.transpose(tensor, axes)
