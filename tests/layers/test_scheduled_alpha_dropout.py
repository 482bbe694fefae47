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
        lambda **kw: kerasdrop.ScheduledAlphaDropout(0.3, seed=1, **kw),
        (4, 6),
        tmp_path,
    )


def test_input_unchanged_in_eval_mode():
    layer = kerasdrop.ScheduledAlphaDropout(0.5, seed=0)
    x = make_inputs((8, 5))
    np.testing.assert_array_equal(_numpy(layer(x)), x)


def test_keeps_zero_mean_and_unit_variance():
    # SELU's fixed point: standard normal inputs. 400,000 draws.
    x = make_inputs((400, 1000), seed=1)
    for rate in (0.05, 0.2):
        layer = kerasdrop.ScheduledAlphaDropout(rate, seed=5)
        y = _numpy(layer(x, training=True))
        assert abs(y.mean()) < 0.01
        assert abs(y.var() - 1.0) < 0.02


def test_same_affine_map_as_keras():
    # With a mask that keeps everything, both layers compute a * x + b with
    # the same a and b; compare them through the dropped value instead:
    # every dropped unit of either layer takes the same value.
    x = np.full((50, 200), 0.5, dtype="float32")
    ours = _numpy(
        kerasdrop.ScheduledAlphaDropout(0.3, seed=1)(x, training=True)
    )
    theirs = _numpy(keras.layers.AlphaDropout(0.3, seed=1)(x, training=True))
    np.testing.assert_allclose(
        np.unique(ours.round(5)), np.unique(theirs.round(5)), rtol=1e-5
    )


def test_rate_zero_is_identity_and_rate_one_gives_zeros():
    layer = kerasdrop.ScheduledAlphaDropout(0.0, seed=0)
    x = make_inputs((4, 6))
    np.testing.assert_array_equal(_numpy(layer(x, training=True)), x)
    layer.rate = 1.0
    np.testing.assert_array_equal(
        _numpy(layer(x, training=True)), np.zeros_like(x)
    )


def test_noise_shape_shares_the_mask():
    layer = kerasdrop.ScheduledAlphaDropout(0.5, noise_shape=(None, 1), seed=0)
    y = _numpy(layer(np.ones((64, 8), dtype="float32"), training=True))
    assert np.all(y.min(axis=1) == y.max(axis=1))


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_invalid_rate_raises(bad):
    with pytest.raises(ValueError, match="rate"):
        kerasdrop.ScheduledAlphaDropout(bad)
