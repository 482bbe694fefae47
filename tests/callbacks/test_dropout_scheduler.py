import csv

import keras
import numpy as np
import pytest

import kerasdrop
from kerasdrop.callbacks import DropoutScheduler
from kerasdrop.layers import Rate
from kerasdrop.layers import RateMixin
from kerasdrop.models.walk import rate_holders
from tests.fit_probes import EAGER_STEPS
from tests.fit_probes import TraceCounts
from tests.fit_probes import zero_fraction_model
from tests.warning_checks import no_warnings

# Several train steps between two batch hooks show that a rate is set
# inside the step. Keras's torch trainer refuses `steps_per_execution > 1`:
# there every step has its hooks, and the tests check one rate per step.
STEPS_PER_EXECUTION = 1 if keras.backend.backend() == "torch" else 4

X = np.random.default_rng(0).standard_normal((32, 4)).astype("float32")
Y = np.random.default_rng(1).standard_normal((32, 1)).astype("float32")


class TwoRates(RateMixin, keras.layers.Layer):
    """A layer with two named rates, as recurrent layers have."""

    cell_rate = Rate()
    hidden_rate = Rate()

    def __init__(self, cell_rate=0.0, hidden_rate=0.0, **kwargs):
        super().__init__(**kwargs)
        self.cell_rate = cell_rate
        self.hidden_rate = hidden_rate

    def call(self, inputs):
        return inputs


def small_model(*extra_layers):
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8),
            kerasdrop.ScheduledDropout(0.5, name="drop_a", seed=1),
            keras.layers.Dense(8),
            kerasdrop.ScheduledDropout(0.2, name="drop_b", seed=2),
            *extra_layers,
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    return model


def fit(model, callbacks, epochs=3, **kwargs):
    return model.fit(
        X, Y, batch_size=8, epochs=epochs, callbacks=callbacks, verbose=0,
        **kwargs,
    )  # fmt: skip


def test_rates_are_logged_every_epoch(tmp_path):
    model = small_model()
    csv_path = tmp_path / "log.csv"
    scheduler = DropoutScheduler(kerasdrop.schedules.Linear(0.5, 0.0, 2))
    history = fit(model, [scheduler, keras.callbacks.CSVLogger(csv_path)])
    assert history.history["drop_a/rate"] == [0.5, 0.25, 0.0]
    assert history.history["drop_b/rate"] == [0.5, 0.25, 0.0]
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    assert [float(row["drop_a/rate"]) for row in rows] == [0.5, 0.25, 0.0]
    assert model.get_layer("drop_a").rate == 0.0


@pytest.mark.filterwarnings("ignore:The model does not have any trainable")
def test_scheduled_rates_take_effect_inside_fit_traced_once():
    model, probe = zero_fraction_model(
        kerasdrop.ScheduledDropout(0.0, seed=3, name="dropout")
    )
    traces = TraceCounts(probe)
    schedule = kerasdrop.schedules.Piecewise([1, 2, 3], [0.1, 0.6, 0.3, 0.9])
    history = model.fit(
        np.ones((64, 4000), dtype="float32"),
        np.zeros((64, 1), dtype="float32"),
        batch_size=16,
        epochs=4,
        callbacks=[DropoutScheduler(schedule), traces],
        verbose=0,
    )
    # The loss is the fraction of dropped units the train step really used.
    np.testing.assert_allclose(
        history.history["loss"], [0.1, 0.6, 0.3, 0.9], atol=0.01
    )
    if EAGER_STEPS:  # One call at each of an epoch's 4 steps, no trace.
        assert traces.calls_per_epoch() == [4, 4, 4]
    else:
        assert traces.counts == [traces.counts[0]] * 4


@pytest.mark.parametrize(
    "steps_per_execution",
    [
        1,
        pytest.param(
            4,
            marks=pytest.mark.skipif(
                keras.backend.backend() == "torch",
                reason="Keras's torch trainer refuses steps_per_execution > 1",
            ),
        ),
    ],
)
def test_batch_unit_rates_take_effect_mid_epoch(steps_per_execution):
    # With weights, so the optimizer counts its steps: the schedule's clock.
    model, _ = zero_fraction_model(
        kerasdrop.ScheduledDropout(0.0, seed=3, name="dropout"),
        with_weights=True,
    )
    # With steps_per_execution=4 the batch hooks run once per four steps:
    # only a rate computed inside the train step changes between them.
    model.compile(
        optimizer="sgd", loss="mae", steps_per_execution=steps_per_execution
    )
    # Batches 0-1 at rate 0, batches 2-3 at rate 0.8: the epoch's mean loss
    # (the mean fraction dropped) is 0.4 only if the change reached the
    # running train loop in the middle of the epoch.
    schedule = kerasdrop.schedules.Piecewise([2], [0.0, 0.8])
    history = model.fit(
        np.ones((64, 4000), dtype="float32"),
        np.zeros((64, 1), dtype="float32"),
        batch_size=16,
        epochs=1,
        callbacks=[DropoutScheduler(schedule, unit="batch")],
        verbose=0,
    )
    np.testing.assert_allclose(history.history["loss"], [0.4], atol=0.01)
    assert model.get_layer("dropout").rate == pytest.approx(0.8)


def test_batch_schedule_stops_after_fit_and_each_step_traces_once():
    model, probe = zero_fraction_model(
        kerasdrop.ScheduledDropout(0.0, seed=3, name="dropout"),
        with_weights=True,
    )
    traces = TraceCounts(probe)
    scheduler = DropoutScheduler(
        kerasdrop.schedules.Linear(0.0, 0.8, duration=4), unit="batch"
    )

    def fit_one_epoch(callbacks):
        return model.fit(
            np.ones((64, 4000), dtype="float32"),
            np.zeros((64, 1), dtype="float32"),
            batch_size=16,
            callbacks=callbacks + [traces],
            verbose=0,
        ).history["loss"][0]

    # Steps 0-3 at rates 0, 0.2, 0.4, 0.6.
    assert fit_one_epoch([scheduler]) == pytest.approx(0.3, abs=0.01)
    layer = model.get_layer("dropout")
    assert layer.rate == pytest.approx(0.6)
    # Without the callback the rate stays where the schedule left it.
    assert fit_one_epoch([]) == pytest.approx(0.6, abs=0.01)
    assert layer.rate == pytest.approx(0.6)
    # With it again, the schedule goes on from the optimizer's step 8.
    assert fit_one_epoch([scheduler]) == pytest.approx(0.8, abs=0.01)
    # The scheduled and the plain train step are two functions, each traced
    # once: the third fit reuses the first one's.
    if EAGER_STEPS:  # One call at each of a fit's 4 steps, no trace.
        assert traces.calls_per_epoch() == [4, 4]
    else:
        first = traces.counts[0]
        assert traces.counts == [first, first + 1, first + 1]


def test_training_calls_between_epochs_do_not_count_as_steps():
    dropout = kerasdrop.ScheduledDropout(0.0, seed=3, name="dropout")
    model, _ = zero_fraction_model(dropout, with_weights=True)

    class TrainingCalls(keras.callbacks.Callback):
        fractions = []

        def on_epoch_end(self, epoch, logs=None):
            for _ in range(3):
                y = dropout(np.ones((8, 4000), "float32"), training=True)
                self.fractions.append(float(np.mean(np.asarray(y) == 0)))

    calls = TrainingCalls()
    schedule = kerasdrop.schedules.Linear(0.0, 0.8, duration=8)
    history = model.fit(
        np.ones((64, 4000), dtype="float32"),
        np.zeros((64, 1), dtype="float32"),
        batch_size=16,
        epochs=2,
        callbacks=[DropoutScheduler(schedule, unit="batch"), calls],
        verbose=0,
    )
    # Each epoch's calls use the rate of its last step (0.3, then 0.7) and
    # do not move the schedule.
    np.testing.assert_allclose(
        calls.fractions, [0.3] * 3 + [0.7] * 3, atol=0.02
    )
    np.testing.assert_allclose(history.history["loss"], [0.15, 0.55],
                               atol=0.01)  # fmt: skip


@pytest.mark.parametrize(
    "layer",
    [
        lambda: kerasdrop.VariationalDropout(0.0, name="layer"),
        lambda: kerasdrop.DropPath(0.0, name="layer"),
        lambda: kerasdrop.ScheduledSpatialDropout1D(0.0, name="layer"),
        lambda: kerasdrop.VariationalLSTM(
            4, return_sequences=True, name="layer"
        ),
        lambda: kerasdrop.ZoneoutLSTM(4, return_sequences=True, name="layer"),
        lambda: kerasdrop.WeightDropGRU(4, return_sequences=True, name="layer"),
    ],
    ids=[
        "VariationalDropout",
        "DropPath",
        "ScheduledSpatialDropout1D",
        "VariationalLSTM",
        "ZoneoutLSTM",
        "WeightDropGRU",
    ],
)
def test_batch_unit_drives_every_kind_of_layer_inside_the_step(layer):
    model = keras.Sequential(
        [keras.Input((5, 3)), layer(), keras.layers.Dense(1)]
    )
    model.compile(
        optimizer="sgd", loss="mse", steps_per_execution=STEPS_PER_EXECUTION
    )
    schedule = kerasdrop.schedules.Linear(0.0, 1.0, duration=100)
    model.fit(
        np.ones((32, 5, 3), dtype="float32"),
        np.zeros((32, 5, 1), dtype="float32"),
        batch_size=8,
        callbacks=[DropoutScheduler(schedule, unit="batch")],
        verbose=0,
    )
    # The last of the four steps ran with schedule(3); hooks from Python
    # would have stopped at schedule(0) with four steps per execution, and
    # a count per call of a cell (per time step) would have gone further.
    rates = model.get_layer("layer").dropout_rates
    for name in rates:
        assert getattr(model.get_layer("layer"), name) == pytest.approx(0.03)


def test_bare_cell_in_keras_rnn_is_scheduled_inside_the_step():
    # A cell runs once per time step; its rate is still set once per step.
    cell = kerasdrop.VariationalDropoutCell(
        keras.layers.LSTMCell(4), recurrent_rate=0.0, name="cell"
    )
    model = keras.Sequential(
        [keras.Input((5, 3)), keras.layers.RNN(cell), keras.layers.Dense(1)]
    )
    model.compile(
        optimizer="sgd", loss="mse", steps_per_execution=STEPS_PER_EXECUTION
    )
    history = model.fit(
        np.ones((32, 5, 3), dtype="float32"),
        np.zeros((32, 1), dtype="float32"),
        batch_size=8,
        callbacks=[
            DropoutScheduler(
                {"cell": {"recurrent_rate": kerasdrop.schedules.Linear(
                    0.0, 1.0, duration=100)}},
                unit="batch",
            )
        ],
        verbose=0,
    )  # fmt: skip
    # The last of the four steps ran with schedule(3).
    assert history.history["cell/recurrent_rate"] == pytest.approx([0.03])
    assert cell.recurrent_rate == pytest.approx(0.03)


def test_one_schedule_for_several_rates_is_computed_once_per_step():
    class CountedLinear(kerasdrop.schedules.Linear):
        calls = 0

        def graph_value(self, step):
            CountedLinear.calls += 1
            return super().graph_value(step)

    model = small_model()
    schedule = CountedLinear(0.0, 0.7, duration=7)
    history = fit(model, [DropoutScheduler(schedule, unit="batch")], epochs=2)
    assert history.history["drop_a/rate"] == pytest.approx([0.3, 0.7])
    assert history.history["drop_b/rate"] == pytest.approx([0.3, 0.7])
    # Both rates share it: once per eager step (torch), else once per
    # trace of the one scheduled step.
    assert CountedLinear.calls == (8 if EAGER_STEPS else 1)


def test_batch_unit_counts_optimizer_iterations():
    steps = []

    def schedule(step):
        steps.append(step)
        return 0.01 * step

    model = small_model()
    history = fit(model, [DropoutScheduler(schedule, unit="batch")], epochs=2)
    assert steps == list(range(8))
    assert history.history["drop_a/rate"] == pytest.approx([0.03, 0.07])
    # A second fit continues from the optimizer's count.
    fit(model, [DropoutScheduler(schedule, unit="batch")], epochs=1)
    assert steps[8:] == [8, 9, 10, 11]


def test_batch_logs_hold_the_rate_each_batch_ran_with():
    class Recorder(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.rates = []

        def on_train_batch_end(self, batch, logs=None):
            self.rates.append(logs["drop_a/rate"])

    recorder = Recorder()
    scheduler = DropoutScheduler(lambda step: 0.01 * step, unit="batch")
    fit(small_model(), [scheduler, recorder], epochs=2)
    assert recorder.rates == pytest.approx([0.01 * s for s in range(8)])


def test_initial_epoch_lands_on_the_same_rate():
    schedule = kerasdrop.schedules.Linear(0.6, 0.0, 3)
    history = fit(small_model(), [DropoutScheduler(schedule)], epochs=4,
                  initial_epoch=2)  # fmt: skip
    assert history.history["drop_a/rate"] == pytest.approx([0.2, 0.0])


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise RuntimeError("interrupted")


@pytest.mark.parametrize("unit", ["epoch", "batch"])
def test_backup_and_restore_resumes_on_the_same_rates(tmp_path, unit):
    schedule = kerasdrop.schedules.Linear(0.5, 0.0, 10)
    keras.utils.set_random_seed(0)
    straight = small_model()
    reference = fit(straight, [DropoutScheduler(schedule, unit=unit)], 5)

    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    keras.utils.set_random_seed(0)
    with pytest.raises(RuntimeError, match="interrupted"):
        fit(small_model(), [DropoutScheduler(schedule, unit=unit), backup,
                            _Interrupt(3)], 5)  # fmt: skip
    resumed_model = small_model()
    resumed = fit(resumed_model, [DropoutScheduler(schedule, unit=unit),
                                  backup], 5)  # fmt: skip
    assert len(resumed.history["drop_a/rate"]) == 2
    assert resumed.history["drop_a/rate"] == pytest.approx(
        reference.history["drop_a/rate"][3:]
    )
    assert int(resumed_model.optimizer.iterations) == int(
        straight.optimizer.iterations
    )
    assert resumed_model.get_layer("drop_a").rate == pytest.approx(
        straight.get_layer("drop_a").rate
    )


def test_mapping_per_layer_and_per_rate_name():
    model = small_model(TwoRates(name="zoneout"))
    scheduler = DropoutScheduler(
        {
            "drop_a": kerasdrop.schedules.Constant(0.1),
            "zoneout": {
                "cell_rate": kerasdrop.schedules.Linear(0.5, 0.0, 1),
                "hidden_rate": 0.05,
            },
        }
    )
    history = fit(model, [scheduler], epochs=2)
    assert history.history["drop_a/rate"] == pytest.approx([0.1, 0.1])
    assert history.history["zoneout/cell_rate"] == [0.5, 0.0]
    assert history.history["zoneout/hidden_rate"] == pytest.approx([0.05] * 2)
    # Rates without a schedule are not touched and not logged.
    assert "drop_b/rate" not in history.history
    assert model.get_layer("drop_b").rate == pytest.approx(0.2)


def test_one_schedule_drives_every_rate_of_a_layer_list():
    model = small_model(TwoRates(name="zoneout"))
    history = fit(model, [DropoutScheduler(0.3, layers=["zoneout"])], 1)
    assert history.history["zoneout/cell_rate"] == pytest.approx([0.3])
    assert history.history["zoneout/hidden_rate"] == pytest.approx([0.3])
    assert model.get_layer("drop_a").rate == 0.5


def test_keras_learning_rate_schedule_drives_a_rate():
    decay = keras.optimizers.schedules.ExponentialDecay(0.4, 1, 0.5)
    history = fit(small_model(), [DropoutScheduler(decay)], epochs=3)
    assert history.history["drop_a/rate"] == pytest.approx([0.4, 0.2, 0.1])


def test_verbose_reports_changes(capsys):
    fit(small_model(), [DropoutScheduler(0.3, "drop_a", verbose=1)], 2)
    out = capsys.readouterr().out
    assert out.count("drop_a/rate set to 0.3") == 1


@pytest.mark.parametrize("unit", ["epoch", "batch"])
def test_verbose_counts_epochs_from_one_as_the_progress_bar(capsys, unit):
    schedule = kerasdrop.schedules.Piecewise([1], [0.3, 0.1])
    if unit == "batch":
        schedule = kerasdrop.schedules.Piecewise([4], [0.3, 0.1])
    fit(small_model(), [DropoutScheduler(schedule, "drop_a", unit, verbose=1)],
        2)  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "DropoutScheduler: epoch 1: drop_a/rate set to 0.3.",
        "DropoutScheduler: epoch 2: drop_a/rate set to 0.1.",
    ]


def test_keras_learning_rate_scheduler_form_gets_the_current_rate():
    calls = []

    def halve(epoch, rate):
        calls.append((epoch, rate))
        return rate / 2

    history = fit(small_model(), [DropoutScheduler(halve, "drop_a")], 3)
    rates = history.history["drop_a/rate"]
    assert rates == pytest.approx([0.25, 0.125, 0.0625])
    assert calls == [(0, 0.5), (1, 0.25), (2, 0.125)]


@pytest.mark.parametrize("unit", ["epoch", "batch"])
def test_relative_schedule_keeps_per_layer_proportions(unit):
    # drop_a is built at 0.5, drop_b at 0.2.
    model = small_model()
    cutoff = 2 if unit == "epoch" else 8
    scheduler = DropoutScheduler(
        kerasdrop.schedules.EarlyDropout(1.0, cutoff=cutoff),
        unit=unit,
        relative=True,
    )
    history = fit(model, [scheduler], epochs=3)
    assert history.history["drop_a/rate"] == pytest.approx([0.5, 0.5, 0.0])
    assert history.history["drop_b/rate"] == pytest.approx([0.2, 0.2, 0.0])
    # A later fit with the same callback keeps the bases it started from.
    scheduler = DropoutScheduler(
        kerasdrop.schedules.Constant(0.5), unit=unit, relative=True
    )
    model = small_model()
    fit(model, [scheduler], epochs=1)
    fit(model, [scheduler], epochs=1)
    assert model.get_layer("drop_a").rate == pytest.approx(0.25)
    assert model.get_layer("drop_b").rate == pytest.approx(0.1)


def test_layers_given_as_objects_select_those_layers():
    model = small_model()
    layer = model.get_layer("drop_b")
    history = fit(model, [DropoutScheduler(0.05, layers=[layer])], 1)
    assert history.history["drop_b/rate"] == pytest.approx([0.05])
    assert "drop_a/rate" not in history.history


def test_model_without_rates_raises():
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dropout(0.5), keras.layers.Dense(1)]
    )
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="no schedulable dropout rate"):
        fit(model, [DropoutScheduler(0.1)], 1)


def test_unknown_layer_name_lists_available_names():
    with pytest.raises(ValueError, match=r"'nope'.*\['drop_a', 'drop_b'\]"):
        fit(small_model(), [DropoutScheduler({"nope": 0.1})], 1)
    with pytest.raises(ValueError, match=r"'nope'.*\['drop_a', 'drop_b'\]"):
        fit(small_model(), [DropoutScheduler(0.1, layers=["nope"])], 1)
    other = kerasdrop.ScheduledDropout(0.1, name="elsewhere")
    with pytest.raises(ValueError, match=r"'elsewhere'.*\['drop_a', 'drop_b'"):
        fit(small_model(), [DropoutScheduler(0.1, layers=[other])], 1)


def test_unknown_rate_name_lists_rate_names():
    with pytest.raises(ValueError, match=r"'cell'.*\['rate'\]"):
        fit(small_model(), [DropoutScheduler({"drop_a": {"cell": 0.1}})], 1)


@pytest.mark.parametrize("bad", [float("nan"), 1.5, -0.2])
def test_bad_schedule_value_raises_and_keeps_old_rate(bad):
    model = small_model()

    def schedule(epoch):
        return 0.1 if epoch < 1 else bad

    # Epochs are counted from 1, as Keras's progress bar counts them: the
    # schedule's step 1 is "Epoch 2/3".
    match = r"'drop_a'.*at epoch 2 \(schedule step 1\): .*Expected"
    with pytest.raises(ValueError, match=match):
        fit(model, [DropoutScheduler(schedule)], 3)
    assert model.get_layer("drop_a").rate == pytest.approx(0.1)
    assert model.get_layer("drop_b").rate == pytest.approx(0.1)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"schedule": 0.1, "unit": "step"}, ValueError, "unit"),
        ({"schedule": "linear"}, TypeError, "schedule"),
        ({"schedule": {}}, ValueError, "schedule"),
        ({"schedule": {"a": 0.1}, "layers": ["a"]}, ValueError, "layers"),
        ({"schedule": {"a": "x"}}, TypeError, "schedule"),
        ({"schedule": 0.1, "layers": []}, ValueError, "drives nothing"),
        ({"schedule": 0.1, "layers": [3]}, TypeError, "layers"),
        (
            {"schedule": keras.layers.Dropout(0.5)},
            TypeError,
            "Received: schedule=<Dropout",
        ),
    ],
)
def test_invalid_arguments_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        DropoutScheduler(**kwargs)


def test_find_rates_lists_each_variable_once_under_outer_name():
    inner = keras.Sequential(
        [keras.Input((4,)), kerasdrop.ScheduledDropout(0.1, name="inner")],
        name="block",
    )
    inputs = keras.Input((4,))
    model = keras.Model(inputs, inner(inputs))
    found = {holder.key: holder.rates for holder in rate_holders(model)}
    assert list(found) == ["inner"]
    assert found["inner"]["rate"] is inner.layers[0].dropout_rates["rate"]
    assert kerasdrop.find_rates(model) == {"inner/rate": 0.1}


def _blocks_sharing_a_name():
    """Two blocks that each hold a `"drop"`, and a layer with two rates."""
    inputs = keras.Input((4,))
    outputs = inputs
    for index, rate in enumerate((0.5, 0.25)):
        block = keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(4),
                kerasdrop.ScheduledDropout(rate, name="drop", seed=index),
            ],
            name=f"block_{index + 1}",
        )
        outputs = block(outputs)
    outputs = TwoRates(0.125, 0.375, name="two")(outputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(outputs))
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_find_rates_gives_current_values_under_the_log_keys():
    model = _blocks_sharing_a_name()
    assert kerasdrop.find_rates(model) == {
        "block_1/drop/rate": 0.5,
        "block_2/drop/rate": 0.25,
        "two/cell_rate": 0.125,
        "two/hidden_rate": 0.375,
    }
    history = fit(model, [DropoutScheduler(0.1, unit="batch")], epochs=1)
    found = kerasdrop.find_rates(model)
    logged = {k: v[-1] for k, v in history.history.items() if "/" in k}
    assert list(found) == list(logged)
    # The logs hold the float32 number, find_rates its shortest decimal.
    assert found == dict.fromkeys(found, 0.1)
    assert all(np.float32(logged[k]) == np.float32(0.1) for k in logged)


def test_find_rates_follows_a_rate_set_by_hand():
    model = small_model()
    model.get_layer("drop_b").rate = 0.3
    assert kerasdrop.find_rates(model) == {
        "drop_a/rate": 0.5,
        "drop_b/rate": 0.3,
    }


def test_find_rates_skips_what_no_scheduler_drives():
    inputs = keras.Input((4,))
    outputs = keras.layers.Dropout(0.5)(inputs)
    outputs = kerasdrop.ConcreteDropout(keras.layers.Dense(2))(outputs)
    assert kerasdrop.find_rates(keras.Model(inputs, outputs)) == {}


def test_warns_naming_keras_dropout_it_cannot_drive():
    model = small_model(keras.layers.Dropout(0.5, name="keras_dropout"))
    with pytest.warns(UserWarning, match="make_schedulable") as record:
        history = fit(model, [DropoutScheduler(0.1)], 1)
    message = str(record[0].message)
    assert "keras_dropout (Dropout, rate=0.5)" in message
    assert "drop_a" not in message
    # The Keras layer kept its rate; the kerasdrop ones were driven.
    assert model.get_layer("keras_dropout").rate == 0.5
    assert history.history["drop_a/rate"] == pytest.approx([0.1])


def test_no_warning_when_every_dropout_is_schedulable():
    with no_warnings():
        fit(small_model(), [DropoutScheduler(0.1)], 1)


@pytest.mark.filterwarnings("ignore:DropoutScheduler cannot change")
def test_conversion_between_fits_retraces_the_scheduled_step():
    # The first fit traces the scheduled step with Keras's Dropout "b" in
    # it, its rate frozen: converting "b" must make the next fit with the
    # same scheduler, and the same driven rates, trace the step again.
    driven = kerasdrop.ScheduledDropout(0.0, seed=1, name="a")
    converted = keras.layers.Dropout(0.5, seed=2, name="b")
    model, _ = zero_fraction_model(
        lambda inputs: converted(driven(inputs)), with_weights=True
    )
    scheduler = DropoutScheduler(0.0, layers=["a"])

    def fit_one_epoch():
        return model.fit(
            np.ones((64, 4000), dtype="float32"),
            np.zeros((64, 1), dtype="float32"),
            batch_size=16,
            callbacks=[scheduler],
            verbose=0,
        ).history

    # 256,000 draws per epoch: the fraction's standard deviation is 0.001.
    assert fit_one_epoch()["loss"] == [pytest.approx(0.5, abs=0.01)]
    kerasdrop.make_schedulable(model)
    converted.rate = 0.2
    history = fit_one_epoch()
    assert history["loss"] == [pytest.approx(0.2, abs=0.01)]
    assert history["a/rate"] == [0.0]
