import gc
import warnings
import weakref

import keras
import numpy as np
import pytest
from keras import ops

import kerasdrop
from kerasdrop.analysis import ensemble
from kerasdrop.layers.rates import sampling
from tests.warning_checks import no_warnings


def _numpy(x):
    return ops.convert_to_numpy(x)


def _inputs(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def _batchnorm_model(dropout_layer):
    """BatchNorm whose moving statistics are far from any batch's."""
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(6, name="hidden")(inputs)
    norm = keras.layers.BatchNormalization(name="norm")
    hidden = norm(hidden)
    hidden = dropout_layer(hidden)
    outputs = keras.layers.Dense(3, activation="softmax")(hidden)
    model = keras.Model(inputs, outputs)
    gamma, beta, _, _ = norm.get_weights()
    norm.set_weights([gamma, beta, np.full(6, 5.0), np.full(6, 4.0)])
    return model


@pytest.mark.parametrize(
    "dropout_layer",
    [
        lambda: kerasdrop.ScheduledDropout(0.0, name="dropout"),
        lambda: keras.layers.Dropout(0.0, name="dropout"),
    ],
)
def test_mc_predict_leaves_batchnorm_in_inference_mode(dropout_layer):
    model = _batchnorm_model(dropout_layer())
    x = _inputs((16, 4))
    # The test can fail: in training mode BatchNorm uses batch statistics
    # (and moves its moving statistics a little).
    training = _numpy(model(x, training=True))
    inference = _numpy(model(x, training=False))
    assert not np.allclose(training, inference, atol=1e-2)
    with pytest.warns(UserWarning, match="rate"):
        result = kerasdrop.analysis.mc_predict(model, x, num_samples=5)
    np.testing.assert_allclose(result["mean"], inference, atol=1e-6)
    np.testing.assert_allclose(result["std"], 0.0, atol=1e-6)


def _identity_after_dropout(dropout_layer, units=50):
    inputs = keras.Input((units,))
    return keras.Model(inputs, dropout_layer(inputs))


@pytest.mark.parametrize(
    "dropout_layer",
    [
        lambda: kerasdrop.ScheduledDropout(0.5, seed=1),
        lambda: keras.layers.Dropout(0.5, seed=1),
    ],
)
def test_mc_predict_draws_a_mask_per_sample_and_row(dropout_layer):
    model = _identity_after_dropout(dropout_layer())
    x = np.ones((8, 50), "float32")
    result = kerasdrop.analysis.mc_predict(
        model, x, num_samples=200, return_samples=True
    )
    samples = result["samples"]
    assert samples.shape == (200, 8, 50)
    assert set(np.unique(samples)) == {0.0, 2.0}
    # 80000 draws: the zero fraction has a standard deviation of 0.0018.
    assert abs(np.mean(samples == 0) - 0.5) < 0.01
    # The masks differ between samples of one row and between rows.
    assert not np.array_equal(samples[0], samples[1])
    assert not np.array_equal(samples[0, 0], samples[0, 1])
    # Mean of 200 samples of 0 or 2: standard deviation 1 / sqrt(200).
    assert np.max(np.abs(result["mean"] - 1.0)) < 0.4
    # Accumulated in float64, then rounded to the outputs' float32.
    np.testing.assert_allclose(
        result["std"], samples.astype("float64").std(axis=0), rtol=1e-6
    )


def test_mc_predict_switches_on_every_dropout_layer():
    inputs = keras.Input((40,))
    hidden = keras.layers.Dropout(0.5, seed=1)(inputs)
    hidden = kerasdrop.ScheduledDropout(0.5, seed=2)(hidden)
    outputs = keras.layers.GaussianDropout(0.5, seed=3)(hidden)
    model = keras.Model(inputs, outputs)
    samples = kerasdrop.analysis.mc_predict(
        model, np.ones((10, 40)), num_samples=100, return_samples=True
    )["samples"]
    # Two binary masks keep a unit with probability 1/4.
    assert abs(np.mean(samples != 0) - 0.25) < 0.02
    # Gaussian noise makes the kept values continuous.
    assert len(np.unique(samples)) > 100


def test_mc_predict_follows_weight_changes():
    dense = keras.layers.Dense(2, use_bias=False)
    inputs = keras.Input((3,))
    outputs = dense(kerasdrop.ScheduledDropout(0.0)(inputs))
    model = keras.Model(inputs, outputs)
    x = np.ones((2, 3), "float32")
    first = kerasdrop.analysis.mc_predict(model, x, 2, rate=0.0)["mean"]
    dense.set_weights([2 * dense.get_weights()[0]])
    second = kerasdrop.analysis.mc_predict(model, x, 2, rate=0.0)["mean"]
    np.testing.assert_allclose(second, 2 * first, rtol=1e-6)


def test_mc_predict_on_a_sequential_model_with_a_nested_model():
    inner = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dropout(0.5, seed=0)], name="inner"
    )
    model = keras.Sequential(
        [keras.Input((6,)), inner, keras.layers.Dense(2, name="out")]
    )
    x = _inputs((4, 6))
    result = kerasdrop.analysis.mc_predict(
        model, x, num_samples=20, return_samples=True
    )
    assert result["mean"].shape == (4, 2)
    assert np.all(result["std"] > 0)


def test_geometric_combination_matches_its_definition():
    inputs = keras.Input((5,))
    hidden = kerasdrop.ScheduledDropout(0.5, seed=0)(inputs)
    outputs = keras.layers.Dense(4, activation="softmax")(hidden)
    model = keras.Model(inputs, outputs)
    x = _inputs((6, 5))
    keras.utils.set_random_seed(0)
    result = kerasdrop.analysis.mc_predict(
        model, x, num_samples=30, combine="geometric", return_samples=True
    )
    samples = result["samples"].astype("float64")
    expected = np.exp(np.log(samples).mean(axis=0))
    expected /= expected.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(result["mean"], expected, rtol=1e-5)
    np.testing.assert_allclose(result["mean"].sum(-1), 1.0, rtol=1e-6)


def test_geometric_combination_of_one_sigmoid_unit():
    inputs = keras.Input((5,))
    hidden = kerasdrop.ScheduledDropout(0.5, seed=0)(inputs)
    outputs = keras.layers.Dense(1, activation="sigmoid")(hidden)
    model = keras.Model(inputs, outputs)
    result = kerasdrop.analysis.mc_predict(
        model,
        _inputs((6, 5)),
        num_samples=30,
        combine="geometric",
        return_samples=True,
    )
    p = result["samples"].astype("float64")
    positive = np.exp(np.log(p).mean(0))
    negative = np.exp(np.log(1 - p).mean(0))
    np.testing.assert_allclose(
        result["mean"], positive / (positive + negative), rtol=1e-5
    )


def test_geometric_combination_needs_probabilities():
    model = _identity_after_dropout(kerasdrop.ScheduledDropout(0.5), 3)
    with pytest.raises(ValueError, match="probabilities"):
        kerasdrop.analysis.mc_predict(
            model, -np.ones((2, 3)), num_samples=2, combine="geometric"
        )


def test_batched_calls_give_the_same_shapes():
    model = _identity_after_dropout(kerasdrop.ScheduledDropout(0.0), 3)
    x = _inputs((7, 3))
    with pytest.warns(UserWarning, match="rate"):
        result = kerasdrop.analysis.mc_predict(
            model, x, num_samples=4, batch_size=5, return_samples=True
        )
    np.testing.assert_allclose(result["samples"], np.stack([x] * 4))


def test_mc_predict_of_a_subclassed_model_raises():
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dropout = keras.layers.Dropout(0.5)

        def call(self, inputs, training=False):
            return self.dropout(inputs, training=training)

    model = Subclassed()
    model(np.ones((1, 3)))
    with pytest.raises(ValueError, match="Functional or Sequential"):
        kerasdrop.analysis.mc_predict(model, np.ones((2, 3)))


def test_mc_predict_without_dropout_raises():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(ValueError, match="no dropout layer"):
        kerasdrop.analysis.mc_predict(model, np.ones((2, 3)))


def test_mc_predict_invalid_arguments_raise():
    model = _identity_after_dropout(kerasdrop.ScheduledDropout(0.5), 3)
    with pytest.raises(ValueError, match="num_samples"):
        kerasdrop.analysis.mc_predict(model, np.ones((2, 3)), num_samples=0)
    with pytest.raises(ValueError, match="combine"):
        kerasdrop.analysis.mc_predict(model, np.ones((2, 3)), combine="max")


def _two_dropout_model(seed):
    """Dense -> kerasdrop dropout -> Dense -> Keras dropout -> softmax."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    hidden = kerasdrop.ScheduledDropout(0.5, seed=seed)(hidden)
    hidden = keras.layers.Dense(8, activation="relu")(hidden)
    hidden = keras.layers.Dropout(0.3, seed=seed + 1)(hidden)
    outputs = keras.layers.Dense(3, activation="softmax")(hidden)
    return keras.Model(inputs, outputs)


def _tiled_reference(model, x, num_samples, batch_size):
    """mc_predict as it was: every repeated row built first, then cut."""
    mc_model, sampled = ensemble._mc_model(model)
    tiled = np.tile(x, (num_samples, 1))
    step = batch_size or len(tiled)
    outputs = []
    for start in range(0, len(tiled), step):
        with sampling(sampled):
            batch = mc_model(tiled[start : start + step], training=False)
        outputs.append(_numpy(batch))
    outputs = np.concatenate(outputs)
    return outputs.reshape((num_samples, len(x)) + outputs.shape[1:])


@pytest.mark.parametrize("batch_size", [None, 7, 12, 64])
@pytest.mark.parametrize("combine", ["mean", "geometric"])
def test_streamed_batches_give_the_samples_of_the_tiled_input(
    batch_size, combine
):
    # Same seeds, same batch_size: the same masks as building the whole
    # repeated input first (7 cuts samples of 5 rows mid-way).
    x = _inputs((5, 6))
    expected = _tiled_reference(_two_dropout_model(seed=3), x, 6, batch_size)
    result = kerasdrop.analysis.mc_predict(
        _two_dropout_model(seed=3),
        x,
        num_samples=6,
        combine=combine,
        batch_size=batch_size,
        return_samples=True,
    )
    np.testing.assert_array_equal(result["samples"], expected)
    expected = expected.astype("float64")
    np.testing.assert_allclose(result["std"], expected.std(0), rtol=1e-5)
    if combine == "mean":
        mean = expected.mean(0)
    else:
        mean = np.exp(np.log(expected).mean(0))
        mean /= mean.sum(-1, keepdims=True)
    np.testing.assert_allclose(result["mean"], mean, rtol=1e-5)


class _RowCounter(keras.layers.Layer):
    """The identity, counting the rows of its calls and keeping the most
    rows of one call, in variables (so also when the call is compiled)."""

    def build(self, input_shape):
        self.total = self.add_weight((), initializer="zeros", trainable=False)
        self.largest = self.add_weight((), initializer="zeros", trainable=False)

    def call(self, inputs):
        rows = ops.cast(ops.shape(inputs)[0], "float32")
        self.total.assign(self.total + rows)
        self.largest.assign(ops.maximum(self.largest, rows))
        return inputs

    def clear(self):
        self.total.assign(0.0)
        self.largest.assign(0.0)

    def compute_output_shape(self, input_shape):
        return input_shape


@pytest.mark.parametrize("batch_size", [64, None])
def test_mc_predict_calls_the_model_on_at_most_batch_size_rows(batch_size):
    counter = _RowCounter()
    inputs = keras.Input((3,))
    outputs = counter(kerasdrop.ScheduledDropout(0.5, seed=0)(inputs))
    model = keras.Model(inputs, outputs)
    ensemble.mc_predict(model, np.ones((10, 3)), num_samples=500)  # Builds.
    counter.clear()
    kwargs = {} if batch_size is None else {"batch_size": batch_size}
    result = kerasdrop.analysis.mc_predict(
        model, np.ones((10, 3)), num_samples=2000, **kwargs
    )
    limit = batch_size or ensemble.DEFAULT_MC_BATCH_SIZE
    assert float(counter.largest.numpy()) == limit
    assert float(counter.total.numpy()) == 20_000
    # 2000 samples of 0 or 2 per entry: standard deviation 1 / sqrt(2000).
    np.testing.assert_allclose(result["mean"], 1.0, atol=0.12)
    np.testing.assert_allclose(result["std"], 1.0, atol=0.05)


def test_mc_predict_at_rate_zero_warns_naming_the_layers():
    inputs = keras.Input((4,))
    hidden = kerasdrop.ScheduledDropout(0.5, name="first")(inputs)
    hidden = keras.layers.Dropout(0.0, name="second")(hidden)
    model = keras.Model(inputs, hidden)
    model.get_layer("first").rate = 0.0  # A schedule that ended at 0.
    with pytest.warns(UserWarning, match=r"\['first/rate', 'second/rate'\]"):
        result = kerasdrop.analysis.mc_predict(model, np.ones((3, 4)), 5)
    np.testing.assert_array_equal(result["std"], 0.0)
    model.get_layer("first").rate = 0.2
    with no_warnings():
        kerasdrop.analysis.mc_predict(model, np.ones((3, 4)), 5)


class _RateSpy(keras.layers.Layer):
    """The identity, keeping the rates (variables) given by `read` as they
    were during its last call (the rates in force during the pass), in
    variables of its own (so also when the call is compiled)."""

    def __init__(self, read, **kwargs):
        super().__init__(**kwargs)
        self.read = read

    def build(self, input_shape):
        self.seen = {
            name: self.add_weight((), initializer="zeros", trainable=False)
            for name in self.read()
        }

    def call(self, inputs):
        for name, rate in self.read().items():
            self.seen[name].assign(rate)
        return inputs

    def last_seen(self):
        return {name: float(v.numpy()) for name, v in self.seen.items()}

    def compute_output_shape(self, input_shape):
        return input_shape


def _recurrent_model():
    inputs = keras.Input((4, 3))
    drop = kerasdrop.ScheduledDropout(0.0, name="drop", seed=1)
    lstm = kerasdrop.VariationalLSTM(
        5, input_rate=0.0, recurrent_rate=0.0, name="lstm", seed=2
    )
    spy = _RateSpy(
        lambda: {
            "drop": drop.dropout_rates["rate"],
            "input_rate": lstm.dropout_rates["input_rate"],
            "recurrent_rate": lstm.dropout_rates["recurrent_rate"],
        }
    )
    model = keras.Model(inputs, spy(lstm(drop(inputs))))
    return model, spy


@pytest.mark.parametrize(
    "rate, expected",
    [
        (0.4, {"drop": 0.4, "input_rate": 0.4, "recurrent_rate": 0.4}),
        ({"drop": 0.4}, {"drop": 0.4}),
        ({"lstm/recurrent_rate": 0.3}, {"recurrent_rate": 0.3}),
        (
            {"lstm": 0.2, "drop/rate": 0.1},
            {"drop": 0.1, "input_rate": 0.2, "recurrent_rate": 0.2},
        ),
    ],
    ids=["float", "layer_name", "rate_key", "layer_and_rate_key"],
)
def test_rate_argument_sets_rates_for_the_pass_only(rate, expected):
    model, spy = _recurrent_model()
    x = np.ones((20, 4, 3), "float32")
    kerasdrop.analysis.mc_predict(model, x, 4, rate=rate)
    during = {
        name: expected.get(name, 0.0)
        for name in ("drop", "input_rate", "recurrent_rate")
    }
    assert spy.last_seen() == pytest.approx(during)
    with pytest.warns(UserWarning, match="is 0"):  # Put back: all 0.
        kerasdrop.analysis.mc_predict(model, x, 4)
    assert spy.last_seen() == dict.fromkeys(during, 0.0)
    with no_warnings():  # No warning for rates asked for.
        kerasdrop.analysis.mc_predict(model, x, 4, rate=0.0)


def test_rate_argument_reaches_the_masks():
    inputs = keras.Input((50,))
    dropout = kerasdrop.ScheduledDropout(0.0, seed=0)
    model = keras.Model(inputs, dropout(inputs))
    samples = kerasdrop.analysis.mc_predict(
        model, np.ones((10, 50)), 40, rate=0.3, return_samples=True
    )["samples"]
    # 20000 draws: the zero fraction has a standard deviation of 0.0032.
    assert np.mean(samples == 0) == pytest.approx(0.3, abs=0.015)
    assert dropout.rate == 0.0


def test_rates_are_restored_when_the_pass_fails():
    inputs = keras.Input((3,))
    dropout = kerasdrop.ScheduledDropout(0.25)
    keras_dropout = keras.layers.Dropout(0.5)
    model = keras.Model(inputs, keras_dropout(dropout(inputs)))
    # Negative outputs are not probabilities: combine="geometric" raises
    # after the rates were set.
    with pytest.raises(ValueError, match="probabilities"):
        kerasdrop.analysis.mc_predict(
            model, -np.ones((2, 3)), 3, combine="geometric", rate=0.75
        )
    assert dropout.rate == 0.25
    assert keras_dropout.rate == 0.5


@pytest.mark.parametrize(
    "rate, error, match",
    [
        (1.5, ValueError, "rate"),
        ({"nope": 0.1}, ValueError, "nope"),
        ({"drop": 2.0}, ValueError, "rate"),
        ({3: 0.1}, TypeError, "rate"),
        ({"keras_zero": 0.5}, ValueError, "created with rate 0"),
    ],
)
def test_invalid_rate_argument_raises_and_changes_nothing(rate, error, match):
    inputs = keras.Input((3,))
    hidden = kerasdrop.ScheduledDropout(0.25, name="drop")(inputs)
    hidden = keras.layers.Dropout(0.0, name="keras_zero")(hidden)
    model = keras.Model(inputs, hidden)
    with pytest.raises(error, match=match):
        kerasdrop.analysis.mc_predict(model, np.ones((2, 3)), 2, rate=rate)
    assert model.get_layer("drop").rate == 0.25
    assert model.get_layer("keras_zero").rate == 0.0


# Exact averaging.


def _softmax_model(dropout_layer, units=8, classes=4, seed=0):
    inputs = keras.Input((units,))
    dropped = dropout_layer(inputs)
    dense = keras.layers.Dense(classes, activation="softmax")
    outputs = dense(dropped)
    rng = np.random.default_rng(seed)
    dense.set_weights(
        [rng.standard_normal((units, classes)), rng.standard_normal(classes)]
    )
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize(
    "dropout_layer",
    [
        lambda: kerasdrop.ScheduledDropout(0.5, name="dropout"),
        lambda: keras.layers.Dropout(0.3, name="dropout"),
    ],
)
def test_geometric_mean_of_a_softmax_layer_equals_weight_scaling(
    dropout_layer,
):
    model = _softmax_model(dropout_layer())
    x = _inputs((10, 8), seed=1)
    result = kerasdrop.analysis.exact_average(model, x, "dropout")
    assert result["num_masks"] == 256
    np.testing.assert_allclose(
        result["geometric"], result["inference"], atol=2e-6
    )
    # The arithmetic mean of the same ensemble is not the inference output.
    assert np.max(np.abs(result["arithmetic"] - result["inference"])) > 1e-2


def test_geometric_mean_of_a_sigmoid_unit_equals_weight_scaling():
    model = _softmax_model(
        kerasdrop.ScheduledDropout(0.5, name="dropout"), classes=1
    )
    x = _inputs((10, 8), seed=2)
    dense = model.layers[-1]
    dense.activation = keras.activations.sigmoid
    result = kerasdrop.analysis.exact_average(model, x, "dropout")
    np.testing.assert_allclose(
        result["geometric"], result["inference"], atol=2e-6
    )


def test_hidden_nonlinearity_breaks_the_identity():
    inputs = keras.Input((8,))
    dropped = kerasdrop.ScheduledDropout(0.5, name="dropout")(inputs)
    hidden = keras.layers.Dense(16, activation="tanh")(dropped)
    outputs = keras.layers.Dense(4, activation="softmax")(hidden)
    model = keras.Model(inputs, outputs)
    x = 2 * _inputs((10, 8), seed=3)
    result = kerasdrop.analysis.exact_average(model, x, "dropout")
    gap = np.max(np.abs(result["geometric"] - result["inference"]))
    assert gap > 1e-3


def test_arithmetic_mean_of_a_linear_model_equals_weight_scaling():
    # The expectation of an inverted-dropout mask is 1, so a linear model's
    # average is its inference output; its outputs are not probabilities.
    inputs = keras.Input((5,))
    dropped = kerasdrop.ScheduledDropout(0.4, name="dropout")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3)(dropped))
    x = _inputs((6, 5), seed=4)
    result = kerasdrop.analysis.exact_average(model, x, "dropout")
    np.testing.assert_allclose(
        result["arithmetic"], result["inference"], atol=1e-5
    )
    assert result["geometric"] is None


def test_exact_average_matches_brute_force_enumeration():
    inputs = keras.Input((3,))
    dropped = kerasdrop.ScheduledDropout(0.25, name="dropout")(inputs)
    hidden = keras.layers.Dense(4, activation="relu")(dropped)
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    after = keras.Sequential(model.layers[2:])
    x = _inputs((5, 3), seed=5)
    expected = 0.0
    for code in range(8):
        mask = np.array([(code >> unit) & 1 for unit in range(3)], "float32")
        probability = 0.75 ** mask.sum() * 0.25 ** (3 - mask.sum())
        expected += probability * _numpy(after(x * mask / 0.75))
    result = kerasdrop.analysis.exact_average(model, x, "dropout", batch_size=7)
    np.testing.assert_allclose(result["arithmetic"], expected, rtol=1e-5)


def test_other_dropout_layers_stay_in_inference_mode():
    inputs = keras.Input((6,))
    dropped = kerasdrop.ScheduledDropout(0.5, name="dropout")(inputs)
    dropped = keras.layers.Dropout(0.9, name="other")(dropped)
    outputs = keras.layers.Dense(3, activation="softmax")(dropped)
    model = keras.Model(inputs, outputs)
    result = kerasdrop.analysis.exact_average(model, _inputs((4, 6)), "dropout")
    np.testing.assert_allclose(
        result["geometric"], result["inference"], atol=2e-6
    )


@pytest.mark.parametrize("rate, zeroed", [(0.0, False), (1.0, True)])
def test_extreme_rates_have_one_mask(rate, zeroed):
    inputs = keras.Input((4,))
    dropped = kerasdrop.ScheduledDropout(rate, name="dropout")(inputs)
    dense = keras.layers.Dense(2)
    model = keras.Model(inputs, dense(dropped))
    x = _inputs((3, 4))
    result = kerasdrop.analysis.exact_average(model, x, "dropout")
    assert result["num_masks"] == 1
    expected = _numpy(dense(0 * x if zeroed else x))
    np.testing.assert_allclose(result["arithmetic"], expected, atol=1e-6)


def test_all_masks_probabilities_sum_to_one():
    masks, probabilities = ensemble.all_masks(5, 0.3)
    assert masks.shape == (32, 5)
    assert len({tuple(mask) for mask in masks.tolist()}) == 32
    assert probabilities.sum() == pytest.approx(1.0)


def test_too_many_units_raise():
    model = _softmax_model(
        kerasdrop.ScheduledDropout(0.5, name="dropout"), units=21
    )
    with pytest.raises(ValueError, match="up to 20 units"):
        kerasdrop.analysis.exact_average(model, np.ones((2, 21)), "dropout")


@pytest.mark.parametrize(
    "dropout_layer, shape",
    [
        (lambda: keras.layers.GaussianDropout(0.5, name="dropout"), (4,)),
        (lambda: kerasdrop.ScheduledDropout(0.5, name="dropout"), (3, 4)),
        (
            lambda: kerasdrop.ScheduledDropout(
                0.5, noise_shape=(None, 1), name="dropout"
            ),
            (4,),
        ),
    ],
)
def test_non_binary_or_non_2d_dropout_raises(dropout_layer, shape):
    inputs = keras.Input(shape)
    outputs = keras.layers.Dense(2)(dropout_layer()(inputs))
    model = keras.Model(inputs, outputs)
    with pytest.raises(ValueError, match="drops each unit"):
        kerasdrop.analysis.exact_average(
            model, np.ones((2,) + shape), "dropout"
        )


def test_exact_average_of_a_non_dropout_layer_raises():
    model = _softmax_model(kerasdrop.ScheduledDropout(0.5, name="dropout"))
    with pytest.raises(ValueError, match="not a dropout layer"):
        kerasdrop.analysis.exact_average(
            model, np.ones((2, 8)), model.layers[-1]
        )


def test_mixed_precision_samples_are_averaged_in_float32():
    keras.config.set_dtype_policy("mixed_float16")
    model = _softmax_model(kerasdrop.ScheduledDropout(0.5, name="dropout"))
    result = kerasdrop.analysis.mc_predict(
        model, _inputs((4, 8)), num_samples=3, return_samples=True
    )
    assert result["samples"].dtype == np.float32
    assert result["mean"].dtype == np.float32
    # Each float16 softmax output is rounded after an exp, a sum and a
    # division (a few units of float16 round-off each): the four sum to one
    # within 4 * eps(float16) on any kernel.
    atol = 4 * float(np.finfo(np.float16).eps)
    np.testing.assert_allclose(result["mean"].sum(-1), 1.0, atol=atol)


def test_recurrent_kerasdrop_layers_count_as_dropout_layers():
    inputs = keras.Input((5, 3))
    hidden = kerasdrop.VariationalLSTM(4, input_rate=0.5, seed=0)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    x = _inputs((6, 5, 3))
    result = kerasdrop.analysis.mc_predict(model, x, num_samples=10)
    assert result["mean"].shape == (6, 2)
    assert np.all(result["std"] > 0)


def test_exact_average_with_an_unknown_number_of_units_raises():
    inputs = keras.Input((None,))
    dropped = kerasdrop.ScheduledDropout(0.5, name="dropout")(inputs)
    model = keras.Model(inputs, keras.layers.Softmax()(dropped))
    with pytest.raises(ValueError, match="number of units .* 'dropout'"):
        kerasdrop.analysis.exact_average(model, np.ones((2, 4)), "dropout")


def test_rate_keys_are_the_schedulers_for_layers_sharing_a_name():
    def block(name):
        inputs = keras.Input((2000,))
        outputs = kerasdrop.ScheduledDropout(0.0, seed=1, name="drop")(inputs)
        return keras.Model(inputs, outputs, name=name)

    inputs = keras.Input((2000,))
    first, second = block("block_1"), block("block_2")
    model = keras.Model(
        inputs, keras.layers.Concatenate()([first(inputs), second(inputs)])
    )
    x = np.ones((4, 2000), dtype="float32")
    result = kerasdrop.analysis.mc_predict(
        model, x, num_samples=8, rate={"block_2/drop/rate": 0.5}
    )
    mean = np.asarray(result["mean"])
    # Only the second block's half drops; its mean stays near 1.
    np.testing.assert_array_equal(mean[:, :2000], 1.0)
    assert result["std"][:, 2000:].mean() > 0.5
    with pytest.raises(ValueError, match=r"block_1/drop/rate"):
        kerasdrop.analysis.mc_predict(model, x, rate={"nope": 0.5})


def test_mc_predict_warns_about_dropout_it_cannot_use_as_scheduled():
    inputs = keras.Input((5, 4))
    x = keras.layers.LSTM(6, dropout=0.3, name="lstm")(inputs)
    x = keras.layers.Dropout(0.0, name="zero")(x)
    x = keras.layers.Dropout(0.2, name="fixed")(x)
    x = kerasdrop.ScheduledDropout(0.2, name="scheduled")(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    data = np.ones((3, 5, 4), "float32")
    with pytest.warns(UserWarning, match="make_schedulable") as record:
        kerasdrop.analysis.mc_predict(model, data, num_samples=2)
    message = str(record[0].message)
    assert "stays off while sampling: lstm (LSTM" in message
    assert "at rate 0, so they draw nothing" in message
    assert "zero (Dropout, rate=0)" in message
    assert "fixed rate, which no schedule changed: fixed (Dropout" in message


def test_mc_predict_does_not_warn_for_kerasdrop_dropout():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            kerasdrop.ScheduledDropout(0.5),
            keras.layers.Dense(2),
        ]
    )
    with no_warnings():
        kerasdrop.analysis.mc_predict(model, np.ones((3, 4)), num_samples=2)


# Monte-Carlo sampling at any depth.


class _Block(keras.layers.Layer):
    """A subclassed block that calls its sublayers itself: BatchNorm, then
    kerasdrop dropout held in a list and inside a nested model."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.norm = keras.layers.BatchNormalization(name="norm")
        self.dropouts = [kerasdrop.ScheduledDropout(0.5, seed=1, name="listed")]
        self.inner = keras.Sequential(
            [kerasdrop.ScheduledDropout(0.5, seed=2, name="nested")],
            name="inner",
        )

    def build(self, input_shape):
        self.norm.build(input_shape)
        self.inner.build(input_shape)

    def call(self, inputs, training=False):
        hidden = self.norm(inputs, training=training)
        hidden = self.dropouts[0](hidden, training=training)
        return self.inner(hidden, training=training)


def _block_model():
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(6, name="hidden")(inputs)
    block = _Block(name="block")
    outputs = keras.layers.Dense(3, name="out")(block(hidden))
    model = keras.Model(inputs, outputs)
    gamma, beta, _, _ = block.norm.get_weights()
    # Moving statistics far from any batch's: training mode would show.
    block.norm.set_weights([gamma, beta, np.full(6, 5.0), np.full(6, 4.0)])
    return model, block


@pytest.mark.parametrize("switched_on", ["listed", "nested"])
def test_mc_predict_samples_dropout_inside_subclassed_layers(switched_on):
    model, block = _block_model()
    dropouts = {"listed": block.dropouts[0], "nested": block.inner.layers[0]}
    x = _inputs((16, 6))
    for layer in dropouts.values():
        layer.rate = 0.0
    # The test can fail: in training mode BatchNorm uses batch statistics.
    training = _numpy(model(x, training=True))
    inference = _numpy(model(x, training=False))
    assert not np.allclose(training, inference, atol=0.1)
    for layer in dropouts.values():
        layer.rate = 0.5
    # Only the chosen dropout layer draws masks.
    rates = {
        layer: float(name == switched_on) * 0.5
        for name, layer in dropouts.items()
    }
    result = kerasdrop.analysis.mc_predict(model, x, num_samples=8, rate=rates)
    assert np.all(result["std"] > 0)
    # Every rate at 0: the samples are the inference output, so BatchNorm
    # stayed in inference mode (up to the rounding of another batch size).
    result = kerasdrop.analysis.mc_predict(model, x, num_samples=8, rate=0.0)
    np.testing.assert_allclose(result["mean"], inference, atol=1e-5)
    np.testing.assert_allclose(result["std"], 0.0, atol=1e-6)


def _time_distributed_model():
    inputs = keras.Input((3, 6))
    dropped = keras.layers.TimeDistributed(
        kerasdrop.ScheduledDropout(0.5, seed=0)
    )(inputs)
    return keras.Model(inputs, keras.layers.Dense(2)(dropped)), (8, 3, 6)


def _bidirectional_model():
    inputs = keras.Input((3, 6))
    hidden = keras.layers.Bidirectional(
        kerasdrop.VariationalLSTM(4, input_rate=0.5, seed=0)
    )(inputs)
    return keras.Model(inputs, keras.layers.Dense(2)(hidden)), (8, 3, 6)


def _concrete_dropout_in_a_block_model():
    class Head(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = kerasdrop.ConcreteDropout(
                keras.layers.Dense(2), init_min=0.5, init_max=0.5, seed=0
            )

        def call(self, inputs, training=False):
            return self.dense(inputs, training=training)

    inputs = keras.Input((6,))
    return keras.Model(inputs, Head()(inputs)), (8, 6)


@pytest.mark.parametrize(
    "make_model",
    [
        _time_distributed_model,
        _bidirectional_model,
        _concrete_dropout_in_a_block_model,
    ],
)
def test_mc_predict_samples_dropout_inside_wrappers(make_model):
    model, shape = make_model()
    x = _inputs(shape)
    result = kerasdrop.analysis.mc_predict(model, x, num_samples=8)
    assert np.all(result["std"] > 0)


def test_keras_dropout_built_at_zero_error_names_make_schedulable():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dropout(0.0)(inputs))
    with pytest.raises(ValueError, match=r"kerasdrop\.make_schedulable"):
        kerasdrop.analysis.mc_predict(model, np.ones((2, 3)), 2, rate=0.3)


def test_every_compiled_call_draws_new_masks():
    # One sample per call of the compiled forward: the seed state it
    # carries must advance from call to call, and from one mc_predict to
    # the next.
    inputs = keras.Input((50,))
    model = keras.Model(inputs, kerasdrop.ScheduledDropout(0.5, seed=3)(inputs))
    x = np.ones((4, 50), "float32")

    def draw():
        return kerasdrop.analysis.mc_predict(
            model, x, 6, batch_size=4, return_samples=True
        )["samples"]

    first, second = draw(), draw()
    masks = np.concatenate([first, second]).reshape(12, -1)
    assert len({mask.tobytes() for mask in masks}) == 12


def test_changed_keras_float_rates_are_sampled_as_they_are_now():
    # Keras's rates are floats, read when the compiled forward is traced:
    # a forward traced at one rate must not serve another.
    inputs = keras.Input((40,))
    dropout = keras.layers.Dropout(0.5, seed=1)
    model = keras.Model(inputs, dropout(inputs))
    x = np.ones((5, 40), "float32")
    for rate in (0.5, 0.0, 0.25, 0.0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            samples = kerasdrop.analysis.mc_predict(
                model, x, 20, rate=rate, return_samples=True
            )["samples"]
        # 4000 draws: the zero fraction is within 0.04 of the rate.
        assert np.mean(samples == 0) == pytest.approx(rate, abs=0.04)
    dropout.rate = 0.25  # Set by the user, not by `rate=`.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        samples = kerasdrop.analysis.mc_predict(
            model, x, 20, return_samples=True
        )["samples"]
    assert np.mean(samples == 0) == pytest.approx(0.25, abs=0.04)


def test_mc_predict_keeps_no_model_alive():
    # Its compiled forward holds the model: kept where it dies with the
    # model, not in a table that would keep every sampled model alive.
    inputs = keras.Input((4,))
    model = keras.Model(inputs, kerasdrop.ScheduledDropout(0.5)(inputs))
    kerasdrop.analysis.mc_predict(model, np.ones((3, 4), "float32"), 2)
    alive = weakref.ref(model)
    del model, inputs
    gc.collect()
    assert alive() is None
