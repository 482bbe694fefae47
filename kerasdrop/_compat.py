"""The one place where kerasdrop relies on Keras internals.

Everything here is covered by `tests/test_compat.py`, so a Keras release that
changes these internals fails loudly in one place.
"""

import contextlib


def flatten_layers(model):
    """Returns `model` and all its nested layers (RNN cells, wrapped layers).

    Keras's public `Model.layers` lists only the direct children and misses
    layers nested inside others (the cell of an RNN, the layers of a
    `Bidirectional`), so this uses the private `Layer._flatten_layers`.
    """
    return model._flatten_layers(include_self=True, recursive=True)


def dropout_rnn_cell_base():
    """Returns Keras's private mixin class for RNN cells with dropout masks.

    `keras.layers.RNN` draws a cell's masks once before its time loop, by
    calling `get_dropout_mask(first_step_input)` and
    `get_recurrent_dropout_mask(first_state)`, and clears them afterwards with
    `reset_dropout_mask()` and `reset_recurrent_dropout_mask()` -- but only
    for cells that are instances of this class. kerasdrop's cell wrappers
    inherit from it (and override all four methods) so that their masks are
    fixed over the sequence in any `RNN`, `Bidirectional` or stacked cell.
    """
    from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

    return DropoutRNNCell


@contextlib.contextmanager
def substituted_weight(layer, name, value):
    """Makes `layer.<name>` read `value` (a tensor) inside the block.

    Keras's LSTM and GRU read `cell.recurrent_kernel` when they run, both in
    the cell's step and when handing the weights to cuDNN. Swapping in a
    tensor computed from the variable (a DropConnect-masked kernel) makes
    Keras's own implementation use it, and gradients reach the variable. The
    attribute is set with `object.__setattr__`, bypassing Keras's tracking,
    and always restored.
    """
    original = layer.__dict__[name]
    object.__setattr__(layer, name, value)
    try:
        yield
    finally:
        object.__setattr__(layer, name, original)


def is_functional(model):
    """Whether `model` is a Functional model (built from symbolic calls).

    Keras exports no public class for models made by
    `keras.Model(inputs, outputs)`; only those (and not Sequential or
    subclassed models) can be rebuilt by `keras.models.clone_model` with a
    `call_function`.
    """
    from keras.src.models.functional import Functional

    return isinstance(model, Functional)


def call_concrete_function(function, flat_inputs):
    """Calls a TensorFlow concrete function on its flat input tensors.

    `ConcreteFunction.__call__` first binds its arguments to the traced
    signature in Python, a noticeable part of the call for a function as
    small as `CoAdaptationMonitor`'s. The private `_call_flat` takes the
    tensors in the order of the traced function's inputs (then its captured
    variables, read at each call).
    """
    return function._call_flat(list(flat_inputs), function.captured_inputs)


def rnn_loop(step_function, inputs, initial_states, **kwargs):
    """Runs Keras's backend time loop, the one `keras.layers.RNN` runs.

    `keras.layers.RNN.inner_loop` feeds the loop one tensor of sequences;
    the backend function behind it (private `keras.src.backend.rnn`) also
    takes a nested structure of `(batch, timesteps, ...)` tensors and hands
    `step_function(inputs_t, states)` the same structure at each step, with
    `go_backwards`, `mask`, `unroll` and `return_all_outputs` handled as for
    a single tensor. Keyword arguments are passed on unchanged.
    """
    from keras.src import backend

    return backend.rnn(step_function, inputs, initial_states, **kwargs)
