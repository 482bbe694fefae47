"""Every private Keras detail kerasdrop relies on, checked in one place."""

import keras
import numpy as np
import pytest

import kerasdrop
from kerasdrop import _compat


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


def test_substituted_weight_reaches_keras_lstm_and_is_restored():
    x = keras.ops.ones((2, 4, 3))
    layer = keras.layers.LSTM(5)
    layer(x)
    variable = layer.cell.recurrent_kernel
    zeros = keras.ops.zeros(variable.shape)
    with _compat.substituted_weight(layer.cell, "recurrent_kernel", zeros):
        substituted = layer(x)
    assert layer.cell.recurrent_kernel is variable
    reference = keras.layers.LSTM(5)
    reference(x)
    kernel, _, bias = layer.get_weights()
    reference.set_weights([kernel, keras.ops.convert_to_numpy(zeros), bias])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(substituted),
        keras.ops.convert_to_numpy(reference(x)),
        atol=1e-6,
    )


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

    last, outputs, states = _compat.rnn_loop(
        step,
        (x, [flags]),
        [keras.ops.zeros((2, 2))],
        go_backwards=go_backwards,
        mask=mask,
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
