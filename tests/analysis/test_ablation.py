import keras
import numpy as np
import pytest

from kerasdrop.analysis import ablation
from tests.analysis.test_probes import _dropout_model
from tests.analysis.test_probes import _rng


def _sum_model(num_units):
    """Dropout on `num_units` ones, then their sum: output = kept units."""
    inputs = keras.Input((num_units,))
    dropped = keras.layers.Dropout(0.5, name="dropout")(inputs)
    dense = keras.layers.Dense(1, use_bias=False, name="sum")
    outputs = dense(dropped)
    dense.set_weights([np.ones((num_units, 1))])
    return keras.Model(inputs, outputs)


def _mean_output(y_true, y_pred):
    return float(np.mean(y_pred))


def test_ablation_curve_of_a_sum_is_linear():
    # Zeroing round(f * 10) of 10 units leaves a sum of 10 - round(f * 10),
    # whatever the order: the mean curve is exact and its area is 5.
    model = _sum_model(10)
    x = np.ones((4, 10), "float32")
    curve = ablation.ablation_curve(
        model, "dropout", x, None, num_orders=3, metric=_mean_output, seed=0
    )
    np.testing.assert_allclose(curve["fractions"], np.linspace(0, 1, 11))
    np.testing.assert_allclose(curve["values"], [np.arange(10, -1, -1)] * 3)
    assert curve["area"] == pytest.approx(5.0)


def test_ablation_curve_accuracy_starts_at_model_accuracy():
    model = _dropout_model()
    rng = _rng(13)
    x = rng.standard_normal((40, 3)).astype("float32")
    y = rng.integers(0, 2, 40)
    predictions = keras.ops.convert_to_numpy(model(x))
    accuracy = np.mean(np.argmax(predictions, -1) == y)
    curve = ablation.ablation_curve(
        model, "hidden", x, y, fractions=[0.0, 0.5, 1.0], num_orders=4
    )
    np.testing.assert_allclose(curve["values"][:, 0], accuracy)
    # With every unit zeroed the prediction is the same for every row.
    constant = np.argmax(
        keras.ops.convert_to_numpy(
            model.get_layer("out")(np.zeros((1, 5), "float32"))
        )
    )
    np.testing.assert_allclose(curve["values"][:, -1], np.mean(y == constant))


def test_ablation_curve_uses_the_compiled_loss():
    model = _sum_model(4)
    model.compile(loss="mse")
    x = np.ones((3, 4), "float32")
    y = np.full((3, 1), 4.0, "float32")
    curve = ablation.ablation_curve(
        model, "dropout", x, y, fractions=[0.0, 0.5, 1.0], metric="loss"
    )
    np.testing.assert_allclose(curve["mean"], [0.0, 4.0, 16.0])


def test_loss_metric_without_compiled_loss_raises():
    with pytest.raises(ValueError, match="compiled with a single loss"):
        ablation.ablation_curve(
            _sum_model(3),
            "dropout",
            np.ones((2, 3)),
            np.ones((2, 1)),
            metric="loss",
        )


def test_invalid_fractions_raise():
    with pytest.raises(ValueError, match="fractions"):
        ablation.ablation_curve(
            _sum_model(3),
            "dropout",
            np.ones((2, 3)),
            None,
            fractions=[0.5, 0.2],
            metric=_mean_output,
        )


def _and_pair_model():
    """Units 0 and 1 only help together; units 2 and 3 add up.

    output = relu(h0 + h1 - 1) + h2 + h3 with h = 1: zeroing unit 0 or 1
    alone costs as much as zeroing both.
    """
    inputs = keras.Input((4,))
    dropped = keras.layers.Dropout(0.5, name="dropout")(inputs)
    gate = keras.layers.Dense(1, activation="relu", name="gate")
    gated = gate(keras.layers.Lambda(lambda t: t[:, :2])(dropped))
    gate.set_weights([np.ones((2, 1)), np.array([-1.0])])
    rest = keras.layers.Lambda(
        lambda t: keras.ops.sum(t[:, 2:], axis=-1, keepdims=True)
    )(dropped)
    outputs = keras.layers.Add()([gated, rest])
    return keras.Model(inputs, outputs)


def test_pair_that_only_works_together_has_large_interaction():
    model = _and_pair_model()
    x = np.ones((5, 4), "float32")
    result = ablation.ablation_interaction(
        model, "dropout", x, None, num_pairs=100, metric=_mean_output, seed=0
    )
    assert len(result["pairs"]) == 6  # Every pair of 4 units.
    interactions = {
        tuple(pair): value
        for pair, value in zip(result["pairs"].tolist(), result["interactions"])
    }
    assert interactions.pop((0, 1)) == pytest.approx(1.0)
    np.testing.assert_allclose(list(interactions.values()), 0.0, atol=1e-6)
    assert result["mean_absolute_interaction"] == pytest.approx(1 / 6)


def test_interaction_with_compiled_loss():
    # Target 3: the loss is 0 intact, 1 with unit 0, 1 or both gone.
    model = _and_pair_model()
    model.compile(loss="mse")
    x = np.ones((5, 4), "float32")
    y = np.full((5, 1), 3.0, "float32")
    result = ablation.ablation_interaction(model, "dropout", x, y, num_pairs=6)
    interactions = dict(
        zip(map(tuple, result["pairs"].tolist()), result["interactions"])
    )
    assert interactions[(0, 1)] == pytest.approx(-1.0)
    assert interactions[(2, 3)] == pytest.approx(2.0)  # (0 - 3)^2 - 1 - 1 - 0


def test_interaction_samples_the_requested_number_of_pairs():
    model = _sum_model(12)
    result = ablation.ablation_interaction(
        model,
        "dropout",
        np.ones((2, 12)),
        None,
        num_pairs=7,
        metric=_mean_output,
        seed=1,
    )
    pairs = result["pairs"]
    assert pairs.shape == (7, 2)
    assert np.all(pairs[:, 0] < pairs[:, 1])
    assert len({tuple(pair) for pair in pairs.tolist()}) == 7
    # A sum has no interactions.
    np.testing.assert_allclose(result["interactions"], 0.0, atol=1e-5)


def test_interaction_needs_two_units():
    with pytest.raises(ValueError, match="at least 2"):
        ablation.ablation_interaction(
            _sum_model(1),
            "dropout",
            np.ones((2, 1)),
            None,
            metric=_mean_output,
        )


def test_skip_connection_around_the_layer_raises():
    inputs = keras.Input((4,))
    dropped = keras.layers.Dropout(0.5, name="dropout")(inputs)
    outputs = keras.layers.Add()([dropped, inputs])
    model = keras.Model(inputs, outputs)
    with pytest.raises(ValueError, match="skip connection"):
        ablation.ablation_curve(
            model, "dropout", np.ones((2, 4)), None, metric=_mean_output
        )
