import keras
import numpy as np
import pytest
from keras import ops

import kerasdrop
from tests.layer_testing import check_config_round_trip
from tests.layer_testing import make_inputs

X = make_inputs((3, 6, 5))


def _numpy(x):
    return ops.convert_to_numpy(x)


def _linear_cell(units, kernel, recurrent):
    return keras.layers.SimpleRNNCell(
        units,
        activation=None,
        use_bias=False,
        kernel_initializer=kernel,
        recurrent_initializer=recurrent,
    )


def _compiled(function):
    """`function` inside a tf.function, where masks drawn in the loop body
    would change every step; the plain function on other backends."""
    if keras.backend.backend() != "tensorflow":
        return function
    import tensorflow as tf

    return tf.function(function)


@pytest.mark.parametrize(
    "make_cell",
    [
        lambda: keras.layers.LSTMCell(4),
        lambda: keras.layers.GRUCell(4),
        lambda: keras.layers.GRUCell(4, reset_after=False),
        lambda: keras.layers.SimpleRNNCell(4),
    ],
)
def test_rates_zero_match_the_bare_cell(make_cell):
    bare = keras.layers.RNN(make_cell(), return_sequences=True)
    wrapped = keras.layers.RNN(
        kerasdrop.VariationalDropoutCell(make_cell()), return_sequences=True
    )
    bare(X)
    wrapped(X)
    wrapped.set_weights(bare.get_weights())
    for training in (True, False):
        np.testing.assert_allclose(
            _numpy(wrapped(X, training=training)),
            _numpy(bare(X, training=training)),
            atol=1e-6,
        )


@pytest.mark.parametrize("compiled", [False, True])
def test_input_mask_is_the_same_at_every_step_and_differs_across_samples(
    compiled,
):
    # Output = input * mask for this cell, so ones reveal the mask.
    cell = kerasdrop.VariationalDropoutCell(
        _linear_cell(16, "identity", "zeros"), input_rate=0.5, seed=2
    )
    layer = keras.layers.RNN(cell, return_sequences=True)
    run = lambda x: layer(x, training=True)  # noqa: E731
    outputs = _numpy((_compiled(run) if compiled else run)(np.ones((8, 5, 16))))
    np.testing.assert_array_equal(outputs, np.repeat(outputs[:, :1], 5, 1))
    assert set(np.unique(outputs)) == {0.0, 2.0}
    assert len({row.tobytes() for row in outputs[:, 0]}) == 8


@pytest.mark.parametrize("compiled", [False, True])
def test_recurrent_mask_is_the_same_at_every_step(compiled):
    # h_t = h_{t-1} * mask for this cell: from h_0 = 1, a fixed mask gives
    # 2, 4, 8, ... on kept units and 0 on dropped ones; a mask redrawn each
    # step would zero some units late.
    cell = kerasdrop.VariationalDropoutCell(
        _linear_cell(16, "zeros", "identity"), recurrent_rate=0.5, seed=3
    )
    layer = keras.layers.RNN(cell, return_sequences=True)
    run = lambda x, h: layer(x, initial_state=[h], training=True)  # noqa: E731
    run = _compiled(run) if compiled else run
    outputs = _numpy(run(np.ones((8, 5, 4)), np.ones((8, 16))))
    kept = outputs[:, 0] != 0
    powers = 2.0 ** np.arange(1, 6)
    expected = kept[:, None, :] * powers[None, :, None]
    np.testing.assert_array_equal(outputs, expected)
    assert 0.3 < kept.mean() < 0.7
    assert len({row.tobytes() for row in kept}) == 8


def test_masks_are_drawn_anew_for_each_batch():
    cell = kerasdrop.VariationalDropoutCell(
        _linear_cell(16, "identity", "zeros"), input_rate=0.5, seed=4
    )
    layer = keras.layers.RNN(cell)
    x = np.ones((4, 3, 16), "float32")
    assert not np.array_equal(
        _numpy(layer(x, training=True)), _numpy(layer(x, training=True))
    )
    np.testing.assert_array_equal(_numpy(layer(x, training=False)), x[:, 0])


def test_lstm_recurrent_rate_one_drops_h_but_carries_c():
    layer = kerasdrop.VariationalLSTM(
        4, input_rate=0.0, recurrent_rate=1.0, return_state=True
    )
    layer(X)
    keras_layer = keras.layers.LSTM(4, return_state=True)
    keras_layer(X)
    kernel, recurrent_kernel, bias = layer.get_weights()
    keras_layer.set_weights([kernel, np.zeros_like(recurrent_kernel), bias])
    for got, want in zip(layer(X, training=True), keras_layer(X)):
        np.testing.assert_allclose(_numpy(got), _numpy(want), atol=1e-6)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_recurrent_mask_spares_the_carried_state(reset_after):
    # With every recurrent unit dropped, the gates see no h_{t-1}, but the
    # update z * h_{t-1} + (1 - z) * h' still carries the whole h_{t-1}:
    # Keras's GRU with a zero recurrent kernel.
    layer = kerasdrop.VariationalGRU(
        4, input_rate=0.0, recurrent_rate=1.0, reset_after=reset_after
    )
    layer(X)
    keras_layer = keras.layers.GRU(4, reset_after=reset_after)
    keras_layer(X)
    kernel, recurrent_kernel, bias = layer.get_weights()
    keras_layer.set_weights([kernel, np.zeros_like(recurrent_kernel), bias])
    h0 = make_inputs((3, 4), seed=5)
    np.testing.assert_allclose(
        _numpy(layer(X, initial_state=[h0], training=True)),
        _numpy(keras_layer(X, initial_state=[h0])),
        atol=1e-6,
    )


def test_gru_step_matches_a_hand_computed_masked_step():
    cell = kerasdrop.VariationalDropoutCell(
        keras.layers.GRUCell(4, bias_initializer="random_normal"),
        input_rate=0.5,
        recurrent_rate=0.5,
        seed=6,
    )
    x, h = make_inputs((3, 5), seed=7), make_inputs((3, 4), seed=8)
    output, _ = cell(x, [h], training=True)
    input_mask = _numpy(cell.get_dropout_mask(x))
    recurrent_mask = _numpy(cell.get_recurrent_dropout_mask(h))
    kernel, recurrent_kernel, bias = cell.get_weights()

    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    x_z, x_r, x_h = np.split((x * input_mask) @ kernel + bias[0], 3, -1)
    inner = (h * recurrent_mask) @ recurrent_kernel + bias[1]
    r_z, r_r, r_h = np.split(inner, 3, -1)
    z, r = sigmoid(x_z + r_z), sigmoid(x_r + r_r)
    expected = z * h + (1 - z) * np.tanh(x_h + r * r_h)
    np.testing.assert_allclose(_numpy(output), expected, atol=1e-5)
    assert set(np.unique(recurrent_mask)) == {0.0, 2.0}


def test_input_rate_one_feeds_zeros():
    layer = kerasdrop.VariationalLSTM(4, input_rate=1.0, recurrent_rate=0.0)
    layer(X)
    np.testing.assert_allclose(
        _numpy(layer(X, training=True)),
        _numpy(layer(np.zeros_like(X), training=False)),
        atol=1e-6,
    )


def test_rates_are_assignable_float32_variables():
    cell = kerasdrop.VariationalDropoutCell(
        keras.layers.LSTMCell(4), input_rate=0.1, recurrent_rate=0.2
    )
    assert sorted(cell.dropout_rates) == ["input_rate", "recurrent_rate"]
    cell.recurrent_rate = 0.4
    assert cell.recurrent_rate == pytest.approx(0.4)
    for variable in cell.dropout_rates.values():
        assert keras.backend.standardize_dtype(variable.dtype) == "float32"
    layer = keras.layers.RNN(cell)
    layer(X)
    assert len(layer.weights) == 3  # Kernel, recurrent kernel, bias.


def test_invalid_arguments_raise():
    with pytest.raises(TypeError, match="Expected a Keras RNN cell"):
        kerasdrop.VariationalDropoutCell(keras.layers.Dense(4))
    with pytest.raises(ValueError, match="argument `input_rate`"):
        kerasdrop.VariationalDropoutCell(
            keras.layers.LSTMCell(4), input_rate=1.2
        )
    with pytest.raises(ValueError, match="in place of the cell's `dropout`"):
        kerasdrop.VariationalDropoutCell(keras.layers.GRUCell(4, dropout=0.1))
    with pytest.raises(ValueError, match="`input_rate`, `recurrent_rate`"):
        kerasdrop.VariationalLSTM(4, dropout=0.1)


def test_config_and_keras_file_round_trip(tmp_path):
    cell = kerasdrop.VariationalDropoutCell(
        keras.layers.GRUCell(4), input_rate=0.3, recurrent_rate=0.2, seed=5
    )
    clone = check_config_round_trip(cell)
    assert isinstance(clone.cell, keras.layers.GRUCell)
    assert clone.recurrent_rate == cell.recurrent_rate
    inputs = keras.Input((6, 5))
    model = keras.Model(inputs, keras.layers.RNN(cell)(inputs))
    path = tmp_path / "variational.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(_numpy(loaded(X)), _numpy(model(X)), atol=1e-6)
