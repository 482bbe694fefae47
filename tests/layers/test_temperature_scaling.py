import keras
import numpy as np
import pytest

import kerasdrop
from tests.layer_testing import check_layer_contract


def test_layer_contract(tmp_path):
    check_layer_contract(
        lambda **kwargs: kerasdrop.TemperatureScaling(2.5, **kwargs),
        (4, 6),
        tmp_path,
    )


def test_divides_the_logits_in_training_and_inference():
    layer = kerasdrop.TemperatureScaling(4.0)
    x = np.array([[4.0, -2.0, 0.0]], dtype="float32")
    for training in (False, True):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(layer(x, training=training)),
            [[1.0, -0.5, 0.0]],
        )


def test_an_assigned_temperature_is_saved_and_loaded(tmp_path):
    inputs = keras.Input((3,))
    logits = keras.layers.Dense(3)(inputs)
    layer = kerasdrop.TemperatureScaling()
    outputs = keras.layers.Softmax()(layer(logits))
    model = keras.Model(inputs, outputs)
    layer.temperature = 3.25
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.layers[2].temperature == 3.25
    x = np.random.default_rng(0).standard_normal((5, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)),
        keras.ops.convert_to_numpy(model(x)),
        rtol=1e-6,
    )


def test_the_temperature_is_not_trained():
    layer = kerasdrop.TemperatureScaling(2.0)
    assert layer.trainable_weights == []
    assert len(layer.non_trainable_weights) == 1


def test_mc_predict_of_a_tempered_model_is_the_mean_of_tempered_softmaxes():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    dropout = kerasdrop.ScheduledDropout(0.5, seed=2)
    logit_model = keras.Model(inputs, keras.layers.Dense(3)(dropout(hidden)))
    tempered = keras.Sequential(
        [
            logit_model,
            kerasdrop.TemperatureScaling(2.0),
            keras.layers.Softmax(),
        ]
    )
    x = np.random.default_rng(1).standard_normal((6, 4)).astype("float32")
    state = keras.ops.convert_to_numpy(dropout.seed_generator.state)
    logits = kerasdrop.analysis.mc_predict(
        logit_model, x, num_samples=5, return_samples=True
    )["samples"]
    dropout.seed_generator.state.assign(state)  # The same masks again.
    result = kerasdrop.analysis.mc_predict(tempered, x, num_samples=5)
    np.testing.assert_allclose(
        result["mean"],
        kerasdrop.analysis.apply_temperature(logits, 2.0),
        rtol=1e-5,
        atol=1e-6,
    )
    assert result["std"].max() > 0


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan"), "hot"])
def test_invalid_temperature_raises(temperature):
    with pytest.raises(ValueError, match="temperature"):
        kerasdrop.TemperatureScaling(temperature)
    layer = kerasdrop.TemperatureScaling(1.0)
    with pytest.raises(ValueError, match="temperature"):
        layer.temperature = temperature
    assert layer.temperature == 1.0
