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


def direct_sublayers(layer):
    """Returns the layers `layer` tracks directly, in tracking order.

    For a Functional or Sequential model these are its layers; for a
    subclassed layer, the layers assigned to its attributes (lists
    included); for `keras.layers.RNN`, its cell.
    """
    return layer._flatten_layers(include_self=False, recursive=False)


@contextlib.contextmanager
def unlocked_state(layer):
    """Lets a built layer create new state (variables, seed generators).

    Keras locks a layer's tracker once the layer is built, so that all of
    its state is created in `__init__` or `build`. Converting a built
    Keras dropout layer in place adds a rate variable (and, for a layer
    built at rate 0, a seed generator); the lock is restored afterwards.
    """
    tracker = layer._tracker
    locked = tracker.locked
    tracker.unlock()
    try:
        yield
    finally:
        if locked:
            tracker.lock()


def replace_sublayer(parent, attribute, old, new):
    """Replaces the sublayer `old` held in `parent.<attribute>` by `new`.

    `new` takes the place of `old` in the parent's tracked layers (so it
    is in the parent's `variables`, which JAX's compiled steps carry, and
    is saved), and the attribute is set without Keras's tracking, which
    refuses new sublayers on a built layer.
    """
    parent._tracker.replace_tracked_value("layers", old, new)
    object.__setattr__(parent, attribute, new)


def reset_compiled_functions(model):
    """Makes the next `fit`, `evaluate` or `predict` trace its step again.

    A model keeps its traced train, test and predict functions; after its
    layers change (in place), a traced function would still run the old
    computation.
    """
    for name in ("train_function", "test_function", "predict_function"):
        if getattr(model, name, None) is not None:
            setattr(model, name, None)


def serializes_own_layers(layer):
    """Whether loading rebuilds the layers of `layer` from their configs.

    True for a Functional or Sequential model whose config is Keras's own:
    it lists its layers' configs, so a kerasdrop layer in it is saved and
    loaded as such. False for other containers (subclassed layers and
    models, and Functional subclasses with their own `get_config`, such as
    KerasHub backbones), which create their sublayers from their own
    arguments when loaded.
    """
    import keras
    from keras.src.models.functional import Functional
    from keras.src.models.functional import functional_like_constructor

    if isinstance(layer, keras.Sequential):
        return type(layer).get_config is keras.Sequential.get_config
    if isinstance(layer, Functional):
        return type(
            layer
        ).get_config is Functional.get_config and functional_like_constructor(
            type(layer)
        )
    return False
