import keras
import numpy as np
import pytest
from keras import ops

import kerasdrop
from tests.layer_testing import check_layer_contract
from tests.layer_testing import make_inputs


def _numpy(x):
    return ops.convert_to_numpy(x)


@pytest.mark.parametrize("input_shape", [(2, 4, 3), (2, 3, 4, 5)])
def test_layer_contract(input_shape, tmp_path):
    check_layer_contract(
        lambda **kw: kerasdrop.VariationalDropout(0.3, seed=1, **kw),
        input_shape,
        tmp_path,
    )


@pytest.mark.parametrize("input_shape", [(16, 6, 32), (16, 6, 4, 8)])
def test_mask_is_locked_over_time_and_differs_across_samples(input_shape):
    layer = kerasdrop.VariationalDropout(0.5, seed=2)
    y = _numpy(layer(np.ones(input_shape, "float32"), training=True))
    np.testing.assert_array_equal(y, np.repeat(y[:, :1], input_shape[1], 1))
    assert set(np.unique(y)) == {0.0, 2.0}
    first_steps = {sample[0].tobytes() for sample in y}
    assert len(first_steps) == input_shape[0]


def test_zero_fraction_matches_rate():
    # 200k mask entries: the fraction's standard deviation is about 0.0011.
    layer = kerasdrop.VariationalDropout(0.3, seed=3)
    y = _numpy(layer(np.ones((200, 3, 1000), "float32"), training=True))
    assert abs(np.mean(y == 0) - 0.3) < 0.006


def test_input_unchanged_in_eval_mode():
    layer = kerasdrop.VariationalDropout(0.9, seed=0)
    x = make_inputs((4, 5, 6))
    np.testing.assert_array_equal(_numpy(layer(x)), x)


def test_keras_mask_passes_through():
    x = make_inputs((3, 5, 4))
    x[0, 3:] = 0.0  # Padding that the LSTM must skip.
    inputs = keras.Input((5, 4))
    masked = keras.layers.Masking(0.0)(inputs)
    lstm = keras.layers.LSTM(3)
    dropped = kerasdrop.VariationalDropout(0.0, seed=0)(masked)
    with_dropout = keras.Model(inputs, lstm(dropped))
    without = keras.Model(inputs, lstm(masked))
    np.testing.assert_allclose(
        _numpy(with_dropout(x, training=True)), _numpy(without(x)), atol=1e-6
    )
    unmasked = keras.Model(inputs, lstm(inputs))
    assert np.abs(_numpy(unmasked(x)) - _numpy(without(x)))[0].max() > 1e-3


def test_invalid_inputs_raise():
    with pytest.raises(ValueError, match="argument `rate`"):
        kerasdrop.VariationalDropout(1.5)
    with pytest.raises(ValueError, match="min_ndim=3"):
        kerasdrop.VariationalDropout(0.5)(np.ones((4, 3), "float32"))
    assert "noise_shape" not in kerasdrop.VariationalDropout(0.5).get_config()
