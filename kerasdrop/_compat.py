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


def in_training_call():
    """Whether a layer is being called with `training=True` right now.

    Keras resolves the `training` argument once for the outermost layer
    call and keeps it in a private call context; code that reads a weight
    without being called itself (an attribute read by another layer) can
    only learn it there.
    """
    from keras.src.backend.common import global_state

    context = global_state.get_global_attribute("current_call_ctx")
    return bool(context is not None and context.get_value("training"))


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


def child_layers(layer):
    """Returns the layers directly inside `layer` (not `layer` itself).

    Used to walk a model as a tree, so that a rate can be named by the path
    of layer names that leads to it.
    """
    return layer._flatten_layers(include_self=False, recursive=False)


def sync_jax_fit_state(variable):
    """Makes a running JAX `fit` see a value assigned to `variable`.

    During an epoch, Keras's JAX trainer keeps the model's state in the
    training loop and empties the variables (`_value` is `None`); it reads
    the variables again only after `jax_state_sync()`, which a callback
    triggers by reading `self.model`. A rate assigned through a reference to
    the layer would otherwise be lost. This finds the model whose `fit` is
    running (a frame of its training loop, in any thread) and syncs it, so
    the assignment that follows lands in the variables the loop reads next.
    Does nothing outside a JAX `fit`.
    """
    if getattr(variable, "_value", True) is not None:
        return
    import sys

    import keras

    seen = set()
    for frame in list(sys._current_frames().values()):
        while frame is not None:
            model = frame.f_locals.get("self")
            if (
                isinstance(model, keras.Model)
                and id(model) not in seen
                and getattr(model, "_jax_state", None)
            ):
                seen.add(id(model))
                if any(v is variable for v in model.non_trainable_variables):
                    model.jax_state_sync()
                    return
            frame = frame.f_back


def compile_token(model):
    """An object that `model.compile()` replaces each time it runs.

    A train function made for one compilation must not be reused after
    another (a new loss, a new `steps_per_execution`); Keras keeps no public
    counter of compilations, but makes a new compile config every time.
    """
    return getattr(model, "_compile_config", None)


def train_step_counter(optimizer):
    """The variable that counts the train steps an optimizer has taken.

    It is `optimizer.iterations`, except under gradient accumulation
    (`gradient_accumulation_steps=k`), where `iterations` is a tensor, that
    count floor-divided by `k`: the number of weight updates. Keras's
    learning-rate schedules read the count of train steps, the private
    `_iterations`, which the optimizer advances once per step (update or
    accumulation). A `LossScaleOptimizer` hands on its inner optimizer's,
    as its `iterations` does.
    """
    while hasattr(optimizer, "inner_optimizer"):
        optimizer = optimizer.inner_optimizer
    return optimizer._iterations


def train_function_reads_step_per_call():
    """Whether the backend's train function calls `model.train_step` by
    attribute at every step (torch's `one_step_on_data`) instead of
    capturing the step when it is made (TensorFlow's `tf.function`, JAX's
    `jit`)."""
    import keras

    return keras.backend.backend() == "torch"


def fit_frame(model):
    """The frame of the `fit` (or other training loop) running `model`.

    Called from a callback hook: Keras's `fit` calls the hooks and, from the
    same frame, the model's train function. A train function that must run
    only inside one `fit` compares its caller's frame with this one. Returns
    `None` outside a training loop.
    """
    import sys

    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_locals.get("self") is model:
            return frame
        frame = frame.f_back
    return None


def output_layers(model):
    """Returns the layers that produce the outputs of a Functional or
    Sequential model, one per output.

    Keras's public `layer.output` of a nested model is the nested model's
    own output, not that of its call in the outer graph, so this reads the
    layer that produced each output tensor from the tensor's private
    `_keras_history`.
    """
    import keras

    return [
        tensor._keras_history.operation
        for tensor in keras.tree.flatten(model.outputs)
    ]


def tensor_parents(tensor):
    """The operation that produced a symbolic tensor, and its inputs there.

    Returns `(operation, inputs)`: the layer or op (a `keras.ops` call such
    as `x + y`) whose call in the graph made `tensor`, and the flat list of
    the tensors that call took (empty for a model input). Keras keeps both
    only privately, in the tensor's `_keras_history` and the operation's
    inbound nodes; the public `layer.input` of a nested model is its own
    input, not that of its call in the outer graph.
    """
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return None, []
    operation, node_index, _ = history
    node = operation._inbound_nodes[node_index]
    return operation, list(node.input_tensors)


def operation_calls(operation):
    """`(inputs, outputs)` of every call of `operation` in a graph: the flat
    lists of the tensors it took and returned, from its private inbound
    nodes (a shared layer has one per call)."""
    return [
        (list(node.input_tensors), list(node.output_tensors))
        for node in operation._inbound_nodes
    ]


def is_add_operation(operation):
    """Whether `operation` adds its inputs: a `keras.layers.Add` layer or
    the op of `keras.ops.add` (and of `x + y` on symbolic tensors), whose
    class Keras does not export."""
    import keras
    from keras.src.ops.numpy import Add

    return isinstance(operation, (keras.layers.Add, Add))


def build_at_init(layer):
    """Marks `layer` built at the end of its `__init__`, as Keras's do.

    Keras's `Dropout`, `GaussianNoise`, ... call `Layer._build_at_init()`:
    a layer with nothing shape-dependent to create is built at once (so
    `stateless_call` works on a fresh layer), unless a subclass overrides
    `build`, which then runs on the first call as usual. It also runs the
    backend's post-build step (PyTorch tracks the variables there) and
    locks the layer's state, as `build` would.
    """
    layer._build_at_init()


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


def attribute_values(layer):
    """The values of the instance attributes of `layer`, sublayers included.

    On torch, a Keras layer is a `torch.nn.Module`, and a sublayer assigned
    to an attribute is kept in the module's registry of children (what
    `named_children()` lists), not in the instance `__dict__`.
    """
    import keras

    values = list(vars(layer).values())
    if keras.backend.backend() == "torch":
        values.extend(child for _, child in layer.named_children())
    return values


def replace_sublayer(parent, attribute, old, new):
    """Replaces the sublayer `old` held in `parent.<attribute>` by `new`.

    `new` takes the place of `old` in the parent's tracked layers (so it
    is in the parent's `variables`, which JAX's compiled steps carry, and
    is saved), and the attribute is set without Keras's tracking, which
    refuses new sublayers on a built layer.
    """
    parent._tracker.replace_tracked_value("layers", old, new)
    object.__setattr__(parent, attribute, new)
    # On torch, also in the registry of child modules (see
    # `attribute_values`), which torch's own walks read.
    children = vars(parent).get("_modules")
    if children is not None and children.get(attribute) is old:
        children[attribute] = new


_COMPILED_FUNCTIONS = ("train_function", "test_function", "predict_function")


def has_compiled_functions(model):
    """Whether `model` keeps a traced train, test or predict function."""
    return any(
        getattr(model, name, None) is not None for name in _COMPILED_FUNCTIONS
    )


def reset_compiled_functions(model):
    """Makes the next `fit`, `evaluate` or `predict` trace its step again.

    A model keeps its traced train, test and predict functions; after its
    layers change (in place), a traced function would still run the old
    computation.
    """
    for name in _COMPILED_FUNCTIONS:
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


def rnn_loop(step_function, inputs, initial_states, **kwargs):
    """Runs Keras's backend time loop, the one `keras.layers.RNN` runs.

    `keras.layers.RNN.inner_loop` feeds the loop one tensor of sequences;
    the backend function behind it (private `keras.src.backend.rnn`) also
    takes a tuple of `(batch, timesteps, ...)` tensors and hands
    `step_function(inputs_t, states)` the same tuple at each step, with
    `go_backwards`, `mask`, `unroll` and `return_all_outputs` handled as for
    a single tensor. Keep the tuple flat: with `unroll=True` the JAX
    backend slices only its top level, so a nested list fails there.
    Keyword arguments are passed on unchanged.
    """
    from keras.src import backend

    return backend.rnn(step_function, inputs, initial_states, **kwargs)


def random_uint16_pairs(shape, seed):
    """Two tensors of independent uniform integers in `[0, 2**16)`.

    Both have `shape` and an integer dtype. On TensorFlow and JAX they are
    the low and high halves of one draw of 32-bit random words (uint32):
    half the words of two draws, where `keras.random` spends a 32-bit word
    on every number. Elsewhere they are two `keras.random.randint` draws
    (int32), with the same distribution.

    `seed` is a `keras.random.SeedGenerator`, advanced as a `keras.random`
    function advances it, or on TensorFlow one row of `step_seeds`.
    """
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if isinstance(seed, keras.random.SeedGenerator):
            seed = _tf_seed(seed)
        words = tf.random.stateless_uniform(
            shape, seed, minval=None, maxval=None, dtype=tf.uint32
        )
        low = tf.bitwise.bitwise_and(words, tf.constant(0xFFFF, tf.uint32))
        high = tf.bitwise.right_shift(words, tf.constant(16, tf.uint32))
        return low, high
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        words = jax.random.bits(seed.next(), shape, jnp.uint32)
        return words & 0xFFFF, words >> 16
    return tuple(
        keras.random.randint(shape, 0, 2**16, dtype="int32", seed=seed)
        for _ in range(2)
    )


def keras_rnn_kernel(layer, cell, sequences, initial_state, mask):
    """Runs Keras's own LSTM or GRU kernel for `layer`, or returns None.

    `keras.layers.LSTM` and `GRU` hand their time loop to the backend's
    fused kernel (the private `keras.src.backend.lstm` and `gru`) where it
    has one for the layer's configuration: cuDNN on a GPU, and on torch's
    CPU a loop over input projections computed in one product. Elsewhere
    the kernel raises `NotImplementedError` and Keras runs its generic loop
    over the cell's step; so does this (it returns None). `cell` is the
    `LSTMCell` or `GRUCell` whose weights the kernel reads; `layer` gives
    the `keras.layers.RNN` arguments, and its `use_cudnn=False` (from a
    converted Keras layer) keeps the generic loop. As in Keras, a model
    that runs cuDNN on TensorFlow is not compiled with XLA.
    """
    import keras
    from keras.src import backend

    if getattr(layer, "use_cudnn", "auto") not in ("auto", True):
        return None
    if keras.tree.is_nested(mask):
        mask = mask[0]
    arguments = dict(
        kernel=cell.kernel,
        recurrent_kernel=cell.recurrent_kernel,
        bias=cell.bias,
        activation=cell.activation,
        recurrent_activation=cell.recurrent_activation,
        return_sequences=layer.return_sequences,
        go_backwards=layer.go_backwards,
        unroll=layer.unroll,
    )
    try:
        if isinstance(cell, keras.layers.LSTMCell):
            h, c = initial_state
            outputs = backend.lstm(sequences, h, c, mask, **arguments)
        else:
            if keras.tree.is_nested(initial_state):
                initial_state = initial_state[0]
            outputs = backend.gru(
                sequences,
                initial_state,
                mask,
                reset_after=cell.reset_after,
                **arguments,
            )
    except NotImplementedError:
        return None
    if keras.backend.backend() == "tensorflow":
        layer.supports_jit = False
    return outputs


def draws_masks_in_loop():
    """Whether a layer's time loop should draw each step's masks itself.

    On TensorFlow, a step's draw from a seed of its own (`step_seeds`)
    does not depend on the recurrent states, so `tf.while_loop` (run with
    `parallel_iterations=32` by Keras) runs it ahead of the sequential
    part of the step, on a core that part leaves idle; one draw for the
    whole sequence before the loop keeps both cores busy while the loop
    waits for it. JAX's `lax.scan` runs its body in order, where one draw
    before the loop is cheaper.
    """
    import keras

    return keras.backend.backend() == "tensorflow"


def step_seeds(count, seed_generator):
    """`(count, 2)` int32 seeds, one per time step, for `random_uint16_pairs`.

    Drawn from `seed_generator` (advanced once), so that every step of
    every batch and every layer has a seed of its own (TensorFlow).
    """
    import tensorflow as tf

    return tf.random.stateless_uniform(
        (count, 2),
        _tf_seed(seed_generator),
        minval=None,
        maxval=None,
        dtype=tf.int32,
    )


def _tf_seed(seed_generator):
    """The next seed of `seed_generator`, converted as Keras converts it."""
    import tensorflow as tf

    seed = seed_generator.next()
    return tf.cast(tf.math.floormod(seed, tf.int32.max - 1), "int32")


def select(condition, x, y):
    """`keras.ops.where(condition, x, y)` for tensors of one shape.

    On TensorFlow, `ops.where` runs `SelectV2`, whose broadcasting kernel
    and gradient cost more than twice the same-shape `Select` on small
    tensors on a CPU; a zoneout step runs one per state and time step, and
    its gradient. Elsewhere, `ops.where`.
    """
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.raw_ops.Select(condition=condition, x=x, y=y)
    return keras.ops.where(condition, x, y)
