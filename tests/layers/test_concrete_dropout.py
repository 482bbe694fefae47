import math

import keras
import numpy as np
import pytest
from keras import ops

import kerasdrop
from kerasdrop.layers.concrete_dropout import concrete_dropout
from tests.layer_testing import check_layer_contract
from tests.layer_testing import make_inputs


def _numpy(x):
    return ops.convert_to_numpy(x)


def _factory(units=3, **kwargs):
    def factory(**kw):
        dense = keras.layers.Dense(units, dtype=kw.get("dtype"))
        return kerasdrop.ConcreteDropout(dense, seed=1, **kwargs, **kw)

    return factory


def test_layer_contract(tmp_path):
    check_layer_contract(
        _factory(init_min=0.2, init_max=0.3),
        (4, 6),
        tmp_path,
        expected_output_shape=(4, 3),
    )


def test_inference_is_the_wrapped_layer():
    layer = _factory(init_min=0.5, init_max=0.5)()
    x = make_inputs((5, 6))
    expected = _numpy(layer.layer(x))
    np.testing.assert_allclose(_numpy(layer(x)), expected, rtol=1e-6)
    np.testing.assert_allclose(
        _numpy(layer(x, training=False)), expected, rtol=1e-6
    )
    assert not np.allclose(_numpy(layer(x, training=True)), expected)


def test_initial_rate_between_init_min_and_init_max():
    layer = _factory(init_min=0.05, init_max=0.3)()
    layer.build((None, 6))
    assert 0.05 <= layer.rate <= 0.3
    fixed = _factory(init_min=0.2, init_max=0.2)()
    fixed.build((None, 6))
    assert fixed.rate == pytest.approx(0.2, rel=1e-5)


@pytest.mark.parametrize("rate", [0.1, 0.4])
def test_relaxed_mask_drops_about_rate_and_keeps_the_mean(rate):
    # 200,000 units: the fraction's standard error is at most 0.0011.
    x = np.ones((200, 1000), dtype="float32")
    logit = math.log(rate / (1 - rate))
    y = _numpy(concrete_dropout(x, logit, 0.1, keras.random.SeedGenerator(2)))
    # The relaxed indicator z exceeds 1/2 exactly when u > 1 - rate, so
    # (1 - z) / (1 - rate) is below 1/2 / (1 - rate) with probability rate.
    assert np.mean(y < 0.5 / (1 - rate)) == pytest.approx(rate, abs=0.005)
    # At temperature 0.1 the mask is nearly binary: 0 or 1 / (1 - rate).
    near = np.minimum(np.abs(y), np.abs(y - 1 / (1 - rate)))
    assert np.mean(near < 0.1) > 0.85
    assert np.mean(y) == pytest.approx(1.0, abs=0.01)


def test_regularizer_by_hand():
    weight_regularizer, dropout_regularizer, rate = 1e-3, 1e-2, 0.25
    layer = kerasdrop.ConcreteDropout(
        keras.layers.Dense(2),
        weight_regularizer=weight_regularizer,
        dropout_regularizer=dropout_regularizer,
        init_min=rate,
        init_max=rate,
    )
    layer.build((None, 3))
    kernel = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 0.5]], "float32")
    layer.layer.kernel.assign(kernel)
    # sum(W^2) = 15.25; input_dim = 3.
    expected = weight_regularizer * 15.25 / (1 - rate) + (
        dropout_regularizer
        * 3
        * (rate * math.log(rate) + (1 - rate) * math.log(1 - rate))
    )
    (loss,) = layer.losses
    assert float(_numpy(loss)) == pytest.approx(expected, rel=1e-5)
    # The regularizer is part of the model's losses, also for evaluate.
    inputs = keras.Input((3,))
    model = keras.Model(inputs, layer(inputs))
    model.compile(loss="mse")
    data_loss = float(
        np.mean((_numpy(model(np.ones((4, 3)))) - 0.0) ** 2)
    )  # fmt: skip
    evaluated = model.evaluate(np.ones((4, 3)), np.zeros((4, 2)), verbose=0)
    assert evaluated == pytest.approx(data_loss + expected, rel=1e-4)


def test_regularizers_from_the_data_size():
    strengths = kerasdrop.layers.concrete_dropout_regularizers(
        200, length_scale=0.1, precision=2.0
    )
    assert strengths["weight_regularizer"] == pytest.approx(0.01 / 400)
    assert strengths["dropout_regularizer"] == pytest.approx(2 / 400)
    classification = kerasdrop.layers.concrete_dropout_regularizers(
        200, cross_entropy=True
    )
    assert classification["dropout_regularizer"] == pytest.approx(1 / 200)


def _regression_model(learned, scheduled=None):
    inputs = keras.Input((4,))
    hidden = kerasdrop.ConcreteDropout(
        keras.layers.Dense(16, activation="relu"),
        **kerasdrop.layers.concrete_dropout_regularizers(10),
        init_min=0.2,
        init_max=0.2,
        seed=0,
        name=learned,
    )(inputs)
    if scheduled:
        hidden = kerasdrop.ScheduledDropout(0.0, seed=0, name=scheduled)(hidden)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    return model


def test_rate_is_learned_in_compiled_fit():
    model = _regression_model("concrete")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype("float32")
    y = rng.standard_normal((64, 1)).astype("float32")
    before = model.get_layer("concrete").rate
    model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    after = model.get_layer("concrete").rate
    # The gradient reaches the rate: a regularizer weighted for ten
    # examples pulls it up, towards 0.5.
    assert after > before + 0.01


def test_scheduler_leaves_the_learned_rate_alone():
    model = _regression_model("concrete", scheduled="dropout")
    # The learned rate is not a schedulable rate variable.
    assert list(kerasdrop.find_rates(model)) == ["dropout/rate"]
    assert not getattr(model.get_layer("concrete"), "dropout_rates", None)
    scheduler = kerasdrop.callbacks.DropoutScheduler(
        kerasdrop.schedules.Linear(0.0, 0.2, duration=1), unit="epoch"
    )
    x, y = np.ones((32, 4), "float32"), np.ones((32, 1), "float32")
    history = model.fit(
        x, y, batch_size=8, epochs=2, callbacks=[scheduler], verbose=0
    )
    assert history.history["dropout/rate"] == pytest.approx([0.0, 0.2])
    assert not any(key.startswith("concrete/") for key in history.history)
    # Alone, the scheduler finds nothing to drive.
    alone = _regression_model("concrete")
    with pytest.raises(ValueError, match="no schedulable dropout rate"):
        alone.fit(
            x, y, epochs=1, verbose=0,
            callbacks=[kerasdrop.callbacks.DropoutScheduler(0.1)],
        )  # fmt: skip


def test_rate_cannot_be_set_by_hand():
    layer = _factory()()
    with pytest.raises(AttributeError):
        layer.rate = 0.3


def test_mc_predict_switches_it_on():
    model = _regression_model("concrete")
    x = make_inputs((3, 4))
    result = kerasdrop.analysis.mc_predict(
        model, x, num_samples=20, return_samples=True
    )
    assert result["samples"].shape == (20, 3, 1)
    assert np.all(result["std"] > 0)


def test_saving_round_trip_keeps_the_learned_rate(tmp_path):
    model = _regression_model("concrete")
    layer = model.get_layer("concrete")
    layer.rate_logit.assign(math.log(0.3 / 0.7))
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.get_layer("concrete").rate == pytest.approx(0.3, rel=1e-5)
    x = make_inputs((3, 4))
    np.testing.assert_allclose(_numpy(loaded(x)), _numpy(model(x)), rtol=1e-6)
    assert len(loaded.losses) == 1


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda: kerasdrop.ConcreteDropout("dense"), "`layer`"),
        (
            lambda: kerasdrop.ConcreteDropout(
                keras.layers.Dense(2, kernel_regularizer="l2")
            ),
            "kernel_regularizer",
        ),
        (
            lambda: kerasdrop.ConcreteDropout(
                keras.layers.Dense(2), init_min=0.0
            ),
            "init_min=0.0",
        ),
        (
            lambda: kerasdrop.ConcreteDropout(
                keras.layers.Dense(2), init_min=0.3, init_max=0.2
            ),
            "init_max=0.2",
        ),
        (
            lambda: kerasdrop.ConcreteDropout(
                keras.layers.Dense(2), temperature=0
            ),
            "temperature=0",
        ),
        (
            lambda: kerasdrop.ConcreteDropout(
                keras.layers.Dense(2), weight_regularizer=-1
            ),
            "weight_regularizer=-1",
        ),
        (
            lambda: kerasdrop.ConcreteDropout(keras.layers.Activation("relu"))(
                np.ones((2, 3))
            ),
            "kernel",
        ),
        (
            lambda: kerasdrop.layers.concrete_dropout_regularizers(0),
            "num_samples=0",
        ),
    ],
)
def test_invalid_arguments_raise(make, fragment):
    with pytest.raises(ValueError) as info:
        make()
    assert fragment in str(info.value)
