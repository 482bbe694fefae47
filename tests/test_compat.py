"""Every private Keras detail kerasdrop relies on, checked in one place."""

import keras
import numpy as np
import pytest

import kerasdrop
from kerasdrop import _compat
from tests.fit_probes import zero_fraction_model


def test_flatten_layers_finds_nested_layers():
    inner = keras.Sequential(
        [keras.Input((4,)), kerasdrop.ScheduledDropout(0.1, name="inner")],
        name="block",
    )
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(2, name="head")(inner(inputs))
    model = keras.Model(inputs, outputs)
    names = [layer.name for layer in _compat.flatten_layers(model)]
    assert names[0] == model.name
    assert {"block", "inner", "head"} <= set(names)


class _RecordingCell(_compat.dropout_rnn_cell_base(), keras.layers.Layer):
    """A cell that records when `keras.layers.RNN` uses the mask protocol."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.state_size = 2
        self.events = []

    def get_dropout_mask(self, step_input):
        self.events.append("input mask")

    def get_recurrent_dropout_mask(self, step_input):
        self.events.append("recurrent mask")

    def reset_dropout_mask(self):
        self.events.append("reset")

    def reset_recurrent_dropout_mask(self):
        self.events.append("reset recurrent")

    def call(self, inputs, states):
        self.events.append("step")
        return states[0], states


def test_rnn_draws_cell_masks_before_its_loop_and_resets_after():
    cell = _RecordingCell()
    keras.layers.RNN(cell)(keras.ops.ones((1, 3, 2)))
    assert cell.events[:2] == ["input mask", "recurrent mask"]
    assert cell.events[-2:] == ["reset", "reset recurrent"]
    assert "step" in cell.events[2:-2]


def test_in_training_call_reads_the_outermost_training_argument():
    seen = []

    class Probe(keras.layers.Layer):
        def call(self, inputs):  # No `training` argument of its own.
            seen.append(_compat.in_training_call())
            return inputs

    outer = keras.Sequential([keras.Input((2,)), Probe()])
    outer(np.ones((1, 2)), training=True)
    outer(np.ones((1, 2)), training=False)
    assert seen[-2:] == [True, False]
    assert _compat.in_training_call() is False


def test_child_layers_lists_direct_children_only():
    inner = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    outer = keras.Sequential([keras.Input((2,)), inner, keras.layers.Dense(1)])
    children = _compat.child_layers(outer)
    assert inner in children and outer.layers[1] in children
    assert inner.layers[0] not in children


def test_fit_frame_and_compile_token():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    token = _compat.compile_token(model)
    frames = []

    class Hook(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            frames.append(_compat.fit_frame(self.model))

    model.fit(np.ones((4, 2)), np.ones((4, 1)), callbacks=[Hook()], verbose=0)
    assert frames[0] is not None and frames[0].f_code.co_name == "fit"
    assert _compat.fit_frame(model) is None
    model.compile(optimizer="sgd", loss="mse")
    assert _compat.compile_token(model) is not token
    assert token is not None


@pytest.mark.parametrize("loss_scale", [False, True])
@pytest.mark.parametrize("accumulation_steps", [None, 2])
def test_train_step_counter_counts_every_train_step(
    accumulation_steps, loss_scale
):
    optimizer = keras.optimizers.SGD(
        gradient_accumulation_steps=accumulation_steps
    )
    if loss_scale:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(np.ones((8, 2)), np.ones((8, 1)), batch_size=2, verbose=0)
    counter = _compat.train_step_counter(model.optimizer)
    assert any(v is counter for v in model.optimizer.variables)
    assert int(keras.ops.convert_to_numpy(counter)) == 4
    updates = 4 // (accumulation_steps or 1)
    assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == updates


def test_sync_jax_fit_state_makes_a_mid_epoch_assignment_land():
    # On every backend the assignment must reach the running loop; on JAX
    # this needs the sync (the variable is emptied during the epoch).
    layer = kerasdrop.ScheduledDropout(0.0, seed=0)
    model, _ = zero_fraction_model(layer, units=2000, with_weights=True)
    losses = []

    class Assign(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            losses.append(float(logs["loss"]))
            if batch == 0:
                _compat.sync_jax_fit_state(layer.dropout_rates["rate"])
                layer.dropout_rates["rate"].assign(1.0)

    model.fit(
        np.ones((16, 2000)), np.zeros((16, 1)), batch_size=8,
        callbacks=[Assign()], verbose=0, shuffle=False,
    )  # fmt: skip
    # Running mean of the fraction dropped: batch 0 at 0, batch 1 at 1.
    assert losses == [0.0, pytest.approx(0.5, abs=0.01)]


def test_is_functional_tells_functional_from_other_models():
    inputs = keras.Input((3,))
    functional = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    sequential = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])

    class Subclassed(keras.Model):
        def call(self, inputs):
            return inputs

    assert _compat.is_functional(functional)
    assert not _compat.is_functional(sequential)
    assert not _compat.is_functional(Subclassed())


def test_call_concrete_function_reads_current_variables_and_keeps_structure():
    tf = pytest.importorskip("tensorflow")
    variable = tf.Variable(2.0)

    def function(x, y):
        return {"sum": x + y * variable, "product": x * y}

    x, y = tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0])
    concrete = tf.function(function).get_concrete_function(x, y)
    outputs = _compat.call_concrete_function(concrete, [x, y])
    assert set(outputs) == {"sum", "product"}
    np.testing.assert_allclose(outputs["sum"], [7.0, 10.0])
    np.testing.assert_allclose(outputs["product"], [3.0, 8.0])
    variable.assign(0.0)
    outputs = _compat.call_concrete_function(concrete, (x, y))
    np.testing.assert_allclose(outputs["sum"], [1.0, 2.0])


def test_output_layers_are_the_producers_in_the_outer_graph():
    inner = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, name="inner_dense")],
        name="inner",
    )
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(4, name="hidden")(inputs)
    first = keras.layers.Dense(2, name="first")(hidden)
    model = keras.Model(inputs, [first, inner(hidden)])
    names = [layer.name for layer in _compat.output_layers(model)]
    assert names == ["first", "inner"]
    sequential = keras.Sequential([keras.Input((4,)), inner])
    assert _compat.output_layers(sequential) == [inner]


def test_child_layers_lists_attributes_and_lists():
    class Holder(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.first = keras.layers.Dense(2, name="first")
            self.more = [keras.layers.Dropout(0.1, name="second")]

    names = [layer.name for layer in _compat.child_layers(Holder())]
    assert names == ["first", "second"]


def test_unlocked_state_lets_a_built_layer_add_a_variable():
    layer = keras.layers.Dropout(0.1)  # Built (and locked) at init.
    with pytest.raises(ValueError, match="already built"):
        layer.add_weight(shape=(), name="extra")
    with _compat.unlocked_state(layer):
        variable = layer.add_weight(shape=(), name="extra", trainable=False)
    assert any(v is variable for v in layer.non_trainable_variables)
    with pytest.raises(ValueError, match="already built"):
        layer.add_weight(shape=(), name="another")


def test_replace_sublayer_moves_tracking_to_the_new_layer():
    rnn = keras.layers.RNN(keras.layers.SimpleRNNCell(3))
    rnn.build((None, 4, 2))
    old = rnn.cell
    new = keras.layers.SimpleRNNCell(3, name="new")
    new.build((None, 2))
    _compat.replace_sublayer(rnn, "cell", old, new)
    assert rnn.cell is new
    assert _compat.child_layers(rnn) == [new]
    assert {id(v) for v in rnn.weights} == {id(v) for v in new.weights}
    values = _compat.attribute_values(rnn)
    assert any(value is new for value in values)
    assert not any(value is old for value in values)


def test_attribute_values_hold_sublayers_but_not_list_items():
    class Block(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.attention = keras.layers.Dense(2)
            self.items = [keras.layers.Dense(3)]

    block = Block()
    values = _compat.attribute_values(block)
    # On torch the attribute is in the module's children, not `vars`.
    assert any(value is block.attention for value in values)
    assert not any(value is block.items[0] for value in values)


def test_reset_compiled_functions_makes_fit_trace_again():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0)
    model.predict(np.ones((4, 2)), verbose=0)
    assert model.train_function is not None
    assert model.predict_function is not None
    assert _compat.has_compiled_functions(model)
    _compat.reset_compiled_functions(model)
    assert model.train_function is None
    assert model.predict_function is None
    assert not _compat.has_compiled_functions(model)


def test_serializes_own_layers_tells_plain_graphs_from_subclasses():
    inputs = keras.Input((2,))
    functional = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    sequential = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])

    class OwnConfig(keras.Model):
        def __init__(self, **kwargs):
            inputs = keras.Input((2,))
            super().__init__(inputs, keras.layers.Dense(1)(inputs), **kwargs)

        def get_config(self):
            return {"name": self.name}

    assert _compat.serializes_own_layers(functional)
    assert _compat.serializes_own_layers(sequential)
    assert not _compat.serializes_own_layers(OwnConfig())
    assert not _compat.serializes_own_layers(keras.layers.Dense(1))


@pytest.mark.parametrize("go_backwards", [False, True])
def test_rnn_loop_feeds_nested_inputs_step_by_step(go_backwards):
    # A running sum of x_t over the steps where flag_t is set; masked steps
    # (the last one of the second sequence) keep the state.
    x = np.arange(1, 13, dtype="float32").reshape(2, 3, 2)
    flags = np.array([[[1, 0], [1, 1], [0, 1]]] * 2, dtype=bool)
    mask = np.array([[True, True, True], [True, True, False]])

    def step(inputs, states):
        x_t, (flag_t,) = inputs
        total = states[0] + keras.ops.where(flag_t, x_t, 0.0)
        return total, [total]

    # Tensors, as a layer's loop gets them (torch's loop takes no arrays).
    tensors = keras.tree.map_structure(
        keras.ops.convert_to_tensor, ((x, [flags]), mask)
    )
    last, outputs, states = _compat.rnn_loop(
        step,
        tensors[0],
        [keras.ops.zeros((2, 2))],
        go_backwards=go_backwards,
        mask=tensors[1],
        input_length=3,
        return_all_outputs=True,
    )
    order = [2, 1, 0] if go_backwards else [0, 1, 2]
    total, expected = np.zeros((2, 2), "float32"), []
    for t in order:
        total = np.where(mask[:, t, None], total + x[:, t] * flags[:, t], total)
        expected.append(total)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(outputs), np.stack(expected, 1)
    )
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(last), total)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(states[0]), total)


@pytest.mark.parametrize("layer_class", [keras.layers.LSTM, keras.layers.GRU])
def test_keras_rnn_kernel_runs_what_the_keras_layer_runs(layer_class):
    layer = layer_class(4, return_sequences=True)
    x = keras.ops.convert_to_tensor(
        np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    )
    expected = keras.ops.convert_to_numpy(layer(x))
    state = layer.get_initial_state(2)
    outputs = _compat.keras_rnn_kernel(layer, layer.cell, x, state, None)
    if keras.backend.backend() == "torch":
        # Torch's kernel also runs on a CPU (a loop of its own).
        assert outputs is not None
    if outputs is not None:  # None: Keras also runs the generic loop here.
        last, sequences, _ = outputs
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(sequences), expected
        )
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(last), expected[:, -1]
        )
    layer.use_cudnn = False
    assert _compat.keras_rnn_kernel(layer, layer.cell, x, state, None) is None


@pytest.mark.parametrize("fallback", [False, True])
def test_random_uint16_pairs_are_independent_uniform_16_bit_integers(
    fallback, monkeypatch
):
    if fallback:
        # The path of backends without a 32-bit word draw (PyTorch).
        monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    seed_generator = keras.random.SeedGenerator(7)
    halves = _compat.random_uint16_pairs((512, 256), seed_generator)
    dtypes = {keras.backend.standardize_dtype(half.dtype) for half in halves}
    words = not fallback and keras.backend.backend() in ("tensorflow", "jax")
    assert dtypes == ({"uint32"} if words else {"int32"})
    low, high = (
        keras.ops.convert_to_numpy(half).astype("int64") for half in halves
    )
    assert low.shape == high.shape == (512, 256)
    for half in (low, high):
        assert half.min() >= 0 and half.max() < 2**16
        # Uniform on [0, 2**16): 131072 draws, the mean's standard
        # deviation is 52, the fraction of a bit set 0.0014.
        assert abs(half.mean() - (2**16 - 1) / 2) < 300
        for bit in (0, 7, 15):
            assert abs(np.mean((half >> bit) & 1) - 0.5) < 0.007
    assert abs(np.corrcoef(low.ravel(), high.ravel())[0, 1]) < 0.012
    # The generator advances: a second call draws new numbers.
    again = _compat.random_uint16_pairs((512, 256), seed_generator)
    assert not np.array_equal(keras.ops.convert_to_numpy(again[0]), low)


def test_select_is_where_with_its_gradients():
    rng = np.random.default_rng(0)
    condition = rng.random((8, 5)) < 0.5
    x, y = (rng.standard_normal((8, 5)).astype("float32") for _ in range(2))
    selected = _compat.select(condition, x, y)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(selected), np.where(condition, x, y)
    )
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        x, y = tf.Variable(x), tf.Variable(y)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(_compat.select(condition, x, y) * 3.0)
        grad_x, grad_y = tape.gradient(loss, [x, y])
        np.testing.assert_array_equal(grad_x, np.where(condition, 3.0, 0.0))
        np.testing.assert_array_equal(grad_y, np.where(condition, 0.0, 3.0))


def test_tensor_parents_and_operation_calls_read_the_graph():
    inputs = keras.Input((3,))
    dense = keras.layers.Dense(3, name="dense")
    hidden = dense(inputs)
    total = hidden + inputs  # An op, not a layer.
    added = keras.layers.Add(name="add")([total, hidden])
    operation, parents = _compat.tensor_parents(total)
    assert _compat.is_add_operation(operation)
    assert not isinstance(operation, keras.layers.Layer)
    assert [id(t) for t in parents] == [id(hidden), id(inputs)]
    operation, parents = _compat.tensor_parents(added)
    assert operation.name == "add" and _compat.is_add_operation(operation)
    assert [id(t) for t in parents] == [id(total), id(hidden)]
    assert not _compat.is_add_operation(dense)
    assert _compat.tensor_parents(np.ones(2)) == (None, [])
    # A layer called twice has one call per node.
    again = dense(hidden)
    calls = _compat.operation_calls(dense)
    assert [id(inputs_[0]) for inputs_, _ in calls] == [id(inputs), id(hidden)]
    assert calls[1][1] == [again]


def test_train_function_reads_step_per_call_as_the_backend_does():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.make_train_function()
    original, calls = model.train_step, []

    def train_step(data):
        calls.append(1)
        return original(data)

    # Put on the model after its train function was made: only a backend
    # whose train function looks the step up at each call runs it.
    object.__setattr__(model, "train_step", train_step)
    model.fit(np.ones((4, 2)), np.ones((4, 1)), batch_size=2, verbose=0)
    assert bool(calls) == _compat.train_function_reads_step_per_call()
