"""One walk of a model: every feature finds the same dropout, under the
same keys, on a zoo of models."""

import keras
import numpy as np
import pytest

import kerasdrop
from kerasdrop.analysis import ensemble
from kerasdrop.callbacks import coadaptation_monitor
from kerasdrop.models import walk


class Block(keras.layers.Layer):
    """A subclassed block: a kerasdrop dropout in an attribute and a Keras
    dropout in a list."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(6)
        self.dropout = kerasdrop.ScheduledDropout(0.2, name="dropout")
        self.extra = [keras.layers.Dropout(0.1, name="keras_dropout")]

    def call(self, inputs, training=False):
        hidden = self.dropout(self.dense(inputs), training=training)
        return self.extra[0](hidden, training=training)


def _sequential():
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(6),
            kerasdrop.ScheduledDropout(0.3, name="dropout"),
            keras.layers.Dropout(0.2, name="keras_dropout"),
            keras.layers.GaussianNoise(0.1, name="noise"),
            keras.layers.Dense(2),
        ],
        name="sequential",
    )


def _nested_and_shared():
    inner_inputs = keras.Input((6,))
    inner = keras.Model(
        inner_inputs,
        kerasdrop.ScheduledDropout(0.25, name="dropout")(
            keras.layers.Dense(6)(inner_inputs)
        ),
        name="inner",
    )
    inputs = keras.Input((6,))
    hidden = keras.layers.Add()([inner(inputs), inner(inputs)])
    hidden = kerasdrop.ScheduledDropout(0.5, name="dropout")(hidden)
    return keras.Model(inputs, keras.layers.Dense(2)(hidden), name="outer")


def _subclassed_block():
    inputs = keras.Input((6,))
    hidden = Block(name="block_1")(inputs)
    hidden = Block(name="block_2")(hidden)
    return keras.Model(inputs, keras.layers.Dense(2)(hidden), name="blocks")


def _wrappers():
    inputs = keras.Input((4, 6))
    hidden = keras.layers.TimeDistributed(
        kerasdrop.ScheduledDropout(0.2, name="dropout"), name="per_step"
    )(inputs)
    hidden = keras.layers.Bidirectional(
        kerasdrop.VariationalLSTM(3, input_rate=0.2, recurrent_rate=0.1)
    )(hidden)
    return keras.Model(inputs, keras.layers.Dense(2)(hidden), name="wrappers")


def _converted_attention():
    inputs = keras.Input((4, 6))
    hidden = keras.layers.MultiHeadAttention(2, 3, dropout=0.1)(inputs, inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    return kerasdrop.make_schedulable(model)


def _hub_encoder():
    keras_hub = pytest.importorskip("keras_hub")
    inputs = keras.Input((4, 6))
    hidden = keras_hub.layers.TransformerEncoder(8, 2, dropout=0.1)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    with pytest.warns(UserWarning, match="build Keras's dropout again"):
        return kerasdrop.make_schedulable(model)


ZOO = {
    "sequential": _sequential,
    "nested_and_shared": _nested_and_shared,
    "subclassed_block": _subclassed_block,
    "wrappers": _wrappers,
    "converted_attention": _converted_attention,
    "hub_encoder": _hub_encoder,
}


@pytest.mark.parametrize("name", sorted(ZOO))
def test_every_feature_finds_the_same_dropout(name):
    model = ZOO[name]()
    holders = walk.rate_holders(model)
    keys = [f"{h.key}/{rate}" for h in holders for rate in h.rates]
    assert keys, "every model of the zoo holds kerasdrop rates"
    assert len(set(keys)) == len(keys)

    # The rates a scheduler drives, under the keys it logs.
    assert list(kerasdrop.find_rates(model)) == keys
    scheduler = kerasdrop.callbacks.DropoutScheduler(lambda epoch: 0.1)
    scheduler.set_model(model)
    assert [target.key for target in scheduler._resolve()] == keys

    # Monte-Carlo prediction switches on every layer a scheduler drives,
    # and sets the rates a scheduler drives, under the same keys.
    sampled = {id(layer) for layer in walk.kerasdrop_dropout_layers(model)}
    assert {id(h.layer) for h in holders} <= sampled
    targets = ensemble._rate_targets(model)
    assert [t.key for t in targets if t.variable is not None] == keys

    # Keras's own dropout: what Monte-Carlo prediction may switch on is
    # what the converter and the warnings list as unschedulable.
    keras_layers = walk.keras_dropout_layers(model)
    assert [t.layer for t in targets if t.variable is None] == [
        layer for layer in keras_layers for _ in walk.fixed_rates(layer)
    ]
    listed = {
        id(item.layer) for item in kerasdrop.find_unschedulable_dropout(model)
    }
    assert {id(layer) for layer in keras_layers} <= listed

    # The monitor reads the nested ones, or says it cannot.
    nested, unreachable = coadaptation_monitor._nested_dropout(model)
    top_level = {id(layer) for layer in model.layers}
    expected = [h.key for h in holders if id(h.layer) not in top_level]
    assert sorted([key for _, key in nested] + unreachable) == sorted(expected)


def test_a_shared_layer_is_found_once():
    model = _nested_and_shared()
    found = [item.layer for item in walk.walk_layers(model)]
    assert len(found) == len({id(layer) for layer in found})
    assert list(kerasdrop.find_rates(model)) == [
        "inner/dropout/rate",
        "outer/dropout/rate",
    ]


def test_keras_gaussian_noise_counts_as_dropout_as_its_twin_does():
    # Keras's GaussianNoise and its converted twin are the same kind of
    # layer to every feature: both are sampled by Monte-Carlo prediction.
    layer = keras.layers.GaussianNoise(0.5)
    assert walk.is_dropout_layer(layer)
    model = keras.Sequential([keras.Input((3,)), layer, keras.layers.Dense(1)])
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    result = kerasdrop.analysis.mc_predict(
        model, x, num_samples=8, return_samples=True
    )
    samples = np.asarray(result["samples"])
    assert samples.std(axis=0).min() > 0.0
    converted = kerasdrop.make_schedulable(model)
    assert walk.is_dropout_layer(converted.layers[0])
    assert kerasdrop.find_rates(converted) == {"gaussian_noise/stddev": 0.5}
