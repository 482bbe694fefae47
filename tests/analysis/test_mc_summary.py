"""`mc_predict(..., summary=...)`: the uncertainty measures computed while
sampling equal the functions applied to the samples themselves."""

import keras
import numpy as np
import pytest

import kerasdrop
from kerasdrop.analysis import expected_entropy
from kerasdrop.analysis import mc_predict
from kerasdrop.analysis import mutual_information
from kerasdrop.analysis import predictive_entropy
from kerasdrop.analysis import variation_ratio

ROWS, FEATURES = 7, 6
MEASURES = {
    "predictive_entropy": predictive_entropy,
    "expected_entropy": expected_entropy,
    "mutual_information": mutual_information,
    "variation_ratio": variation_ratio,
}


def _model(units, activation):
    inputs = keras.Input((FEATURES,))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    hidden = kerasdrop.ScheduledDropout(0.5, seed=1)(hidden)
    outputs = keras.layers.Dense(units, activation=activation)(hidden)
    return keras.Model(inputs, outputs)


def _x():
    rng = np.random.default_rng(0)
    return rng.standard_normal((ROWS, FEATURES)).astype("float32")


@pytest.fixture(scope="module")
def softmax_model():
    keras.utils.set_random_seed(0)
    return _model(4, "softmax")


@pytest.mark.parametrize("combine", ["mean", "geometric"])
# 5 rows per call: batches straddle the samples (7 rows each).
@pytest.mark.parametrize("batch_size", [5, None])
def test_classification_summary_equals_the_functions_of_the_samples(
    softmax_model, combine, batch_size
):
    result = mc_predict(
        softmax_model,
        _x(),
        num_samples=6,
        combine=combine,
        batch_size=batch_size,
        return_samples=True,
        summary="classification",
    )
    samples = result["samples"]
    for name, function in MEASURES.items():
        assert result[name].shape == (ROWS,)
        # float64 sums of 6 float32 entropies.
        np.testing.assert_allclose(
            result[name], function(samples), atol=1e-12, err_msg=name
        )
    assert result["mutual_information"].max() > 0  # The samples differ.


def test_summary_keeps_no_samples(softmax_model):
    result = mc_predict(
        softmax_model, _x(), num_samples=4, summary="classification"
    )
    assert "samples" not in result
    assert set(result) == {"mean", "std", *MEASURES}


def test_a_sigmoid_output_is_summarized_as_two_classes():
    keras.utils.set_random_seed(0)
    model = _model(1, "sigmoid")
    result = mc_predict(
        model,
        _x(),
        num_samples=5,
        batch_size=4,
        return_samples=True,
        summary="classification",
    )
    for name, function in MEASURES.items():
        np.testing.assert_allclose(
            result[name], function(result["samples"]), atol=1e-12
        )


def test_regression_summary_gives_the_variance_of_the_samples():
    keras.utils.set_random_seed(0)
    model = _model(2, None)
    result = mc_predict(
        model,
        _x(),
        num_samples=6,
        batch_size=5,
        return_samples=True,
        summary="regression",
    )
    samples = result["samples"].astype("float64")
    # Chan et al.'s merge in float64 of float32 outputs of order 1.
    np.testing.assert_allclose(
        result["variance"], samples.var(axis=0), rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(
        result["std"] ** 2, result["variance"], rtol=1e-6
    )
    assert set(result) == {"mean", "std", "variance", "samples"}


def test_classification_summary_of_other_outputs_raises():
    keras.utils.set_random_seed(0)
    model = _model(2, None)
    with pytest.raises(ValueError, match='summary="regression"'):
        mc_predict(model, _x(), num_samples=3, summary="classification")


def test_a_model_with_several_outputs_raises_saying_what_to_do():
    inputs = keras.Input((FEATURES,))
    hidden = kerasdrop.ScheduledDropout(0.5)(inputs)
    model = keras.Model(
        inputs,
        [
            keras.layers.Dense(3, activation="softmax")(hidden),
            keras.layers.Dense(1)(hidden),
        ],
    )
    with pytest.raises(ValueError, match="2 outputs.*model.outputs\\[i\\]"):
        mc_predict(model, _x(), num_samples=2)


def test_invalid_summary_raises(softmax_model):
    with pytest.raises(ValueError, match="summary"):
        mc_predict(softmax_model, _x(), num_samples=2, summary="both")


def test_variation_ratio_counts_votes():
    samples = np.array(
        [[[0.9, 0.1, 0.0]], [[0.2, 0.7, 0.1]], [[0.1, 0.6, 0.3]],
         [[0.3, 0.3, 0.4]]]
    )  # fmt: skip
    # Votes: class 0 once, class 1 twice, class 2 once.
    np.testing.assert_allclose(variation_ratio(samples), [0.5])
    np.testing.assert_allclose(variation_ratio(samples[:1]), [0.0])


def test_sequence_outputs_are_summarized_per_position():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3, FEATURES))
    hidden = kerasdrop.ScheduledDropout(0.5, seed=1)(inputs)
    outputs = keras.layers.Dense(4, activation="softmax")(hidden)
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).standard_normal((ROWS, 3, FEATURES))
    result = mc_predict(
        model,
        x.astype("float32"),
        num_samples=6,
        batch_size=5,
        return_samples=True,
        summary="classification",
    )
    for name, function in MEASURES.items():
        assert result[name].shape == (ROWS, 3)
        np.testing.assert_allclose(
            result[name], function(result["samples"]), atol=1e-12
        )
