"""The streaming Keras metrics equal the array functions, however the rows
are split into batches, in `evaluate` too, and save and load."""

import os

import keras
import numpy as np
import pytest

import kerasdrop
from kerasdrop import analysis
from kerasdrop import metrics

ROWS, CLASSES = 257, 5

PAIRS = [
    (metrics.NegativeLogLikelihood, analysis.negative_log_likelihood, {}),
    (metrics.BrierScore, analysis.brier_score, {}),
    (
        metrics.ExpectedCalibrationError,
        analysis.expected_calibration_error,
        {"num_bins": 10},
    ),
    (
        metrics.MaximumCalibrationError,
        analysis.maximum_calibration_error,
        {"num_bins": 10},
    ),
    (
        metrics.AdaptiveCalibrationError,
        analysis.adaptive_calibration_error,
        {"num_bins": 10, "max_rows": 300},
    ),
    (
        metrics.AreaUnderRiskCoverage,
        analysis.area_under_risk_coverage,
        {"max_rows": 300},
    ),
]
IDS = [metric.__name__ for metric, _, _ in PAIRS]
# The metrics that keep sums, and so take sample weights.
SUMMED = [pair for pair in PAIRS if "max_rows" not in pair[2]]
BUFFERED = [pair for pair in PAIRS if "max_rows" in pair[2]]


def _data(seed=0):
    rng = np.random.default_rng(seed)
    logits = (2.0 * rng.standard_normal((ROWS, CLASSES))).astype("float32")
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits))
    labels = rng.integers(0, CLASSES, ROWS)
    return logits, probabilities, labels


def _tolerance(value):
    # Float32 sums of ROWS terms, each at most about 2 (Brier) or a few
    # nats: a relative error of at most ROWS float32 epsilons.
    return ROWS * float(np.finfo("float32").eps) * max(1.0, abs(value))


def _streamed(metric, y_true, y_pred, batch, weights=None):
    for start in range(0, len(y_true), batch):
        part = slice(start, start + batch)
        metric.update_state(
            y_true[part],
            y_pred[part],
            None if weights is None else weights[part],
        )
    return float(metric.result())


@pytest.mark.parametrize("metric_class, function, kwargs", PAIRS, ids=IDS)
# Batches of 50 leave a last batch of 7 rows.
@pytest.mark.parametrize("batch", [50, ROWS])
def test_streamed_equals_the_array_function(
    metric_class, function, kwargs, batch
):
    _, probabilities, labels = _data()
    expected = function(probabilities, labels, **_function_kwargs(kwargs))
    result = _streamed(metric_class(**kwargs), labels, probabilities, batch)
    assert result == pytest.approx(expected, abs=_tolerance(expected))


@pytest.mark.parametrize("metric_class, function, kwargs", PAIRS, ids=IDS)
def test_one_hot_sigmoid_and_logits_forms(metric_class, function, kwargs):
    logits, probabilities, labels = _data()
    expected = function(probabilities, labels, **_function_kwargs(kwargs))
    one_hot = np.eye(CLASSES, dtype="float32")[labels]
    tolerance = _tolerance(expected)
    assert _streamed(
        metric_class(**kwargs), one_hot, probabilities, 128
    ) == pytest.approx(expected, abs=tolerance)
    # Logits: the softmax is taken inside, in float32.
    assert _streamed(
        metric_class(from_logits=True, **kwargs), labels, logits, 128
    ) == pytest.approx(expected, abs=10 * tolerance)
    # A single sigmoid column is two classes.
    positive = probabilities[:, :1]
    two = np.concatenate([1 - positive, positive], axis=-1)
    binary = labels % 2
    assert _streamed(
        metric_class(**kwargs), binary[:, None], positive, 128
    ) == pytest.approx(
        function(two, binary, **_function_kwargs(kwargs)), abs=tolerance
    )


@pytest.mark.parametrize(
    "metric_class, function, kwargs",
    SUMMED,
    ids=[metric.__name__ for metric, _, _ in SUMMED],
)
def test_integer_sample_weights_count_rows_that_many_times(
    metric_class, function, kwargs
):
    _, probabilities, labels = _data()
    weights = np.random.default_rng(1).integers(0, 4, ROWS)
    repeated = np.repeat(np.arange(ROWS), weights)
    expected = function(probabilities[repeated], labels[repeated], **kwargs)
    result = _streamed(
        metric_class(**kwargs), labels, probabilities, 50, weights
    )
    assert result == pytest.approx(expected, abs=4 * _tolerance(expected))


@pytest.mark.parametrize("metric_class, function, kwargs", PAIRS, ids=IDS)
def test_reset_state_forgets_the_rows(metric_class, function, kwargs):
    _, probabilities, labels = _data()
    metric = metric_class(**kwargs)
    metric.update_state(labels[:100], probabilities[:100])
    metric.reset_state()
    result = _streamed(metric, labels[100:], probabilities[100:], 64)
    expected = function(
        probabilities[100:], labels[100:], **_function_kwargs(kwargs)
    )
    assert result == pytest.approx(expected, abs=_tolerance(expected))


def _function_kwargs(kwargs):
    return {k: v for k, v in kwargs.items() if k != "max_rows"}


BUFFERED_IDS = [metric.__name__ for metric, _, _ in BUFFERED]


@pytest.mark.parametrize(
    "metric_class, function, kwargs", BUFFERED, ids=BUFFERED_IDS
)
def test_buffered_metrics_handle_ties(metric_class, function, kwargs):
    # Probabilities on a grid of tenths: few distinct confidences.
    rng = np.random.default_rng(4)
    positive = rng.integers(1, 10, ROWS) / 10.0
    probabilities = np.stack([1 - positive, positive], -1).astype("float32")
    labels = rng.integers(0, 2, ROWS)
    expected = function(probabilities, labels, **_function_kwargs(kwargs))
    result = _streamed(metric_class(**kwargs), labels, probabilities, 64)
    assert result == pytest.approx(expected, abs=_tolerance(expected))


@pytest.mark.parametrize(
    "metric_class, function, kwargs", BUFFERED, ids=BUFFERED_IDS
)
def test_buffered_metrics_are_nan_past_max_rows_or_without_rows(
    metric_class, function, kwargs
):
    _, probabilities, labels = _data()
    metric = metric_class(**{**kwargs, "max_rows": 100})
    assert np.isnan(float(metric.result()))
    metric.update_state(labels[:100], probabilities[:100])
    assert not np.isnan(float(metric.result()))
    metric.update_state(labels[100:101], probabilities[100:101])
    assert np.isnan(float(metric.result()))
    metric.reset_state()
    metric.update_state(labels[:50], probabilities[:50])
    assert float(metric.result()) == pytest.approx(
        function(probabilities[:50], labels[:50], **_function_kwargs(kwargs)),
        abs=_tolerance(1.0),
    )


@pytest.mark.parametrize(
    "metric_class, function, kwargs", BUFFERED, ids=BUFFERED_IDS
)
def test_buffered_metrics_refuse_sample_weights(metric_class, function, kwargs):
    _, probabilities, labels = _data()
    with pytest.raises(ValueError, match="sample_weight"):
        metric_class(**kwargs).update_state(
            labels, probabilities, np.ones(ROWS)
        )


def test_invalid_max_rows_raises():
    with pytest.raises(ValueError, match="max_rows"):
        kerasdrop.metrics.AreaUnderRiskCoverage(max_rows=0)


@pytest.fixture(scope="module")
def compiled_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(CLASSES, activation="softmax"),
        ]
    )
    model.compile(
        loss="sparse_categorical_crossentropy",
        metrics=[metric(**kwargs) for metric, _, kwargs in PAIRS],
    )
    return model


def test_evaluate_reports_the_array_functions(compiled_model):
    x = np.random.default_rng(2).standard_normal((ROWS, 3)).astype("float32")
    _, _, labels = _data()
    results = compiled_model.evaluate(
        x, labels, batch_size=32, verbose=0, return_dict=True
    )
    probabilities = compiled_model.predict(x, batch_size=ROWS, verbose=0)
    for metric_class, function, kwargs in PAIRS:
        name = metric_class(**kwargs).name
        expected = function(probabilities, labels, **_function_kwargs(kwargs))
        assert results[name] == pytest.approx(
            expected, abs=_tolerance(expected)
        ), name


def test_a_saved_model_loads_with_its_metrics(compiled_model, tmp_path):
    path = os.path.join(tmp_path, "model.keras")
    compiled_model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(3).standard_normal((40, 3)).astype("float32")
    labels = np.random.default_rng(3).integers(0, CLASSES, 40)
    assert loaded.evaluate(
        x, labels, verbose=0, return_dict=True
    ) == pytest.approx(
        compiled_model.evaluate(x, labels, verbose=0, return_dict=True)
    )


@pytest.mark.parametrize("metric_class, function, kwargs", PAIRS, ids=IDS)
def test_config_round_trips(metric_class, function, kwargs):
    metric = metric_class(from_logits=True, name="mine", **kwargs)
    config = keras.metrics.serialize(metric)
    assert config["registered_name"] == f"kerasdrop>{metric_class.__name__}"
    restored = keras.metrics.deserialize(config)
    assert type(restored) is metric_class
    assert restored.get_config() == metric.get_config()


@pytest.mark.parametrize("num_bins", [0, 2.5, True])
def test_invalid_num_bins_raises(num_bins):
    with pytest.raises(ValueError, match="num_bins"):
        kerasdrop.metrics.ExpectedCalibrationError(num_bins=num_bins)


def test_invalid_from_logits_raises():
    with pytest.raises(ValueError, match="from_logits"):
        kerasdrop.metrics.BrierScore(from_logits="yes")


def test_predictions_of_rank_three_raise():
    with pytest.raises(ValueError, match="\\(batch, classes\\)"):
        kerasdrop.metrics.BrierScore().update_state(
            np.zeros((2, 3)), np.full((2, 3, 2), 0.5)
        )
