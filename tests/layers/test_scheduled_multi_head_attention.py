import keras
import numpy as np
import pytest
from keras import ops

import kerasdrop
from tests.layer_testing import check_layer_contract
from tests.layer_testing import make_inputs


def _numpy(x):
    return ops.convert_to_numpy(x)


def _pair(rate):
    """A Keras layer and a kerasdrop one with the same weights."""
    x = make_inputs((3, 5, 8))
    keras_layer = keras.layers.MultiHeadAttention(2, 4, dropout=rate, seed=1)
    ours = kerasdrop.ScheduledMultiHeadAttention(2, 4, dropout=rate, seed=1)
    keras_layer(x, x)
    ours(x)
    ours.set_weights(keras_layer.get_weights())
    return keras_layer, ours, x


def test_layer_contract(tmp_path):
    check_layer_contract(
        lambda **kw: kerasdrop.ScheduledMultiHeadAttention(
            2, 4, dropout=0.2, seed=1, **kw
        ),
        (2, 5, 8),
        tmp_path,
    )


@pytest.mark.parametrize("rate", [0.0, 0.2])
def test_inference_is_bit_for_bit_keras_at_the_same_rate(rate):
    # At rate 0 Keras uses the fused attention kernel, at a positive rate
    # the explicit scores; the two differ in the last bits.
    keras_layer, ours, x = _pair(rate)
    np.testing.assert_array_equal(
        _numpy(ours(x, x, training=False)),
        _numpy(keras_layer(x, x, training=False)),
    )


def test_inference_keeps_its_path_while_a_schedule_moves_the_rate():
    keras_layer, ours, x = _pair(0.0)
    expected = _numpy(keras_layer(x, x))
    ours.dropout_rates["dropout"].assign(0.3)  # As a schedule does.
    np.testing.assert_array_equal(_numpy(ours(x)), expected)
    explicit, _, _ = _pair(0.2)
    explicit.set_weights(keras_layer.get_weights())
    ours.dropout = 0.2  # Set by hand: Keras's layer at 0.2.
    np.testing.assert_array_equal(_numpy(ours(x)), _numpy(explicit(x, x)))


def test_rate_zero_can_be_raised_in_training():
    _, ours, x = _pair(0.0)
    inference = _numpy(ours(x))
    np.testing.assert_allclose(
        _numpy(ours(x, training=True)), inference, atol=1e-6
    )
    ours.dropout = 0.5
    assert not np.allclose(_numpy(ours(x, training=True)), inference, atol=1e-3)


def test_rate_one_drops_every_attention_weight():
    # The attention output is then 0, so the layer outputs its output
    # projection's bias (zeros at initialization).
    _, ours, x = _pair(1.0)
    np.testing.assert_array_equal(
        _numpy(ours(x, training=True)), np.zeros((3, 5, 8), "float32")
    )


def test_rate_change_reaches_compiled_fit():
    # Trained with MSE against zeros at learning rate 0, the loss is 0
    # exactly when every attention weight is dropped (rate 1).
    layer = kerasdrop.ScheduledMultiHeadAttention(2, 4, dropout=0.0, seed=0)
    inputs = keras.Input((5, 8))
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")

    class SetRate(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            layer.dropout = [0.0, 1.0, 0.0][epoch]

    x = make_inputs((16, 5, 8))
    history = model.fit(
        x, np.zeros_like(x), epochs=3, callbacks=[SetRate()], verbose=0
    )
    losses = history.history["loss"]
    assert losses[0] > 0.01 and losses[2] > 0.01
    assert losses[1] == 0.0


def test_config_holds_the_current_rate():
    layer = kerasdrop.ScheduledMultiHeadAttention(2, 4, dropout=0.1)
    layer(make_inputs((2, 3, 8)))
    layer.dropout = 0.3
    config = layer.get_config()
    assert config["dropout"] == 0.3
    clone = kerasdrop.ScheduledMultiHeadAttention.from_config(config)
    clone(make_inputs((2, 3, 8)))
    assert clone.dropout == 0.3


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_invalid_rate_raises(bad):
    with pytest.raises(ValueError, match="dropout"):
        kerasdrop.ScheduledMultiHeadAttention(2, 4, dropout=bad)
    layer = kerasdrop.ScheduledMultiHeadAttention(2, 4, dropout=0.1)
    with pytest.raises(ValueError, match="dropout"):
        layer.dropout = bad
