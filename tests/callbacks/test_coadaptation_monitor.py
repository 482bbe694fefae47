import csv
import math
import os
import re

import keras
import numpy as np
import pytest

import kerasdrop
from kerasdrop.analysis import ablation
from kerasdrop.analysis import coadaptation
from kerasdrop.callbacks import CoAdaptationMonitor
from kerasdrop.layers.rates import recording
from kerasdrop.models.walk import rate_holders
from tests.applications import not_on_jax
from tests.warning_checks import no_warnings


def _model():
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    hidden = kerasdrop.ScheduledDropout(0.3, seed=0, name="dropout")(hidden)
    hidden = keras.layers.Dense(5, activation="relu", name="second")(hidden)
    hidden = keras.layers.Dropout(0.2, seed=0, name="keras_dropout")(hidden)
    outputs = keras.layers.Dense(3, activation="softmax", name="out")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def _data(rows=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, 6)).astype("float32")
    return x, rng.integers(0, 3, rows)


def test_measures_appear_in_history_under_documented_keys():
    model = _model()
    x, y = _data()
    monitor = CoAdaptationMonitor(x[:20])
    history = model.fit(x, y, epochs=3, callbacks=[monitor], verbose=0)
    expected = {
        f"coadaptation/{layer}/{measure}"
        for layer in ("dropout", "keras_dropout")
        for measure in (
            "correlation",
            "decov",
            "participation_ratio",
            "sparsity",
        )
    }
    logged = {key for key in history.history if key.startswith("coad")}
    assert logged == expected
    for key in expected:
        assert len(history.history[key]) == 3
        assert all(math.isfinite(value) for value in history.history[key])
    # The last values are the measures of the trained model on the probe,
    # read at the inputs of the dropout layers.
    activations = keras.Model(model.input, model.get_layer("second").output)(
        x[:20]
    )
    summary = coadaptation.summarize(activations)
    for measure, value in summary.items():
        key = f"coadaptation/keras_dropout/{measure}"
        assert history.history[key][-1] == pytest.approx(value, rel=1e-5)
    assert monitor.history["epoch"] == [0, 1, 2]


def test_every_measures_every_nth_epoch_and_logs_nan_between():
    model = _model()
    x, y = _data()
    monitor = CoAdaptationMonitor(x, layers=["dropout"], every=2)
    history = model.fit(x, y, epochs=4, callbacks=[monitor], verbose=0)
    values = history.history["coadaptation/dropout/correlation"]
    assert len(values) == 4
    assert math.isnan(values[0]) and math.isnan(values[2])
    assert math.isfinite(values[1]) and math.isfinite(values[3])
    assert monitor.history["epoch"] == [1, 3]
    assert len(monitor.history["coadaptation/dropout/correlation"]) == 2


def test_named_layers_are_read_at_their_outputs():
    model = _model()
    x, y = _data()
    monitor = CoAdaptationMonitor(
        x, layers=["hidden", "out"], measures=["sparsity"]
    )
    model.fit(x, y, epochs=1, callbacks=[monitor], verbose=0)
    values = monitor.measure()
    outputs = keras.ops.convert_to_numpy(model(x))
    # A softmax output is never zero; the ReLU layer's zeros are counted.
    assert values["coadaptation/out/sparsity"] == 0.0
    hidden = keras.Model(model.input, model.get_layer("hidden").output)(x)
    assert values["coadaptation/hidden/sparsity"] == pytest.approx(
        coadaptation.sparsity(hidden)
    )
    assert outputs.shape == (40, 3)


def test_csv_logger_records_the_measures(tmp_path):
    model = _model()
    x, y = _data()
    path = os.path.join(tmp_path, "log.csv")
    callbacks = [
        CoAdaptationMonitor(x, layers="dropout", measures="decov"),
        keras.callbacks.CSVLogger(path),
    ]
    model.fit(x, y, epochs=2, callbacks=callbacks, verbose=0)
    with open(path) as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 2
    assert float(rows[-1]["coadaptation/dropout/decov"]) >= 0.0


def test_keys_are_valid_summary_names():
    # TensorFlow summary names allow letters, digits and "_.-/".
    model = _model()
    x, y = _data()
    history = model.fit(
        x, y, epochs=1, callbacks=[CoAdaptationMonitor(x)], verbose=0
    )
    keys = [key for key in history.history if key.startswith("coad")]
    assert len(keys) == 8
    for key in keys:
        assert re.fullmatch(r"[A-Za-z0-9_.\-/]+", key)


def test_tensorboard_records_the_keys(tmp_path):
    pytest.importorskip("tensorboard")
    tf = pytest.importorskip("tensorflow")
    model = _model()
    x, y = _data()
    callbacks = [
        CoAdaptationMonitor(x, layers="dropout", measures="correlation"),
        keras.callbacks.TensorBoard(log_dir=str(tmp_path)),
    ]
    model.fit(x, y, epochs=1, callbacks=callbacks, verbose=0)
    tags = set()
    for root, _, files in os.walk(tmp_path):
        for name in files:
            if "tfevents" in name:
                for event in tf.compat.v1.train.summary_iterator(
                    os.path.join(root, name)
                ):
                    tags.update(value.tag for value in event.summary.value)
    assert "epoch_coadaptation/dropout/correlation" in tags


def test_ablation_measures_are_opt_in_and_need_targets():
    x, y = _data()
    with pytest.raises(ValueError, match="need probe targets"):
        CoAdaptationMonitor(x, measures=["ablation_area"])
    model = _model()
    monitor = CoAdaptationMonitor(
        x, y, layers="dropout", measures=["ablation_area", "interaction"]
    )
    history = model.fit(x, y, epochs=1, callbacks=[monitor], verbose=0)
    area = history.history["coadaptation/dropout/ablation_area"][0]
    interaction = history.history["coadaptation/dropout/interaction"][0]
    curve = ablation.ablation_curve(model, "dropout", x, y, seed=0)
    assert area == pytest.approx(curve["area"])
    assert 0.0 <= area <= 1.0
    assert interaction >= 0.0


def test_probe_keeps_at_most_max_samples_rows():
    x, y = _data(rows=100)
    monitor = CoAdaptationMonitor(x, y, max_samples=30, seed=1)
    assert monitor.x.shape == (30, 6) and monitor.y.shape == (30,)
    rows = [np.flatnonzero((x == row).all(axis=1))[0] for row in monitor.x]
    np.testing.assert_array_equal(monitor.y, y[rows])
    assert CoAdaptationMonitor(x, max_samples=None).x.shape == (100, 6)


def test_model_without_dropout_raises_at_train_begin():
    inputs = keras.Input((6,))
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    x, _ = _data()
    with pytest.raises(ValueError, match="found no dropout layer"):
        model.fit(
            x, np.zeros((40, 3)), callbacks=[CoAdaptationMonitor(x)], verbose=0
        )


def test_diverged_activations_log_nan():
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(4, name="linear")(inputs)
    hidden = kerasdrop.ScheduledDropout(0.3, name="dropout")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(3)(hidden))
    model.compile(optimizer="sgd", loss="mse")
    x, _ = _data()
    monitor = CoAdaptationMonitor(x)
    model.fit(x, np.zeros((40, 3)), epochs=1, callbacks=[monitor], verbose=0)
    linear = model.get_layer("linear")
    kernel, bias = linear.get_weights()
    linear.set_weights([kernel, bias + np.nan])
    values = monitor.measure()
    assert len(values) == 4
    assert all(math.isnan(value) for value in values.values())


def test_plot_is_saved_at_the_end_of_training(tmp_path):
    pytest.importorskip("matplotlib")
    model = _model()
    x, y = _data()
    path = os.path.join(tmp_path, "measures.png")
    monitor = CoAdaptationMonitor(x, plot_path=path)
    model.fit(x, y, epochs=2, callbacks=[monitor], verbose=0)
    assert os.path.getsize(path) > 1000


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"measures": ["corr"]}, "measures"),
        ({"every": 0}, "every"),
        ({"max_samples": -1}, "max_samples"),
    ],
)
def test_invalid_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CoAdaptationMonitor(np.ones((4, 6)), **kwargs)


def test_effective_rank_with_fewer_probe_rows_than_units():
    # 6 rows of 8 units: the spectrum comes from the 6 x 6 Gram matrix.
    model = _model()
    x, y = _data()
    monitor = CoAdaptationMonitor(
        x[:6], layers="dropout", measures=["effective_rank", "correlation"]
    )
    history = model.fit(x, y, epochs=1, callbacks=[monitor], verbose=0)
    hidden = keras.Model(model.input, model.get_layer("hidden").output)(x[:6])
    expected = coadaptation.summarize(hidden, ["effective_rank"])
    assert history.history["coadaptation/dropout/effective_rank"][0] == (
        pytest.approx(expected["effective_rank"], rel=1e-4)
    )


def _activations(model, layer_name, x):
    return keras.Model(model.input, model.get_layer(layer_name).output)(x)


class _CheckEachEpoch(keras.callbacks.Callback):
    """After the monitor, compares its logs with the measures recomputed
    from the model's activations at that epoch's weights."""

    def __init__(self, x):
        super().__init__()
        self.x = x
        self.expected, self.logged = [], []

    def on_epoch_end(self, epoch, logs=None):
        # `self.model` brings the trainer's state back on JAX.
        hidden = _activations(self.model, "hidden", self.x)
        self.expected.append(coadaptation.summarize(hidden))
        self.logged.append(
            {
                name: logs[f"coadaptation/dropout/{name}"]
                for name in coadaptation.DEFAULT_MEASURES
            }
        )


def test_each_measurement_reads_the_weights_of_its_epoch():
    model = _model()
    x, y = _data()
    check = _CheckEachEpoch(x[:20])
    monitor = CoAdaptationMonitor(x[:20], layers="dropout")
    model.fit(x, y, epochs=3, callbacks=[monitor, check], verbose=0)
    correlations = [logged["correlation"] for logged in check.logged]
    # Training changes the weights, and the measures follow them.
    assert len(set(correlations)) == 3
    for logged, expected in zip(check.logged, check.expected):
        for name, value in expected.items():
            assert logged[name] == pytest.approx(value, rel=1e-5, abs=1e-7)


class _MeasureAtBatchEnd(keras.callbacks.Callback):
    def __init__(self, monitor, x):
        super().__init__()
        self.monitor, self.x = monitor, x
        self.pairs = []

    def on_train_batch_end(self, batch, logs=None):
        # Measured first: on JAX the trainer's state is not yet written
        # back to the variables.
        values = self.monitor.measure()
        hidden = _activations(self.model, "hidden", self.x)
        self.pairs.append((values, coadaptation.summarize(hidden)))


def test_measure_between_batches_reads_the_latest_weights():
    model = _model()
    x, y = _data()
    monitor = CoAdaptationMonitor(x[:20], layers="dropout")
    check = _MeasureAtBatchEnd(monitor, x[:20])
    model.fit(
        x, y, batch_size=10, epochs=1, callbacks=[monitor, check], verbose=0
    )
    assert len(check.pairs) == 4
    for values, expected in check.pairs:
        for name, value in expected.items():
            assert values[f"coadaptation/dropout/{name}"] == pytest.approx(
                value, rel=1e-5, abs=1e-7
            )


def test_measure_follows_weights_set_after_training():
    model = _model()
    x, y = _data()
    monitor = CoAdaptationMonitor(x, layers=["dropout", "keras_dropout"])
    model.fit(x, y, epochs=1, callbacks=[monitor], verbose=0)
    before = monitor.measure()
    hidden = model.get_layer("hidden")
    kernel, bias = hidden.get_weights()
    rng = np.random.default_rng(1)
    hidden.set_weights([rng.standard_normal(kernel.shape), bias])
    after = monitor.measure()
    assert after != before
    for layer, source in (("dropout", "hidden"), ("keras_dropout", "second")):
        expected = coadaptation.summarize(_activations(model, source, x))
        for name, value in expected.items():
            assert after[f"coadaptation/{layer}/{name}"] == pytest.approx(
                value, rel=1e-5, abs=1e-7
            )


def test_compiled_measures_match_summarize_with_fewer_rows_than_units():
    model = _model()
    x, _ = _data(rows=7)
    measures = list(coadaptation.ACTIVATION_MEASURES)
    monitor = CoAdaptationMonitor(x, layers="dropout", measures=measures)
    monitor.set_model(model)
    monitor.on_train_begin()
    values = monitor.measure()
    # 7 rows of 8 units: the spectrum comes from the 7 x 7 Gram matrix.
    hidden = keras.ops.convert_to_numpy(_activations(model, "hidden", x))
    expected = coadaptation.summarize(hidden, measures)
    assert len(values) == len(measures)
    for name, value in expected.items():
        assert values[f"coadaptation/dropout/{name}"] == pytest.approx(
            value, rel=1e-5, abs=1e-7
        )


@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
@pytest.mark.parametrize(
    "measures", [coadaptation.DEFAULT_MEASURES, ["effective_rank", "sparsity"]]
)
def test_non_finite_activations_log_nan(bad_value, measures):
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(4, name="linear")(inputs)
    hidden = kerasdrop.ScheduledDropout(0.3, name="dropout")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(3)(hidden))
    x, _ = _data()
    monitor = CoAdaptationMonitor(x, measures=measures)
    monitor.set_model(model)
    monitor.on_train_begin()
    assert all(math.isfinite(value) for value in monitor.measure().values())
    linear = model.get_layer("linear")
    kernel, bias = linear.get_weights()
    # Every unit's activations become infinite, or NaN.
    linear.set_weights([kernel, bias + bad_value])
    values = monitor.measure()
    assert len(values) == len(measures)
    assert all(math.isnan(value) for value in values.values())


def test_new_monitor_on_the_same_model_reuses_the_compiled_function():
    model = _model()
    x, y = _data()
    first = CoAdaptationMonitor(x[:20])
    model.fit(x, y, epochs=1, callbacks=[first], verbose=0)
    second = CoAdaptationMonitor(x[20:])  # Same shape, other rows.
    history = model.fit(x, y, epochs=1, callbacks=[second], verbose=0)
    assert second._run is first._run
    activations = _activations(model, "second", x[20:])
    expected = coadaptation.summarize(activations)["correlation"]
    logged = history.history["coadaptation/keras_dropout/correlation"][-1]
    assert logged == pytest.approx(expected, rel=1e-5)
    # Another probe shape, or other measures, compile their own.
    third = CoAdaptationMonitor(x[:10])
    fourth = CoAdaptationMonitor(x[:20], measures=["sparsity"])
    for monitor in (third, fourth):
        monitor.set_model(model)
        monitor.on_train_begin()
        assert monitor._run is not first._run


def test_compiled_functions_go_with_their_model():
    import gc
    import weakref

    from kerasdrop.analysis import probes

    model = _model()
    x, y = _data()
    monitor = CoAdaptationMonitor(x)
    model.fit(x, y, epochs=1, callbacks=[monitor], verbose=0)
    assert model in probes._COMPILED
    reference = weakref.ref(model)
    del model, monitor
    gc.collect()
    # The cached function does not keep the model alive.
    assert reference() is None


def test_float64_probe_gives_the_values_of_float32():
    model = _model()
    x, y = _data()
    model.fit(x, y, epochs=1, verbose=0)
    values = []
    for dtype in ("float32", "float64"):
        monitor = CoAdaptationMonitor(x.astype(dtype))
        monitor.set_model(model)
        monitor.on_train_begin()
        values.append(monitor.measure())
    assert values[0] == values[1]


def test_mixed_precision_model_is_measured_in_float32():
    # Small integer inputs and a frozen integer kernel make the float16
    # activations exact (every partial sum is an integer below 2**11), so
    # they are the same whichever float16 kernel the CPU runs (oneDNN's
    # AVX512-FP16/AMX kernels or Eigen's) and the float32 statistics of
    # them are fixed up to float32 round-off.
    keras.config.set_dtype_policy("mixed_float16")
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 4, (40, 6)).astype("float32")
    y = rng.integers(0, 3, 40)
    kernel = rng.integers(-1, 2, (6, 8)).astype("float32")
    model = _model()
    hidden_layer = model.get_layer("hidden")
    hidden_layer.set_weights([kernel, np.zeros(8, "float32")])
    hidden_layer.trainable = False
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    monitor = CoAdaptationMonitor(x, layers="dropout")
    model.fit(x, y, epochs=1, callbacks=[monitor], verbose=0)
    hidden = _activations(model, "hidden", x)
    assert keras.backend.standardize_dtype(hidden.dtype) == "float16"
    exact = np.maximum(x @ kernel, 0.0)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(keras.ops.cast(hidden, "float32")), exact
    )
    expected = coadaptation.summarize(exact)
    values = monitor.measure()
    for name, value in expected.items():
        assert values[f"coadaptation/dropout/{name}"] == pytest.approx(
            value, rel=1e-5, abs=1e-6
        )


def test_max_samples_below_two_is_rejected():
    # One row gives no covariance: the measures would log 0.0.
    with pytest.raises(ValueError, match="max_samples"):
        CoAdaptationMonitor(np.ones((40, 6)), max_samples=1)


def _measured(monitor):
    """The measures of one epoch of `_model()`, the same each time."""
    keras.utils.set_random_seed(0)
    model = _model()
    x, y = _data()
    history = model.fit(
        x, y, epochs=1, callbacks=[monitor], shuffle=False, verbose=0
    )
    return {
        key: value[0]
        for key, value in history.history.items()
        if key.startswith("coadaptation/")
    }


def _tf_dataset(x, y=None, batch_size=8):
    tf = pytest.importorskip("tensorflow")
    data = x if y is None else (x, y)
    return tf.data.Dataset.from_tensor_slices(data).batch(batch_size)


@pytest.mark.parametrize(
    "make_probe",
    [
        lambda x, y: (x, y),
        lambda x, y: (x, y, np.ones(len(x))),
        lambda x, y: _tf_dataset(x, y),
        lambda x, y: _tf_dataset(x),
        lambda x, y: _tf_dataset(x, y).repeat(),
        lambda x, y: x.tolist(),
        lambda x, y: [x],
    ],
    ids=[
        "xy_tuple",
        "xyw_tuple",
        "dataset_xy",
        "dataset_x",
        "infinite_dataset",
        "nested_list",
        "list_of_one_input",
    ],
)
def test_probe_accepts_the_data_forms_of_fit(make_probe):
    x, y = _data(rows=24)
    expected = _measured(CoAdaptationMonitor(x))
    monitor = CoAdaptationMonitor(make_probe(x, y), max_samples=24)
    np.testing.assert_allclose(np.asarray(monitor.x), x)
    assert _measured(monitor) == pytest.approx(expected, rel=1e-5)


def test_dataset_probe_takes_the_first_max_samples_rows_and_targets():
    x, y = _data(rows=40)
    monitor = CoAdaptationMonitor(
        _tf_dataset(x, y), max_samples=20, measures=["ablation_area"]
    )
    np.testing.assert_array_equal(monitor.x, x[:20])
    np.testing.assert_array_equal(monitor.y, y[:20])
    assert 0.0 <= _measured(monitor)["coadaptation/dropout/ablation_area"]


def test_keras_py_dataset_probe():
    x, y = _data(rows=24)

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, index):
            rows = slice(8 * index, 8 * index + 8)
            return x[rows], y[rows]

    monitor = CoAdaptationMonitor(Batches(), measures=["ablation_area"])
    np.testing.assert_array_equal(monitor.x, x)
    np.testing.assert_array_equal(monitor.y, y)


@pytest.mark.parametrize(
    "probe, error, match",
    [
        (lambda x: x[:, :5], ValueError, r"`x` .* \(24, 5\).* \(None, 6\)"),
        (lambda x: [x, x], ValueError, "2 arrays .* 1 input"),
        (lambda x: x[:, :, None], ValueError, r"`x` .* \(24, 6, 1\)"),
    ],
    ids=["wrong_width", "too_many_inputs", "wrong_rank"],
)
def test_probe_that_does_not_fit_the_model_names_the_monitor_and_x(
    probe, error, match
):
    x, _ = _data(rows=24)
    with pytest.raises(error, match=f"CoAdaptationMonitor.*{match}"):
        _measured(CoAdaptationMonitor(probe(x)))


@pytest.mark.parametrize(
    "probe, kwargs, error, match",
    [
        (lambda x: iter([x]), {}, TypeError, "generator or iterator"),
        (lambda x: "probe.npy", {}, TypeError, "str"),
        (lambda x: {"a": x, "b": x[:3]}, {}, ValueError, "rows"),
        (lambda x: x[:1], {}, ValueError, "at least 2 rows"),
        (
            lambda x: _tf_dataset(x).repeat(),
            {"max_samples": None},
            ValueError,
            "endless",
        ),
        (lambda x: _tf_dataset(x), {"y": np.ones(24)}, ValueError, "`y`"),
    ],
    ids=[
        "iterator",
        "string",
        "ragged_rows",
        "one_row",
        "endless_dataset",
        "dataset_and_y",
    ],
)
def test_unusable_probes_are_rejected_clearly(probe, kwargs, error, match):
    x, _ = _data(rows=24)
    with pytest.raises(error, match=f"CoAdaptationMonitor.*{match}"):
        CoAdaptationMonitor(probe(x), **kwargs)


def test_default_selection_warns_about_nested_keras_dropout():
    inner = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, name="inner_dense"),
            keras.layers.Dropout(0.3, name="inner_dropout"),
        ],
        name="backbone",
    )
    inputs = keras.Input((4,))
    x = keras.layers.Dropout(0.1, name="top_dropout")(inner(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    model.compile(optimizer="sgd", loss="mse")
    data = np.random.default_rng(0).random((8, 4)).astype("float32")
    monitor = CoAdaptationMonitor(data)
    with pytest.warns(UserWarning, match="not watched") as record:
        model.fit(data, np.ones((8, 1)), epochs=1, callbacks=[monitor],
                  verbose=0)  # fmt: skip
    message = str(record[0].message)
    assert "backbone/inner_dropout (Dropout, rate=0.3)" in message
    assert "top_dropout" not in message


def _measures_of(monitor, model):
    """The monitor's measures of `model`, without training."""
    monitor.set_model(model)
    monitor.on_train_begin()
    return monitor.measure()


def test_nested_keras_dropout_warning_names_make_schedulable():
    inner = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dropout(0.3, name="inner_dropout")],
        name="backbone",
    )
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inner(inputs)))
    data = np.random.default_rng(0).random((8, 4)).astype("float32")
    with pytest.warns(UserWarning, match=r"kerasdrop\.make_schedulable"):
        with pytest.raises(ValueError, match="found no dropout layer"):
            _measures_of(CoAdaptationMonitor(data), model)


def test_plain_keras_dropout_is_watched_without_a_warning():
    # What the transfer guide says: nothing to warn about when the Keras
    # dropout is in the model's graph.
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8, name="hidden")(inputs)
    hidden = keras.layers.Dropout(0.5, name="dropout")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    data = np.random.default_rng(0).random((8, 4)).astype("float32")
    with no_warnings():
        values = _measures_of(CoAdaptationMonitor(data), model)
        kerasdrop.analysis.mc_predict(model, data, num_samples=2)
    assert set(values) == {
        f"coadaptation/dropout/{name}" for name in coadaptation.DEFAULT_MEASURES
    }


def _efficientnet(**kwargs):
    model = keras.applications.EfficientNetB0(
        weights=None, input_shape=(32, 32, 3), **kwargs
    )
    return kerasdrop.make_schedulable(model)


@not_on_jax
def test_converted_efficientnet_layers_are_measured_also_when_nested():
    backbone = _efficientnet(include_top=False, pooling="avg")
    converted = [
        layer.name
        for layer in backbone.layers
        if isinstance(layer, kerasdrop.ScheduledDropout)
    ]
    assert len(converted) == 9  # Its stochastic depth, block 2b to 6d.
    inputs = keras.Input((32, 32, 3))
    outputs = keras.layers.Dense(3)(
        kerasdrop.ScheduledDropout(0.2, name="head_dropout")(backbone(inputs))
    )
    classifier = keras.Model(inputs, outputs)
    data = np.random.default_rng(0).random((8, 32, 32, 3)).astype("float32")
    with no_warnings():
        direct = _measures_of(CoAdaptationMonitor(data), backbone)
        nested = _measures_of(CoAdaptationMonitor(data), classifier)
    assert {key.split("/")[1] for key in direct} == set(converted)
    assert {key.split("/")[1] for key in nested} == set(converted) | {
        "head_dropout"
    }
    # Read inside the classifier, the backbone's layers measure what they
    # measure in the backbone's own graph: the same float32 computation,
    # traced twice.
    for key, value in direct.items():
        assert math.isfinite(value), key
        np.testing.assert_allclose(nested[key], value, rtol=1e-5, atol=1e-6)


def test_converted_vit_layers_inside_its_blocks_are_measured():
    keras_hub = pytest.importorskip("keras_hub")
    backbone = keras_hub.models.ViTBackbone(
        image_shape=(16, 16, 3),
        patch_size=4,
        num_layers=2,
        num_heads=2,
        hidden_dim=8,
        mlp_dim=16,
        dropout_rate=0.1,
    )
    with pytest.warns(UserWarning, match="build Keras's dropout again"):
        kerasdrop.make_schedulable(backbone)
    images = keras.Input((16, 16, 3))
    model = keras.Model(images, keras.layers.Dense(3)(backbone(images)[:, 0]))
    data = np.random.default_rng(0).random((8, 16, 16, 3)).astype("float32")
    holders = rate_holders(model)
    assert len(holders) == 7  # 2 blocks x 3 and the encoder's input dropout.
    values = _measures_of(CoAdaptationMonitor(data), model)
    assert {key.rsplit("/", 1)[0] for key in values} == {
        f"coadaptation/{holder.key}" for holder in holders
    }
    # Each value is the measure of what the layer returns on the probe.
    with recording([holder.layer for holder in holders]) as records:
        model(data, training=False)
    for holder in holders:
        activations = records[id(holder.layer)][0][1]
        expected = coadaptation.summarize(
            keras.ops.convert_to_numpy(activations)
        )
        for name in coadaptation.DEFAULT_MEASURES:
            np.testing.assert_allclose(
                values[f"coadaptation/{holder.key}/{name}"],
                expected[name],
                rtol=1e-5,
                atol=1e-7,
            )
