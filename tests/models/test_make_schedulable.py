import warnings

import keras
import numpy as np
import pytest
from keras import ops

import kerasdrop
from kerasdrop.callbacks import DropoutScheduler
from tests.applications import not_on_jax
from tests.fit_probes import ReadEachEpoch
from tests.fit_probes import record_zero_fraction
from tests.fit_probes import zero_fraction_model
from tests.warning_checks import no_warnings


def _numpy(x):
    return ops.convert_to_numpy(x)


def _kerasdrop_rates(model):
    """Every kerasdrop rate variable below `model`, once, by layer path."""
    found = {}
    seen = set()
    for layer in model._flatten_layers(include_self=False, recursive=True):
        for name, variable in (
            getattr(layer, "dropout_rates", None) or {}
        ).items():
            if id(variable) not in seen:
                seen.add(id(variable))
                found[f"{layer.name}/{name}"] = float(_numpy(variable))
    return found


@keras.saving.register_keras_serializable(package="kerasdrop_tests")
class Block(keras.layers.Layer):
    """A subclassed layer holding dropout in attributes and in a list, and
    creating it from its own arguments, as KerasHub's blocks do."""

    def __init__(self, rate=0.2, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.dense = keras.layers.Dense(8, name="dense")
        self.drop = keras.layers.Dropout(rate, seed=3, name="drop")
        self.noise = [
            keras.layers.GaussianNoise(0.1, name="noise"),
            keras.layers.Dropout(0.0, name="zero"),
        ]

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, x):
        x = self.drop(self.dense(x))
        for layer in self.noise:
            x = layer(x)
        return x

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


def _nested_model():
    inner = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(8, name="inner_dense"),
            keras.layers.Dropout(0.3, name="inner_drop"),
        ],
        name="inner",
    )
    inputs = keras.Input((6,))
    x = keras.layers.Dense(8, name="stem")(inputs)
    x = inner(x)
    x = Block(name="block")(x)
    x = keras.layers.AlphaDropout(0.1, name="alpha")(x)
    outputs = keras.layers.Dense(3, name="head")(x)
    return keras.Model(inputs, outputs, name="outer")


X = np.random.default_rng(0).normal(size=(5, 6)).astype("float32")


@pytest.mark.parametrize(
    "factory, twin, shape, rate_name",
    [
        (
            lambda: keras.layers.Dropout(0.3, noise_shape=(None, 1, 4), seed=5),
            kerasdrop.ScheduledDropout,
            (2, 3, 4),
            "rate",
        ),
        (
            lambda: keras.layers.SpatialDropout1D(0.2, seed=5),
            kerasdrop.ScheduledSpatialDropout1D,
            (2, 3, 4),
            "rate",
        ),
        (
            lambda: keras.layers.SpatialDropout2D(
                0.2, data_format="channels_first", seed=5
            ),
            kerasdrop.ScheduledSpatialDropout2D,
            (2, 4, 3, 3),
            "rate",
        ),
        (
            lambda: keras.layers.SpatialDropout3D(0.2, seed=5),
            kerasdrop.ScheduledSpatialDropout3D,
            (2, 3, 3, 3, 4),
            "rate",
        ),
        (
            lambda: keras.layers.GaussianDropout(0.4, seed=5),
            kerasdrop.ScheduledGaussianDropout,
            (2, 6),
            "rate",
        ),
        (
            lambda: keras.layers.GaussianNoise(0.25, seed=5),
            kerasdrop.ScheduledGaussianNoise,
            (2, 6),
            "stddev",
        ),
        (
            lambda: keras.layers.AlphaDropout(0.1, noise_shape=(None, 1)),
            kerasdrop.ScheduledAlphaDropout,
            (2, 6),
            "rate",
        ),
    ],
)
def test_each_keras_layer_becomes_its_twin(factory, twin, shape, rate_name):
    keras_layer = factory()
    inputs = keras.Input(shape[1:])
    model = keras.Model(inputs, keras_layer(inputs))
    x = np.random.default_rng(1).normal(size=shape).astype("float32")
    keras_config = keras_layer.get_config()

    assert kerasdrop.make_schedulable(model) is model
    layer = model.layers[-1]
    assert layer is keras_layer
    assert type(layer) is twin
    assert getattr(layer, rate_name) == pytest.approx(keras_config[rate_name])
    config = layer.get_config()
    for key in ("name", "seed", "noise_shape", "data_format"):
        if key in config:
            # Keras's SpatialDropout1D is channels-last, with no argument.
            expected = keras_config.get(key, "channels_last")
            if key == "noise_shape" and expected is not None:
                expected = tuple(expected)
            assert config[key] == expected, key
    np.testing.assert_array_equal(_numpy(model(x)), x)
    # Training draws from the rate variable: at 0, the input goes through.
    assert not np.array_equal(_numpy(layer(x, training=True)), x)
    layer.dropout_rates[rate_name].assign(0.0)
    np.testing.assert_array_equal(_numpy(layer(x, training=True)), x)


def test_nested_models_and_subclassed_layers_are_converted_in_place():
    model = _nested_model()
    before = _numpy(model(X))
    weights = model.get_weights()
    listed = kerasdrop.find_unschedulable_dropout(model)
    assert [item.path for item in listed] == [
        "inner/inner_drop",
        "block/drop",
        "block/noise",
        "block/zero",
        "alpha",
    ]
    with pytest.warns(UserWarning, match="build Keras's dropout again"):
        kerasdrop.make_schedulable(model)
    assert kerasdrop.find_unschedulable_dropout(model) == []
    block = model.get_layer("block")
    assert type(block.drop) is kerasdrop.ScheduledDropout
    assert type(block.noise[0]) is kerasdrop.ScheduledGaussianNoise
    assert type(block.noise[1]) is kerasdrop.ScheduledDropout
    assert _kerasdrop_rates(model) == pytest.approx(
        {
            "inner_drop/rate": 0.3,
            "drop/rate": 0.2,
            "noise/stddev": 0.1,
            "zero/rate": 0.0,
            "alpha/rate": 0.1,
        }
    )
    np.testing.assert_array_equal(_numpy(model(X)), before)
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)


def test_rate_zero_is_converted_and_can_be_raised():
    inputs = keras.Input((4000,))
    dropout = keras.layers.Dropout(0.0, name="dropout")
    model = keras.Model(inputs, dropout(inputs))
    kerasdrop.make_schedulable(model)
    dropout.rate = 0.5
    y = _numpy(dropout(np.ones((8, 4000), "float32"), training=True))
    assert abs(np.mean(y == 0) - 0.5) < 0.02


def test_converting_twice_changes_nothing():
    model = _nested_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kerasdrop.make_schedulable(model)
    layers = {id(layer): type(layer) for layer in model._flatten_layers()}
    rates = _kerasdrop_rates(model)
    with no_warnings():  # No warning either.
        assert kerasdrop.make_schedulable(model) is model
    assert {id(x): type(x) for x in model._flatten_layers()} == layers
    assert _kerasdrop_rates(model) == rates


def test_model_without_dropout_raises():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="holds no dropout to convert"):
        kerasdrop.make_schedulable(model)


@not_on_jax
def test_mobilenet_v2_holds_no_dropout():
    model = keras.applications.MobileNetV2(
        weights=None, input_shape=(32, 32, 3), classes=3
    )
    assert kerasdrop.find_unschedulable_dropout(model) == []
    with pytest.raises(ValueError, match="holds no dropout to convert"):
        kerasdrop.make_schedulable(model)


@pytest.mark.parametrize(
    "layers, converted",
    [
        ("inner_drop", {"inner_drop"}),
        (["alp.*", "inner_.*"], {"alpha", "inner_drop"}),
        (keras.layers.AlphaDropout, {"alpha"}),
        (lambda layer: layer.name.startswith("d"), {"drop"}),
    ],
)
def test_layers_selects_by_name_regex_class_or_callable(layers, converted):
    model = _nested_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kerasdrop.make_schedulable(model, layers=layers)
    names = {key.split("/")[0] for key in _kerasdrop_rates(model)}
    assert names == converted


def test_unmatched_selection_raises():
    with pytest.raises(ValueError, match="No convertible layer"):
        kerasdrop.make_schedulable(_nested_model(), layers="nothing")


def _recurrent_model(recurrent_dropout):
    inputs = keras.Input((7, 3))
    x = keras.layers.LSTM(
        6,
        dropout=0.2,
        recurrent_dropout=recurrent_dropout,
        return_sequences=True,
        name="lstm",
    )(inputs)
    x = keras.layers.GRU(
        5, dropout=0.1, recurrent_dropout=recurrent_dropout, name="gru"
    )(x)
    return keras.Model(inputs, keras.layers.Dense(2, name="head")(x))


@pytest.mark.parametrize("recurrent_dropout", [0.0, 0.3])
def test_lstm_and_gru_become_variational_with_the_same_weights(
    recurrent_dropout,
):
    model = _recurrent_model(recurrent_dropout)
    x = np.random.default_rng(2).normal(size=(4, 7, 3)).astype("float32")
    before = _numpy(model(x))
    weights = model.get_weights()
    kerasdrop.make_schedulable(model)
    lstm, gru = model.get_layer("lstm"), model.get_layer("gru")
    assert type(lstm) is kerasdrop.VariationalLSTM
    assert type(gru) is kerasdrop.VariationalGRU
    assert (lstm.input_rate, lstm.recurrent_rate) == pytest.approx(
        (0.2, recurrent_dropout)
    )
    assert (gru.input_rate, gru.recurrent_rate) == pytest.approx(
        (0.1, recurrent_dropout)
    )
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    after = _numpy(model(x))
    if recurrent_dropout:
        # Keras's GRU steps gate by gate when it has recurrent dropout;
        # the variational GRU always takes the fused step.
        np.testing.assert_allclose(after, before, atol=1e-6)
    else:
        np.testing.assert_array_equal(after, before)
    # Rates apply in training: at input rate 1 the LSTM sees zeros only.
    lstm.input_rate = 1.0
    lstm.recurrent_rate = 0.0
    np.testing.assert_array_equal(
        _numpy(lstm(x, training=True)), _numpy(lstm(np.zeros_like(x)))
    )


def test_attention_layer_converted_with_its_outputs():
    inputs = keras.Input((5, 8))
    attention = keras.layers.MultiHeadAttention(2, 4, dropout=0.1, name="mha")
    model = keras.Model(inputs, attention(inputs, inputs))
    x = np.random.default_rng(3).normal(size=(2, 5, 8)).astype("float32")
    before = _numpy(model(x))
    kerasdrop.make_schedulable(model)
    assert type(attention) is kerasdrop.ScheduledMultiHeadAttention
    assert attention.dropout == pytest.approx(0.1)
    np.testing.assert_array_equal(_numpy(model(x)), before)


def test_find_unschedulable_dropout_names_layers_and_arguments():
    inputs = keras.Input((5, 8))
    x = keras.layers.MultiHeadAttention(2, 4, dropout=0.1, name="mha")(
        inputs, inputs
    )
    x = keras.layers.MultiHeadAttention(2, 4, name="quiet")(x, x)
    x = keras.layers.RNN(
        keras.layers.SimpleRNNCell(4, dropout=0.2), name="rnn"
    )(x)
    x = keras.layers.Dropout(0.0, name="zero")(x)
    model = keras.Model(inputs, x)
    found = [str(item) for item in kerasdrop.find_unschedulable_dropout(model)]
    assert found == [
        "mha (MultiHeadAttention, dropout=0.1)",
        "rnn (RNN, dropout=0.2, recurrent_dropout=0)",
        "zero (Dropout, rate=0)",
    ]


def test_lstm_inside_a_subclassed_layer_is_left_with_a_warning():
    @keras.saving.register_keras_serializable(package="kerasdrop_tests")
    class Encoder(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.lstm = keras.layers.LSTM(4, dropout=0.2, name="lstm")

        def call(self, x):
            return self.lstm(x)

    inputs = keras.Input((3, 2))
    model = keras.Model(inputs, Encoder(name="encoder")(inputs))
    with pytest.warns(UserWarning, match="encoder/lstm: it is inside"):
        with pytest.raises(ValueError, match="No convertible"):
            kerasdrop.make_schedulable(model, layers="nothing")
        kerasdrop.make_schedulable(model)
    assert [
        str(item) for item in kerasdrop.find_unschedulable_dropout(model)
    ] == ["encoder/lstm (LSTM, dropout=0.2, recurrent_dropout=0)"]


def test_saved_functional_model_loads_as_kerasdrop_at_current_rates(
    tmp_path,
):
    model = _recurrent_model(0.3)
    kerasdrop.make_schedulable(model)
    model.get_layer("lstm").input_rate = 0.35
    x = np.random.default_rng(4).normal(size=(4, 7, 3)).astype("float32")
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded.get_layer("lstm")) is kerasdrop.VariationalLSTM
    assert loaded.get_layer("lstm").input_rate == pytest.approx(0.35)
    assert loaded.get_layer("gru").recurrent_rate == pytest.approx(0.3)
    # The loaded LSTM takes Keras's fused step; the converted one kept
    # Keras's gate-by-gate step (recurrent dropout): equal to rounding.
    np.testing.assert_allclose(
        _numpy(loaded(x)), _numpy(model(x)), rtol=1e-5, atol=1e-6
    )


def test_rebuilt_layers_save_their_rates_for_rates_from(tmp_path):
    model = _nested_model()
    with pytest.warns(UserWarning):
        kerasdrop.make_schedulable(model)
    model.get_layer("block").drop.rate = 0.45
    model.get_layer("inner").get_layer("inner_drop").rate = 0.15
    path = str(tmp_path / "model.keras")
    with pytest.warns(UserWarning, match="rates_from"):
        model.save(path)
    assert kerasdrop.transfer.saved_rates(path) == {
        "block/drop": {"rate": 0.45},
        "block/noise": {"stddev": 0.1},
        "block/zero": {"rate": 0.0},
    }

    loaded = keras.saving.load_model(path, safe_mode=True)
    # The block built Keras's dropout again, at its own argument.
    assert type(loaded.get_layer("block").drop) is keras.layers.Dropout
    assert loaded.get_layer("block").drop.rate == 0.2
    inner_drop = loaded.get_layer("inner").get_layer("inner_drop")
    assert type(inner_drop) is kerasdrop.ScheduledDropout
    assert inner_drop.rate == pytest.approx(0.15)
    np.testing.assert_array_equal(_numpy(loaded(X)), _numpy(model(X)))

    kerasdrop.make_schedulable(loaded, rates_from=path)
    assert _kerasdrop_rates(loaded) == pytest.approx(_kerasdrop_rates(model))


def test_rates_from_a_file_of_another_model_raises(tmp_path):
    model = _nested_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kerasdrop.make_schedulable(model)
        path = str(tmp_path / "model.keras")
        model.save(path)
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.1)])
    with pytest.raises(ValueError, match="holds rates for"):
        kerasdrop.make_schedulable(other, rates_from=path)


@keras.saving.register_keras_serializable(package="kerasdrop_tests")
class TinyBackbone(keras.Model):
    """A Functional model that builds its graph from its own arguments and
    saves only those, as KerasHub's backbones do: Keras's dropout and
    attention directly in its graph, and a subclassed block."""

    def __init__(self, rate=0.2, **kwargs):
        inputs = keras.Input((4, 6), name="features")
        x = keras.layers.Dense(8, name="embedding")(inputs)
        x = keras.layers.Dropout(rate, name="embeddings_dropout")(x)
        x = keras.layers.MultiHeadAttention(
            2, 4, dropout=rate, name="attention"
        )(x, x)
        x = Block(rate, name="block")(x)
        super().__init__(inputs, x, **kwargs)
        self.rate = rate

    def get_config(self):
        return {"rate": self.rate, "name": self.name}


def _converted_tiny_backbone():
    backbone = TinyBackbone(name="tiny_backbone")
    with pytest.warns(UserWarning, match="build Keras's dropout again"):
        kerasdrop.make_schedulable(backbone)
    backbone.get_layer("embeddings_dropout").rate = 0.15
    # Keras's attention in a list of the backbone keeps its class (Keras
    # saves its weights under the class's name); its dropout is converted.
    attention = backbone.get_layer("attention")
    assert type(attention) is keras.layers.MultiHeadAttention
    attention._dropout_layer.rate = 0.25
    backbone.get_layer("block").drop.rate = 0.35
    return backbone


def _rates_by_layer(model):
    """Every kerasdrop rate below `model`, by the name of the layer that
    holds it: an attention layer for its inner dropout, whatever its class
    and the inner layer's name."""
    layers = model._flatten_layers(include_self=False, recursive=True)
    attention = {
        id(layer._dropout_layer): layer
        for layer in layers
        if isinstance(layer, keras.layers.MultiHeadAttention)
    }
    found = {}
    for layer in layers:
        owner = attention.get(id(layer), layer)
        for name, variable in (getattr(layer, "dropout_rates", {})).items():
            if owner is not layer:
                name = "dropout"
            found[f"{owner.name}/{name}"] = float(_numpy(variable))
    return found


X_SEQUENCE = np.random.default_rng(5).normal(size=(3, 4, 6)).astype("float32")


def test_model_on_converted_backbone_outputs_loads_at_its_rates(tmp_path):
    backbone = _converted_tiny_backbone()
    # The backbone's own layers become the outer model's layers.
    head = keras.layers.Dense(1, name="head")
    model = keras.Model(backbone.input, head(backbone.output[:, 0]))
    expected = _rates_by_layer(model)
    path = str(tmp_path / "model.keras")
    with pytest.warns(UserWarning, match="rates_from"):
        model.save(path)

    loaded = keras.saving.load_model(path, safe_mode=True)
    # The outer model's config re-creates these layers as kerasdrop's.
    assert loaded.get_layer("embeddings_dropout").rate == pytest.approx(0.15)
    # Those of the attention and of the block are built as Keras's again.
    attention = loaded.get_layer("attention")
    assert type(attention._dropout_layer) is keras.layers.Dropout
    assert type(loaded.get_layer("block").drop) is keras.layers.Dropout
    np.testing.assert_array_equal(
        _numpy(loaded(X_SEQUENCE)), _numpy(model(X_SEQUENCE))
    )
    kerasdrop.make_schedulable(loaded, rates_from=path)
    assert _rates_by_layer(loaded) == pytest.approx(expected)

    # Saved again, the loaded model keeps its rates.
    path = str(tmp_path / "again.keras")
    with pytest.warns(UserWarning, match="rates_from"):
        loaded.save(path)
    again = keras.saving.load_model(path, safe_mode=True)
    assert again.get_layer("embeddings_dropout").rate == pytest.approx(0.15)
    kerasdrop.make_schedulable(again, rates_from=path)
    assert _rates_by_layer(again) == pytest.approx(expected)


def test_rates_from_resolves_from_the_model_holding_the_backbone(tmp_path):
    backbone = _converted_tiny_backbone()
    inputs = keras.Input((4, 6))
    outputs = keras.layers.Dense(1, name="head")(backbone(inputs)[:, 0])
    model = keras.Model(inputs, outputs, name="classifier")
    expected = _rates_by_layer(model)
    path = str(tmp_path / "model.keras")
    with pytest.warns(UserWarning, match="rates_from"):
        model.save(path)

    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(
        _numpy(loaded(X_SEQUENCE)), _numpy(model(X_SEQUENCE))
    )
    # The backbone built Keras's dropout again, from its arguments.
    assert _rates_by_layer(loaded) == {}
    kerasdrop.make_schedulable(loaded, rates_from=path)
    assert _rates_by_layer(loaded) == pytest.approx(expected)
    # The backbone alone takes the rates of the file too.
    alone = keras.saving.load_model(path, safe_mode=True)
    alone = alone.get_layer("tiny_backbone")
    kerasdrop.make_schedulable(alone, rates_from=path)
    assert _rates_by_layer(alone) == pytest.approx(expected)


def test_rates_from_keeps_two_nested_backbones_apart(tmp_path):
    first = _converted_tiny_backbone()
    second = TinyBackbone(name="second_backbone")
    with pytest.warns(UserWarning, match="build Keras's dropout again"):
        kerasdrop.make_schedulable(second)
    second.get_layer("block").drop.rate = 0.05
    inputs = keras.Input((4, 6))
    outputs = keras.layers.Add()([first(inputs), second(inputs)])
    model = keras.Model(inputs, outputs)
    path = str(tmp_path / "model.keras")
    with pytest.warns(UserWarning, match="rates_from"):
        model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    kerasdrop.make_schedulable(loaded, rates_from=path)
    # Both backbones' records have the same paths, from their roots.
    for backbone in [first, second]:
        layer = loaded.get_layer(backbone.name)
        assert _rates_by_layer(layer) == pytest.approx(
            _rates_by_layer(backbone)
        ), backbone.name


def test_rates_from_resolves_from_a_layer_of_the_converted_model(tmp_path):
    model = _nested_model()
    with pytest.warns(UserWarning):
        kerasdrop.make_schedulable(model)
    model.get_layer("block").drop.rate = 0.45
    path = str(tmp_path / "model.keras")
    with pytest.warns(UserWarning, match="rates_from"):
        model.save(path)
    # The paths start at the model; the block alone is converted.
    block = keras.saving.load_model(path, safe_mode=True).get_layer("block")
    kerasdrop.make_schedulable(block, rates_from=path)
    assert block.drop.rate == pytest.approx(0.45)
    assert block.noise[0].stddev == pytest.approx(0.1)


@not_on_jax
def test_converted_application_nested_in_a_model_saves_and_loads(tmp_path):
    application = _efficientnet()
    kerasdrop.make_schedulable(application)
    application.get_layer("top_dropout").rate = 0.3
    inputs = keras.Input((32, 32, 3))
    nested = keras.Model(inputs, keras.layers.Dense(1)(application(inputs)))
    outputs = keras.layers.Dense(1)(application.output)
    flat = keras.Model(application.input, outputs)
    x = _images(2)
    for index, model in enumerate([nested, flat]):
        expected = _kerasdrop_rates(model)
        assert expected["top_dropout/rate"] == pytest.approx(0.3)
        path = str(tmp_path / f"model_{index}.keras")
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        assert _kerasdrop_rates(loaded) == pytest.approx(expected)
        np.testing.assert_array_equal(_numpy(loaded(x)), _numpy(model(x)))


def _zero_fraction_fit(model, layer_name, dropout_layer, rates, x, y):
    """Fits `model` for `len(rates)` epochs, the rate of `layer_name`
    scheduled per epoch; returns the zero fraction `dropout_layer` had in
    the last step of each epoch."""
    recorded = record_zero_fraction(dropout_layer)
    reader = ReadEachEpoch({"zeros": recorded})
    scheduler = DropoutScheduler(
        lambda epoch: rates[epoch], layers=[layer_name], unit="epoch"
    )
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="mse")
    model.fit(
        x,
        y,
        batch_size=len(x),
        epochs=len(rates),
        callbacks=[scheduler, reader],
        verbose=0,
    )
    return reader.values["zeros"]


def test_converted_model_that_already_trained_follows_the_schedule():
    # The model's traced train step ran Keras's Dropout: conversion makes
    # `fit` trace again.
    inputs = keras.Input((2000,))
    hidden = keras.layers.Dense(2000, activation="softplus")(inputs)
    dropout = keras.layers.Dropout(0.5, name="dropout")
    model = keras.Model(inputs, keras.layers.Dense(1)(dropout(hidden)))
    x = np.random.default_rng(5).normal(size=(16, 2000)).astype("float32")
    y = np.zeros((16, 1), "float32")
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=1, verbose=0)
    kerasdrop.make_schedulable(model)
    zeros = _zero_fraction_fit(model, "dropout", dropout, [0.1, 0.8], x, y)
    # 32,000 draws: standard deviation of the fraction below 0.003.
    np.testing.assert_allclose(zeros, [0.1, 0.8], atol=0.02)


@pytest.mark.filterwarnings("ignore:DropoutScheduler cannot change")
@pytest.mark.parametrize("scheduled", [False, True], ids=["plain", "scheduled"])
def test_conversion_retraces_every_model_that_shares_the_layers(scheduled):
    # An inner model called by two outer models: converting it through one
    # must make the other, which traced its steps with Keras's Dropout, trace
    # them again, whether it was fitted plainly or with a DropoutScheduler
    # (whose own train function is cached for the next fit).
    inputs = keras.Input((4000,))
    dropout = keras.layers.Dropout(0.5, seed=2, name="dropout")
    inner = keras.Model(inputs, dropout(inputs), name="inner")
    other = kerasdrop.ScheduledDropout(0.0, seed=4, name="other")
    model_a, _ = zero_fraction_model(inner, with_weights=True)
    model_b, _ = zero_fraction_model(
        lambda x: other(inner(x)), with_weights=True
    )
    callbacks = [DropoutScheduler(0.0, layers=["other"])] if scheduled else []
    ones, zeros = np.ones((64, 4000), "float32"), np.zeros((64, 1), "float32")

    def loss(model, callbacks=()):
        history = model.fit(
            ones, zeros, batch_size=16, callbacks=list(callbacks), verbose=0
        )
        return history.history["loss"][0]

    # 256,000 draws per epoch: the fraction's standard deviation is 0.001.
    assert loss(model_b, callbacks) == pytest.approx(0.5, abs=0.01)
    model_b.evaluate(ones, zeros, verbose=0)
    model_b.predict(ones, verbose=0)
    kerasdrop.make_schedulable(model_a)
    assert type(dropout) is kerasdrop.ScheduledDropout
    for name in ("train_function", "test_function", "predict_function"):
        assert getattr(model_b, name) is None, name
    dropout.rate = 0.2
    assert loss(model_b, callbacks) == pytest.approx(0.2, abs=0.01)
    assert loss(model_a) == pytest.approx(0.2, abs=0.01)


EFFICIENTNET_RATES = {
    "block2b_drop": 0.025,
    "block3b_drop": 0.05,
    "block4b_drop": 0.075,
    "block4c_drop": 0.0875,
    "block5b_drop": 0.1125,
    "block5c_drop": 0.125,
    "block6b_drop": 0.15,
    "block6c_drop": 0.1625,
    "block6d_drop": 0.175,
    "top_dropout": 0.2,
}


def _efficientnet():
    return keras.applications.EfficientNetB0(
        weights=None, input_shape=(32, 32, 3), classes=3
    )


def _images(num_images, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (num_images, 32, 32, 3)).astype("float32")


def test_efficientnet_b0_ten_dropouts_same_outputs_and_saving(tmp_path):
    model = _efficientnet()
    x = _images(2)
    before = _numpy(model(x))
    assert len(kerasdrop.find_unschedulable_dropout(model)) == 10
    kerasdrop.make_schedulable(model)
    rates = {
        key.split("/")[0]: value
        for key, value in _kerasdrop_rates(model).items()
    }
    assert rates == pytest.approx(EFFICIENTNET_RATES)
    stochastic_depth = model.get_layer("block6d_drop")
    assert stochastic_depth.noise_shape == (None, 1, 1, 1)
    np.testing.assert_array_equal(_numpy(model(x)), before)

    model.get_layer("top_dropout").rate = 0.3
    path = str(tmp_path / "efficientnet.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    loaded_rates = {
        key.split("/")[0]: value
        for key, value in _kerasdrop_rates(loaded).items()
    }
    assert loaded_rates == pytest.approx(
        {**EFFICIENTNET_RATES, "top_dropout": 0.3}
    )
    assert type(loaded.get_layer("block2b_drop")) is kerasdrop.ScheduledDropout
    np.testing.assert_array_equal(_numpy(loaded(x)), before)


def test_efficientnet_b0_rates_follow_the_schedule_in_fit():
    model = _efficientnet()
    kerasdrop.make_schedulable(model)
    x, y = _images(8), np.zeros((8, 3), "float32")
    top = model.get_layer("top_dropout")
    zeros = _zero_fraction_fit(model, "top_dropout", top, [0.1, 0.5], x, y)
    # 8 x 1280 draws: standard deviation of the fraction below 0.006.
    np.testing.assert_allclose(zeros, [0.1, 0.5], atol=0.03)


@not_on_jax
def test_mobilenet_v3_small_one_dropout_converted_and_scheduled(tmp_path):
    model = keras.applications.MobileNetV3Small(
        weights=None, input_shape=(32, 32, 3), classes=3
    )
    x, y = _images(8, seed=1), np.zeros((8, 3), "float32")
    before = _numpy(model(x))
    assert len(kerasdrop.find_unschedulable_dropout(model)) == 1
    kerasdrop.make_schedulable(model)
    assert list(_kerasdrop_rates(model)) == ["dropout/rate"]
    np.testing.assert_array_equal(_numpy(model(x)), before)
    dropout = model.get_layer("dropout")
    zeros = _zero_fraction_fit(model, "dropout", dropout, [0.6, 0.2], x, y)
    # 8 x 1024 draws: standard deviation of the fraction below 0.006.
    np.testing.assert_allclose(zeros, [0.6, 0.2], atol=0.03)
