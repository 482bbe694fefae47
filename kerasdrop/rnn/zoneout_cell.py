"""Zoneout around a Keras RNN cell.

Reference: Krueger et al., 2017, "Zoneout: Regularizing RNNs by Randomly
Preserving Hidden Activations".
"""

import itertools

import keras
from keras import ops

from kerasdrop import _compat
from kerasdrop.layers.rates import Rate
from kerasdrop.layers.rates import validate_rate
from kerasdrop.rnn._cell_wrapper import CellWrapper
from kerasdrop.rnn._cell_wrapper import as_list
from kerasdrop.rnn._cell_wrapper import validate_cell

# Keep masks compare uniform integers in [0, KEEP_LEVELS) with
# round(rate * KEEP_LEVELS).
KEEP_LEVELS = 2**16

# Which rate drives which state, by number of states.
_STATE_RATE_NAMES = {1: ("rate",), 2: ("hidden_rate", "cell_rate")}


def keep_threshold(rate):
    """`round(rate * KEEP_LEVELS)` as a uint32 tensor."""
    scaled = ops.multiply(ops.cast(rate, "float32"), float(KEEP_LEVELS))
    return ops.cast(ops.round(scaled), "uint32")


class _StateRate(Rate):
    """A rate that exists only for the cells whose states it applies to."""

    def __set__(self, layer, value):
        names = layer.__dict__.get("state_rate_names", ())
        if self.name not in names:
            raise AttributeError(
                f"This ZoneoutCell has no `{self.name}`: its rates are "
                f"{list(names)}."
            )
        super().__set__(layer, value)


@keras.saving.register_keras_serializable(package="kerasdrop")
class ZoneoutCell(CellWrapper):
    """Wraps an RNN cell so that units randomly keep their previous values.

    Zoneout (Krueger et al.) regularizes a recurrent network by, at each
    time step and for each unit, keeping the unit's previous value in place
    of the newly computed one. Here **a rate is the probability of keeping
    the previous value** (the paper's zoneout probability); rate 0 is the
    plain cell and rate 1 freezes the state at its initial value. Public
    copies disagree on this (some treat the rate as the probability of
    updating), so check before porting a setting.

    - LSTM-like cells (two states `[h, c]`, such as `keras.layers.LSTMCell`):
      `hidden_rate` applies to `h` and `cell_rate` to `c`. As in the paper,
      the new `h` candidate is computed from the *un-zoned* new `c`:
      `c_t = d_c * c_{t-1} + (1 - d_c) * c'_t` and
      `h_t = d_h * h_{t-1} + (1 - d_h) * o_t * tanh(c'_t)`.
    - One-state cells (`keras.layers.GRUCell`, `keras.layers.SimpleRNNCell`):
      a single `rate`.

    In training, the masks `d` are drawn independently at every time step
    and for every sample. A unit keeps its value with probability the rate
    rounded to a multiple of 2**-16 (within 7.7e-6; rates 0 and 1 exact),
    which lets two masks come from each 32-bit random word. At inference,
    each state is the expectation `rate * old + (1 - rate) * new`. The
    cell's output is the zoned first state `h_t` (Keras cells output their
    first state), so the sequence a layer returns matches its final state.

    Rates are variables: `cell.cell_rate = 0.3` or
    `kerasdrop.callbacks.DropoutScheduler` changes them during `fit` without
    tracing again. Passing a rate that does not apply to the wrapped cell
    raises an error.

    Reference: Krueger et al., 2017, "Zoneout: Regularizing RNNs by
    Randomly Preserving Hidden Activations".

    Args:
        cell: A Keras RNN cell with one state, or with the two states
            `[h, c]` of an LSTM.
        rate: Float between 0 and 1, for one-state cells: probability that
            a unit keeps its previous value. Defaults to 0.
        cell_rate: Float between 0 and 1, for LSTM cells: the probability
            for the memory cell `c`. Defaults to 0.
        hidden_rate: Float between 0 and 1, for LSTM cells: the probability
            for the hidden state `h`. Defaults to 0.
        seed: Python integer, the random seed.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: The input at one time step, `(batch, features)`.
        states: The cell's states at the previous time step.
        training: Python boolean: random zoneout (`True`) or its expectation
            (`False`, the default).

    Examples:
        >>> cell = kerasdrop.ZoneoutCell(
        ...     keras.layers.LSTMCell(4), cell_rate=0.5, hidden_rate=0.05
        ... )
        >>> layer = keras.layers.RNN(cell, return_sequences=True)
        >>> print(keras.ops.shape(layer(np.ones((2, 5, 3)))))
        (2, 5, 4)
        >>> gru_cell = kerasdrop.ZoneoutCell(keras.layers.GRUCell(4), rate=0.1)
        >>> sorted(gru_cell.dropout_rates)
        ['rate']
    """

    rate = _StateRate("Zoneout probability of a one-state cell; assignable.")
    hidden_rate = _StateRate("Zoneout probability of `h`; assignable.")
    cell_rate = _StateRate("Zoneout probability of `c`; assignable.")

    def __init__(
        self,
        cell,
        rate=None,
        cell_rate=None,
        hidden_rate=None,
        seed=None,
        **kwargs,
    ):
        state_sizes = validate_cell(cell, "ZoneoutCell")
        state_rate_names = _STATE_RATE_NAMES.get(len(state_sizes))
        if state_rate_names is None:
            raise ValueError(
                "ZoneoutCell wraps cells with one state (GRUCell, "
                "SimpleRNNCell) or with the two states [h, c] of an LSTM. "
                f"Received a cell with {len(state_sizes)} states: "
                f"state_size={cell.state_size!r}"
            )
        output_size = getattr(cell, "output_size", None)
        if output_size is not None and output_size != state_sizes[0]:
            raise ValueError(
                "ZoneoutCell returns the zoned first state as the output, so "
                "the wrapped cell's `output_size` must equal its first state "
                f"size. Received: output_size={output_size}, "
                f"state_size={cell.state_size!r}"
            )
        given = {
            "rate": rate,
            "cell_rate": cell_rate,
            "hidden_rate": hidden_rate,
        }
        for name, value in given.items():
            if value is None:
                continue
            if name not in state_rate_names:
                raise ValueError(
                    f"Invalid argument `{name}` for a ZoneoutCell around "
                    f"{type(cell).__name__}, which has "
                    f"{len(state_sizes)} state(s). Its rates are "
                    f"{list(state_rate_names)}. Received: {name}={value}"
                )
            validate_rate(value, name)
        super().__init__(cell, seed=seed, **kwargs)
        self.state_rate_names = state_rate_names
        for name in state_rate_names:
            rate_value = given[name]
            setattr(self, name, 0.0 if rate_value is None else rate_value)

    def call(self, inputs, states, training=False):
        keep = self._draw_keep(as_list(states)) if training else None
        return self._zoned_step(inputs, states, keep, training=training)

    def _zoned_step(self, inputs, states, keep, training=False):
        """One step of the wrapped cell, then zoneout on its new states.

        `keep` holds one boolean mask per state (`True`: keep the previous
        value); with `keep=None` each state is the expectation
        `rate * old + (1 - rate) * new`.
        """
        nested = keras.tree.is_nested(states)
        previous = as_list(states)
        _, candidates = self.cell(inputs, states, training=training)
        new_states = []
        for index, candidate in enumerate(as_list(candidates)):
            if keep is not None:
                state = _compat.select(keep[index], previous[index], candidate)
            else:
                # Inference: the expectation over the keep mask.
                rate = self._rates()[index]
                rate = ops.cast(rate, candidate.dtype)
                state = rate * previous[index] + (1 - rate) * candidate
            new_states.append(state)
        return new_states[0], new_states if nested else new_states[0]

    def _rates(self):
        return [self.dropout_rates[name] for name in self.state_rate_names]

    def _draw_keep(self, states):
        """Draws this step's keep masks inside the loop (TF, PyTorch)."""
        if keras.backend.backend() == "jax":
            raise NotImplementedError(
                "On the JAX backend, ZoneoutCell cannot draw its masks "
                "inside the RNN's loop (a `lax.scan`, which would reuse one "
                "mask for every step). Use `kerasdrop.ZoneoutLSTM` or "
                "`kerasdrop.ZoneoutGRU`, which draw the masks of all steps "
                "before the loop."
            )
        return self._keep_masks((ops.shape(states[0])[0],))

    def _draw_step_masks(self, batch_size, timesteps):
        """Draws the keep masks of every step of a batch at once, time-major.

        One draw for the whole sequence: the same Bernoulli masks, unit by
        unit and step by step, as one draw per step, for one random-number
        call per batch instead of one per step. Returns one boolean tensor
        `(timesteps, batch, state size)` per state, which a layer that owns
        the time loop feeds to `_zoned_step` step by step.
        """
        return self._keep_masks((timesteps, batch_size))

    def _keep_thresholds(self):
        """Per state, `round(rate * 2**16)`: a unit keeps below it."""
        return [keep_threshold(rate) for rate in self._rates()]

    def _keep_masks(self, leading_shape, seed=None, thresholds=None):
        """One boolean mask `leading_shape + (state size,)` per state.

        A unit keeps its previous value where a uniform 16-bit integer is
        below `round(rate * 2**16)`: probability the rate rounded to a
        multiple of 2**-16 (within 7.7e-6). Each 32-bit random word gives
        two units their integers (`_compat.random_uint16_pairs`), half the
        random words of one float per unit; on a CPU the random numbers are
        most of what zoneout adds to an LSTM's step. `seed` defaults to the
        cell's seed generator, `thresholds` to `_keep_thresholds()` (a time
        loop computes them once, outside the loop).
        """
        if thresholds is None:
            thresholds = self._keep_thresholds()
        sizes = list(self.state_sizes)
        ends = list(itertools.accumulate(sizes))
        half = -(-ends[-1] // 2)
        low, high = _compat.random_uint16_pairs(
            tuple(leading_shape) + (half,),
            self.seed_generator if seed is None else seed,
        )
        if sizes == [half, half]:
            uniforms = [low, high]  # An LSTM: h from the low halves.
        else:
            uniforms = ops.concatenate([low, high], axis=-1)
            uniforms = _split_units(uniforms[..., : ends[-1]], ends)
        return [
            ops.less(uniform, ops.cast(threshold, uniform.dtype))
            for uniform, threshold in zip(uniforms, thresholds)
        ]

    def get_config(self):
        config = {name: getattr(self, name) for name in self.state_rate_names}
        return {**super().get_config(), **config}


def _split_units(tensor, ends):
    """Splits the last axis at the cumulative state sizes `ends`."""
    if len(ends) == 1:
        return [tensor]
    return ops.split(tensor, ends[:-1], axis=-1)
