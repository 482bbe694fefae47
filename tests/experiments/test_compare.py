import json

import keras
import numpy as np
import pytest

import kerasdrop
from kerasdrop import experiments

FEATURES = 6


def build_model():
    model = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            kerasdrop.ScheduledDropout(0.5, name="dropout"),
            keras.layers.Dense(3, activation="softmax", name="output"),
        ]
    )
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def build_plain_model():
    model = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(3, activation="softmax", name="output"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def data(rows=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, FEATURES)).astype("float32")
    y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 1).astype("int32")
    return x, y


class RecordWeights(keras.callbacks.Callback):
    """Keeps the shared weights at the start and the end of training."""

    def on_train_begin(self, logs=None):
        self.start = experiments.initial_weights(self.model)

    def on_train_end(self, logs=None):
        self.end = experiments.initial_weights(self.model)


def run(variants, **kwargs):
    x, y = data()
    kwargs.setdefault("validation_data", data(16, seed=1))
    return experiments.compare(
        kwargs.pop("build_model", build_model),
        variants,
        x,
        y,
        seeds=kwargs.pop("seeds", [0, 1]),
        epochs=kwargs.pop("epochs", 2),
        batch_size=16,
        verbose=0,
        **kwargs,
    )


def test_batch_order_is_a_fresh_permutation_each_epoch():
    order = experiments.batch_order(10, 4, 3, seed=7)
    epochs = order.reshape(3, 8)
    for epoch in epochs:
        assert len(set(epoch.tolist())) == 8  # No row twice in an epoch.
    assert not np.array_equal(epochs[0], epochs[1])
    np.testing.assert_array_equal(order, experiments.batch_order(10, 4, 3, 7))


@pytest.fixture(scope="module")
def fixed_result():
    """No dropout against rate 0.5, two seeds, one epoch."""
    return run([experiments.Variant("fixed", rate=0.5)], epochs=1)


def test_two_calls_give_identical_numbers(fixed_result):
    again = run([experiments.Variant("fixed", rate=0.5)], epochs=1)
    assert again.to_dict()["values"] == fixed_result.to_dict()["values"]
    assert again.differences == fixed_result.differences


def test_equal_rates_train_identically_and_other_rates_do_not():
    # Same initial weights, same batches in the same order and the same
    # masks: two variants at the same rate end with the same weights.
    recorders = {name: [] for name in ("a", "b", "c")}

    def recorder(name):
        def make():
            callback = RecordWeights()
            recorders[name].append(callback)
            return [callback]

        return make

    result = run(
        [
            experiments.Variant("a", rate=0.3, callbacks=recorder("a")),
            experiments.Variant("b", rate=0.3, callbacks=recorder("b")),
            experiments.Variant("c", rate=0.6, callbacks=recorder("c")),
        ],
        reference="a",
        seeds=[0],
        epochs=1,
    )
    for seed_index in range(1):
        a, b, c = (recorders[name][seed_index] for name in "abc")
        for x, y, z in zip(a.start, b.start, c.start):
            np.testing.assert_array_equal(x, y)
            np.testing.assert_array_equal(x, z)
        for x, y in zip(a.end, b.end):
            np.testing.assert_array_equal(x, y)
        assert any(not np.array_equal(x, z) for x, z in zip(a.end, c.end))
    assert result.differences["b"]["val_loss"]["ties"] == 1
    assert result.history("a", "val_loss").shape == (1, 1)


def test_inserted_dropout_starts_from_the_reference_weights():
    recorded = {}

    def keep(name):
        def make():
            recorded[name] = RecordWeights()
            return [recorded[name]]

        return make

    def with_dropout(model):
        return kerasdrop.insert_dropout(model, after="hidden", rate=0.5)

    result = run(
        [
            experiments.Variant("plain", callbacks=keep("plain")),
            experiments.Variant(
                "inserted", transform=with_dropout, callbacks=keep("inserted")
            ),
        ],
        build_model=build_plain_model,
        reference="plain",
        seeds=[3],
        epochs=1,
    )
    assert len(recorded["plain"].start) == len(recorded["inserted"].start)
    for x, y in zip(recorded["plain"].start, recorded["inserted"].start):
        np.testing.assert_array_equal(x, y)
    assert all(run["shared_initial_weights"] for run in result.runs)


def test_a_wider_model_is_paired_by_seed_only():
    def wider():
        model = keras.Sequential(
            [
                keras.Input((FEATURES,)),
                keras.layers.Dense(32, activation="relu"),
                kerasdrop.ScheduledDropout(0.5),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    result = run(
        [experiments.Variant("wide", rate=0.5, build_model=wider)],
        seeds=[0],
        epochs=1,
        metrics=["val_loss"],
    )
    shared = {
        run["variant"]: run["shared_initial_weights"] for run in result.runs
    }
    assert shared == {"none": True, "wide": False}


def test_scheduler_and_monitor_run_inside_a_variant():
    x_probe, _ = data(32, seed=2)
    result = run(
        [
            experiments.Variant(
                "annealed",
                schedule=kerasdrop.schedules.Linear(0.5, 0.0, duration=1),
                callbacks=lambda: [
                    kerasdrop.callbacks.CoAdaptationMonitor(x_probe)
                ],
            )
        ],
        metrics={"val_accuracy": "max", "val_loss": "min"},
        seeds=[0],
    )
    history = result.runs[-1]["history"]
    np.testing.assert_allclose(history["dropout/rate"], [0.5, 0.0])
    assert "coadaptation/dropout/correlation" in history
    none_rates = result.runs[0]["history"]["dropout/rate"]
    assert none_rates == [0.0, 0.0]
    assert set(result.differences["annealed"]) == {"val_accuracy", "val_loss"}


def test_default_metrics_and_directions(fixed_result):
    assert fixed_result.metrics == {"val_accuracy": "max", "val_loss": "min"}
    assert experiments.metric_mode("val_mean_squared_error") == "min"
    assert experiments.metric_mode("auc") == "max"


def test_result_round_trips_through_json_and_renders(fixed_result):
    result = fixed_result
    again = experiments.ExperimentResult.from_json(result.to_json())
    assert again.differences == json.loads(result.to_json())["differences"]
    table = result.to_markdown()
    assert "| fixed | val_loss |" in table
    assert result.differences["fixed"]["val_loss"]["verdict"] in table
    assert "Student t" in table


def test_plot_returns_axes(fixed_result):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    axes = fixed_result.plot("val_loss")
    assert axes.get_ylabel() == "val_loss"
    assert len(axes.get_lines()) == 2
    matplotlib.pyplot.close(axes.figure)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"variants": []}, "non-empty list"),
        ({"reference": "missing"}, "Unknown reference"),
        ({"metrics": ["val_auc"]}, "Unknown metric"),
        ({"fit_kwargs": {"shuffle": True}}, "may not set"),
    ],
)
def test_invalid_arguments_raise(kwargs, match):
    variants = kwargs.pop("variants", [experiments.Variant("fixed", rate=0.5)])
    with pytest.raises(ValueError, match=match):
        run(variants, seeds=[0], epochs=1, **kwargs)


def test_variant_validates_its_arguments():
    with pytest.raises(ValueError, match="not both"):
        experiments.Variant("x", rate=0.1, schedule=0.2)
    with pytest.raises(ValueError, match="rate"):
        experiments.Variant("x", rate=1.5)
    with pytest.raises(ValueError, match="non-empty string"):
        experiments.Variant("")


def _stopped_early_result(summary):
    # Seed 1 of "fixed" stopped after 2 of 4 epochs (as EarlyStopping
    # stops a run); its compared value is the one of its last epoch.
    histories = {
        ("none", 0): [0.1, 0.2, 0.3, 0.4],
        ("none", 1): [0.1, 0.2, 0.2, 0.3],
        ("fixed", 0): [0.2, 0.3, 0.5, 0.45],
        ("fixed", 1): [0.3, 0.35],
    }
    runs = [
        {"variant": v, "seed": s, "history": {"val_accuracy": h}}
        for (v, s), h in histories.items()
    ]
    return experiments.ExperimentResult(
        runs, ["none", "fixed"], "none", {"val_accuracy": "max"}, [0, 1],
        summary=summary,
    )  # fmt: skip


def test_runs_that_stopped_early_count_with_their_last_epoch():
    last = _stopped_early_result("last")
    assert last.values("fixed", "val_accuracy") == [0.45, 0.35]
    np.testing.assert_allclose(
        last.differences["fixed"]["val_accuracy"]["differences"], [0.05, 0.05]
    )
    history = last.history("fixed", "val_accuracy")
    assert history.shape == (2, 4) and np.isnan(history[1, 2:]).all()
    best = _stopped_early_result("best")
    assert best.values("fixed", "val_accuracy") == [0.5, 0.35]
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    assert best.plot().get_xlabel() == "epoch"


def test_a_last_epoch_that_diverged_stays_nan():
    result = _stopped_early_result("last")
    result.runs[2]["history"]["val_accuracy"][-1] = float("nan")
    assert np.isnan(result.values("fixed", "val_accuracy")[0])


@pytest.mark.parametrize(
    "function, expected",
    [
        (lambda seed: seed, 7),
        (lambda s: s, 7),
        (lambda *args: args[0], 7),
        (lambda: "no seed", "no seed"),
        # A parameter with a default is not the seed, unless so named.
        (lambda width=64: width, 64),
        (lambda width=64, seed=0: (width, seed), (64, 7)),
        (lambda *, seed: seed, 7),
    ],
)
def test_functions_get_the_seed_only_where_they_take_it(function, expected):
    from kerasdrop.experiments.variant import call_with_seed

    assert call_with_seed(function, 7) == expected
