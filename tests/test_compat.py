"""Every private Keras detail kerasdrop relies on, checked in one place."""

import keras

import kerasdrop
from kerasdrop import _compat


def test_flatten_layers_finds_nested_layers():
    inner = keras.Sequential(
        [keras.Input((4,)), kerasdrop.ScheduledDropout(0.1, name="inner")],
        name="block",
    )
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(2, name="head")(inner(inputs))
    model = keras.Model(inputs, outputs)
    names = [layer.name for layer in _compat.flatten_layers(model)]
    assert names[0] == model.name
    assert {"block", "inner", "head"} <= set(names)
