import keras
import numpy as np
import pytest

import kerasdrop


def test_ratio_is_the_input_variance_over_the_moving_variance():
    rng = np.random.default_rng(0)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, name="dense"),
            keras.layers.BatchNormalization(name="bn"),
        ]
    )
    moving = np.array([0.5, 2.0, 4.0], "float32")
    model.get_layer("bn").moving_variance.assign(moving)
    x = rng.normal(size=(64, 4)).astype("float32")
    # By hand: the Dense output, its population variance per unit.
    kernel, bias = model.get_layer("dense").get_weights()
    inputs = x.astype("float64") @ kernel + bias
    expected = inputs.var(axis=0) / moving
    shift = kerasdrop.analysis.variance_shift(model, "bn", x, batch_size=16)
    # float32 forward pass against a float64 hand computation.
    np.testing.assert_allclose(shift["ratio"], expected, rtol=1e-5)
    assert shift["mean_ratio"] == pytest.approx(expected.mean(), rel=1e-5)


def test_channels_of_a_convolution_are_its_last_axis():
    model = keras.Sequential(
        [keras.Input((4, 4, 2)), keras.layers.BatchNormalization(name="bn")]
    )
    x = np.random.default_rng(1).normal(size=(8, 4, 4, 2))
    x[..., 1] *= 3.0
    shift = kerasdrop.analysis.variance_shift(model, "bn", x)
    expected = x.reshape(-1, 2).var(axis=0)  # Moving variance starts at 1.
    np.testing.assert_allclose(shift["ratio"], expected, rtol=1e-5)


def test_dropout_before_batch_norm_shrinks_the_inference_variance():
    # Training mode: dropout scales the kept units by 2, so the moving
    # variance learned from training batches exceeds the inference variance.
    inputs = keras.Input((16,))
    dropped = kerasdrop.ScheduledDropout(0.5, seed=0)(inputs)
    outputs = keras.layers.BatchNormalization(momentum=0.0, name="bn")(dropped)
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(2).normal(1.0, 1.0, size=(512, 16))
    model(x.astype("float32"), training=True)  # Sets the moving statistics.
    shift = kerasdrop.analysis.variance_shift(model, "bn", x)
    # Var at inference 1; in training E[(2 m x)^2] / 2 - 1 = 3 (x ~ N(1, 1)).
    assert 0.2 < shift["mean_ratio"] < 0.5


def test_a_layer_that_is_not_batch_norm_raises():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="BatchNormalization"):
        kerasdrop.analysis.variance_shift(
            model, model.layers[0].name, np.ones((2, 2))
        )
