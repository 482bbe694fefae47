import keras
import numpy as np
import pytest
from keras import ops

import kerasdrop
from tests.layer_testing import check_layer_contract
from tests.layer_testing import make_inputs


def _numpy(x):
    return ops.convert_to_numpy(x)


def test_layer_contract(tmp_path):
    check_layer_contract(
        lambda **kw: kerasdrop.ScheduledGaussianDropout(0.3, seed=1, **kw),
        (4, 6),
        tmp_path,
    )


def test_input_unchanged_in_eval_mode():
    layer = kerasdrop.ScheduledGaussianDropout(0.5, seed=0)
    x = make_inputs((8, 5))
    np.testing.assert_array_equal(_numpy(layer(x)), x)


def test_noise_has_mean_one_and_the_variance_of_dropout():
    # 200,000 draws: the standard error of the mean is 0.0015 at rate 0.3
    # (noise stddev 0.65), that of the variance about 0.002.
    x = np.ones((200, 1000), dtype="float32")
    for rate in (0.1, 0.3):
        layer = kerasdrop.ScheduledGaussianDropout(rate, seed=3)
        y = _numpy(layer(x, training=True))
        assert abs(y.mean() - 1.0) < 0.01
        assert abs(y.var() - rate / (1 - rate)) < 0.015


def test_matches_keras_statistics_at_the_same_rate():
    x = np.full((400, 500), 2.0, dtype="float32")
    ours = _numpy(
        kerasdrop.ScheduledGaussianDropout(0.2, seed=1)(x, training=True)
    )
    theirs = _numpy(keras.layers.GaussianDropout(0.2, seed=1)(x, training=True))
    assert abs(ours.std() - theirs.std()) < 0.01
    assert abs(ours.mean() - theirs.mean()) < 0.01


def test_rate_zero_is_identity_and_rate_one_gives_zeros():
    layer = kerasdrop.ScheduledGaussianDropout(0.0, seed=0)
    x = make_inputs((4, 6))
    np.testing.assert_array_equal(_numpy(layer(x, training=True)), x)
    layer.rate = 1.0
    np.testing.assert_array_equal(
        _numpy(layer(x, training=True)), np.zeros_like(x)
    )


def test_rate_change_reaches_compiled_fit():
    # Fed with ones and trained with MSE against ones, the loss is the
    # variance of the noise, rate / (1 - rate): 0.25 at 0.2, 1.0 at 0.5.
    layer = kerasdrop.ScheduledGaussianDropout(0.2, seed=0)
    inputs = keras.Input((2000,))
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer="sgd", loss="mse")

    class SetRate(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            layer.rate = [0.2, 0.5][epoch]

    ones = np.ones((64, 2000), dtype="float32")
    history = model.fit(
        ones, ones, batch_size=16, epochs=2, callbacks=[SetRate()], verbose=0
    )
    np.testing.assert_allclose(history.history["loss"], [0.25, 1.0], rtol=0.03)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_invalid_rate_raises(bad):
    with pytest.raises(ValueError, match="rate"):
        kerasdrop.ScheduledGaussianDropout(bad)
