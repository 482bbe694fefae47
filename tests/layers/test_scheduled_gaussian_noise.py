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
        lambda **kw: kerasdrop.ScheduledGaussianNoise(0.3, seed=1, **kw),
        (4, 6),
        tmp_path,
    )


def test_input_unchanged_in_eval_mode():
    layer = kerasdrop.ScheduledGaussianNoise(0.5, seed=0)
    x = make_inputs((8, 5))
    np.testing.assert_array_equal(_numpy(layer(x)), x)


def test_noise_has_mean_zero_and_the_given_stddev():
    # 200,000 draws: standard errors about 0.001 (mean) and 0.0008 (std).
    x = np.full((200, 1000), 3.0, dtype="float32")
    for stddev in (0.1, 0.5):
        layer = kerasdrop.ScheduledGaussianNoise(stddev, seed=2)
        noise = _numpy(layer(x, training=True)) - x
        assert abs(noise.mean()) < 0.01
        assert abs(noise.std() - stddev) < 0.01


def test_stddev_is_the_scheduled_rate_name():
    layer = kerasdrop.ScheduledGaussianNoise(0.2)
    assert list(layer.dropout_rates) == ["stddev"]
    layer.stddev = 0.0
    x = make_inputs((4, 6))
    np.testing.assert_array_equal(_numpy(layer(x, training=True)), x)
    assert layer.get_config()["stddev"] == 0.0


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_invalid_stddev_raises(bad):
    with pytest.raises(ValueError, match="stddev"):
        kerasdrop.ScheduledGaussianNoise(bad)


def test_matches_keras_statistics():
    x = np.zeros((400, 500), dtype="float32")
    ours = _numpy(
        kerasdrop.ScheduledGaussianNoise(0.3, seed=1)(x, training=True)
    )
    theirs = _numpy(keras.layers.GaussianNoise(0.3, seed=1)(x, training=True))
    assert abs(ours.std() - theirs.std()) < 0.01
