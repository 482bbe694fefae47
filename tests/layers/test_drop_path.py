import keras
import numpy as np
import pytest
from keras import ops

import kerasdrop
from tests.layer_testing import check_layer_contract
from tests.layer_testing import make_inputs


def _numpy(x):
    return ops.convert_to_numpy(x)


@pytest.mark.parametrize("input_shape", [(4, 6), (2, 4, 4, 3)])
def test_layer_contract(input_shape, tmp_path):
    check_layer_contract(
        lambda **kw: kerasdrop.layers.DropPath(0.3, seed=1, **kw),
        input_shape,
        tmp_path,
    )


def test_input_unchanged_in_eval_mode():
    layer = kerasdrop.layers.DropPath(0.9, seed=0)
    x = make_inputs((8, 3, 3, 2))
    np.testing.assert_array_equal(_numpy(layer(x)), x)
    np.testing.assert_array_equal(_numpy(layer(x, training=False)), x)


def test_drops_or_scales_whole_samples():
    layer = kerasdrop.layers.DropPath(0.5, seed=2)
    x = np.ones((64, 3, 3, 4), dtype="float32")
    y = _numpy(layer(x, training=True)).reshape(64, -1)
    # Every sample is all zeros or all 1 / (1 - rate).
    assert set(np.unique(y)) == {0.0, 2.0}
    assert np.all(y.min(axis=1) == y.max(axis=1))


def test_fraction_of_dropped_samples_and_mean_match_rate():
    # 20,000 samples: the dropped fraction's standard deviation is 0.0035.
    x = np.ones((20000, 2), dtype="float32")
    for rate in (0.1, 0.3):
        layer = kerasdrop.layers.DropPath(rate, seed=4)
        y = _numpy(layer(x, training=True))
        assert abs(np.mean(y[:, 0] == 0) - rate) < 0.015
        assert abs(np.mean(y) - 1.0) < 0.03


def test_rate_one_gives_zeros_and_rate_zero_the_input():
    x = make_inputs((4, 5))
    np.testing.assert_array_equal(
        _numpy(kerasdrop.layers.DropPath(1.0)(x, training=True)), 0.0
    )
    np.testing.assert_array_equal(
        _numpy(kerasdrop.layers.DropPath(0.0)(x, training=True)), x
    )


def test_residual_block_is_identity_for_dropped_samples():
    inputs = keras.Input((4,))
    branch = keras.layers.Dense(4, name="branch")(inputs)
    branch = kerasdrop.layers.DropPath(1.0, name="drop_path")(branch)
    model = keras.Model(inputs, keras.layers.Add()([inputs, branch]))
    x = make_inputs((3, 4))
    np.testing.assert_allclose(_numpy(model(x, training=True)), x)
    assert not np.allclose(_numpy(model(x, training=False)), x)


def test_rate_schedule_reaches_fit_with_an_unknown_batch_size():
    inputs = keras.Input((2, 2, 3))
    x = kerasdrop.layers.DropPath(0.0, seed=0, name="drop_path")(inputs)
    outputs = keras.layers.Dense(1)(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")
    scheduler = kerasdrop.callbacks.DropoutScheduler(
        kerasdrop.schedules.Linear(0.0, 0.5, duration=1)
    )
    history = model.fit(
        np.ones((8, 2, 2, 3)),
        np.ones((8, 1)),
        batch_size=3,
        epochs=2,
        callbacks=[scheduler],
        verbose=0,
    )
    assert history.history["drop_path/rate"] == pytest.approx([0.0, 0.5])


def test_config_has_no_noise_shape():
    config = kerasdrop.layers.DropPath(0.2, seed=3).get_config()
    assert "noise_shape" not in config
    assert config["rate"] == pytest.approx(0.2) and config["seed"] == 3


@pytest.mark.parametrize(
    "rate, error", [(1.5, ValueError), (-0.1, ValueError), ("0.2", TypeError)]
)
def test_invalid_rate_raises(rate, error):
    with pytest.raises(error, match="rate"):
        kerasdrop.layers.DropPath(rate)


def test_noise_shape_argument_is_rejected():
    # DropPath always draws one mask entry per sample; an ignored
    # noise_shape would silently mean something else.
    with pytest.raises(TypeError, match="DropPath.*`noise_shape`"):
        kerasdrop.layers.DropPath(0.5, noise_shape=(None, 1))


def test_batch_mode_drops_the_whole_batch_or_none_of_it():
    x = np.ones((16, 3, 2), dtype="float32")
    layer = kerasdrop.layers.DropPath(0.5, seed=5, mode="batch")
    outcomes = set()
    for _ in range(40):
        y = _numpy(layer(x, training=True))
        # One draw: every entry of the batch is 0, or every one is 2.
        assert np.unique(y).size == 1
        outcomes.add(float(y.flat[0]))
    # 40 draws at rate 0.5 miss an outcome with probability 2 * 0.5**40.
    assert outcomes == {0.0, 2.0}


def test_batch_mode_rate_matches_over_many_batches():
    # 2,000 batches: the dropped fraction's standard deviation is 0.0089.
    layer = kerasdrop.layers.DropPath(0.3, seed=6, mode="batch")
    x = np.ones((2000, 4, 1), dtype="float32")
    # Each call is one batch of 4 rows.
    dropped = [
        float(_numpy(layer(x[i], training=True)).max()) == 0.0
        for i in range(2000)
    ]
    assert abs(np.mean(dropped) - 0.3) < 0.04


def test_mode_is_in_the_config_and_validated():
    layer = kerasdrop.layers.DropPath(0.2, mode="batch")
    assert layer.get_config()["mode"] == "batch"
    restored = kerasdrop.layers.DropPath.from_config(layer.get_config())
    assert restored.mode == "batch"
    assert kerasdrop.layers.DropPath(0.2).mode == "row"
    with pytest.raises(ValueError, match='Expected "row" or "batch"'):
        kerasdrop.layers.DropPath(0.2, mode="sample")
