import keras
import numpy as np
import pytest

import kerasdrop
from kerasdrop.analysis import _graph
from kerasdrop.analysis import coadaptation
from kerasdrop.analysis import probe_data
from kerasdrop.analysis import probes


def _rng(seed=0):
    return np.random.default_rng(seed)


def _dropout_model():
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(5, activation="relu", name="hidden")(inputs)
    dropped = keras.layers.Dropout(0.5, name="dropout")(hidden)
    outputs = keras.layers.Dense(2, activation="softmax", name="out")(dropped)
    return keras.Model(inputs, outputs)


def test_layer_activations_read_dropout_inputs_and_other_outputs():
    model = _dropout_model()
    x = _rng(12).standard_normal((7, 3)).astype("float32")
    hidden = keras.Model(model.input, model.get_layer("hidden").output)
    expected = keras.ops.convert_to_numpy(hidden(x))
    np.testing.assert_allclose(
        probes.layer_activations(model, "dropout", x), expected
    )
    np.testing.assert_allclose(
        probes.layer_activations(model, "hidden", x, batch_size=3),
        expected,
    )
    assert probes.layer_activations(model, "out", x).shape == (7, 2)


def test_unknown_layer_raises():
    with pytest.raises(ValueError, match="No layer named 'nope'"):
        probes.layer_activations(_dropout_model(), "nope", np.ones((2, 3)))


def test_subclassed_model_raises():
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2, name="dense")

        def call(self, inputs):
            return self.dense(inputs)

    model = Subclassed()
    model(np.ones((1, 3)))
    with pytest.raises(ValueError, match="subclassed model"):
        probes.layer_activations(model, "dense", np.ones((2, 3)))


class _Block(keras.layers.Layer):
    """A subclassed block holding a kerasdrop dropout layer."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(6, activation="relu")
        self.dropout = kerasdrop.ScheduledDropout(0.5, name="inner")

    def call(self, inputs, training=False):
        return self.dropout(self.dense(inputs), training=training)


def _model_with_a_nested_dropout():
    inputs = keras.Input((4,))
    block = _Block(name="block")
    hidden = block(inputs)
    top = kerasdrop.ScheduledDropout(0.3, name="top")(hidden)
    outputs = keras.layers.Dense(2)(top)
    return keras.Model(inputs, outputs), block


def test_compiled_measures_come_in_the_order_of_the_layers_given():
    model, block = _model_with_a_nested_dropout()
    x = _rng(3).standard_normal((16, 4)).astype("float32")
    measures = ("correlation", "sparsity", "decov")
    # The nested layer first: the compiled call reads the graph's first.
    layers = [block.dropout, model.get_layer("top")]
    run = probes.compile_measures(
        model, layers, ["inner", "top"], measures, _graph.as_tensors(x)
    )
    table = run(_graph.as_tensors(x))
    assert table.shape == (2, 3)
    inner = keras.ops.convert_to_numpy(block.dense(x))
    top = probes.layer_activations(model, "top", x)
    for row, activations in zip(table, (inner, top)):
        expected = coadaptation.summarize(activations, measures)
        np.testing.assert_allclose(
            row, [expected[name] for name in measures], rtol=1e-5, atol=1e-7
        )


def test_compiled_measures_are_kept_for_the_model():
    model, block = _model_with_a_nested_dropout()
    x = _graph.as_tensors(np.ones((4, 4), "float32"))
    layers, names = [model.get_layer("top")], ["top"]
    first = probes.compile_measures(model, layers, names, ["decov"], x)
    again = probes.compile_measures(model, layers, names, ["decov"], x)
    other = probes.compile_measures(model, layers, names, ["sparsity"], x)
    assert again is first
    assert other is not first


def test_read_probe_takes_a_fixed_subset_and_unpacks_tuples():
    x = np.arange(40, dtype="float32").reshape(20, 2)
    y = np.arange(20)
    probe_x, probe_y = probe_data.read_probe((x, y), max_samples=5, seed=1)
    again_x, _ = probe_data.read_probe((x, y), max_samples=5, seed=1)
    assert probe_x.shape == (5, 2)
    np.testing.assert_array_equal(probe_x, again_x)
    # Rows stay paired with their targets.
    np.testing.assert_array_equal(probe_x[:, 0], 2 * probe_y)


def test_read_probe_errors_name_the_caller():
    with pytest.raises(TypeError, match="^MyCallback: .*generator"):
        probe_data.read_probe(iter([1, 2]), caller="MyCallback")
    with pytest.raises(ValueError, match="^MyCallback: .*at least 2 rows"):
        probe_data.read_probe(np.ones((1, 3)), caller="MyCallback")


def test_probe_that_does_not_fit_the_model_raises():
    with pytest.raises(ValueError, match="expects inputs of shape"):
        probe_data.check_probe_fits(
            _dropout_model(), np.ones((4, 5)), caller="MyCallback"
        )
