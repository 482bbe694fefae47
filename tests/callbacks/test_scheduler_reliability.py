"""The rate a model trains with is the rate its schedule and its logs say.

Each model here is a probe (see `tests.fit_probes`): its training loss is
the fraction of units its dropout layer dropped, so History's loss is the
rate the compiled train step really used, and can be compared with the rate
History logged.
"""

import csv
import os

import keras
import numpy as np
import pytest

import kerasdrop
from kerasdrop import schedules
from kerasdrop.callbacks import DropoutScheduler
from kerasdrop.models.walk import rate_holders
from tests.fit_probes import ZeroFraction
from tests.fit_probes import record_zero_fraction
from tests.fit_probes import zero_fraction_model

ONES = np.ones((64, 4000), dtype="float32")
ZEROS = np.zeros((64, 1), dtype="float32")


def probe(rate=0.0, name="dropout"):
    layer = kerasdrop.ScheduledDropout(rate, seed=3, name=name)
    model, _ = zero_fraction_model(layer, with_weights=True)
    return model, layer


def fit(model, callbacks, epochs=1, **kwargs):
    return model.fit(
        ONES, ZEROS, batch_size=16, epochs=epochs, callbacks=callbacks,
        verbose=0, shuffle=False, **kwargs,
    )  # fmt: skip


class Interrupt(keras.callbacks.Callback):
    """Raises, as Ctrl-C would, at a given epoch (and batch)."""

    def __init__(self, epoch, batch=None):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch
        if epoch == self.epoch and self.batch is None:
            raise RuntimeError("interrupted")

    def on_train_batch_begin(self, batch, logs=None):
        if self.current == self.epoch and batch == self.batch:
            raise RuntimeError("interrupted")


class BatchLogs(keras.callbacks.Callback):
    def __init__(self, key):
        super().__init__()
        self.key, self.values = key, []

    def on_train_batch_end(self, batch, logs=None):
        self.values.append(float(logs[self.key]))


def assert_trained_at_logged_rates(history, key="dropout/rate"):
    np.testing.assert_allclose(
        history.history["loss"], history.history[key], atol=0.015
    )


@pytest.mark.parametrize(
    "schedule, unit",
    [
        (schedules.EarlyDropout(0.5, cutoff=3), "epoch"),
        (lambda step: 0.5 if step < 12 else 0.0, "batch"),
    ],
    ids=["early-dropout-per-epoch", "callable-per-batch"],
)
def test_resume_with_backup_and_restore_trains_at_the_logged_rate(
    tmp_path, schedule, unit
):
    backup = str(tmp_path / "backup")
    model, _ = probe(0.0)
    with pytest.raises(RuntimeError, match="interrupted"):
        fit(
            model,
            [
                DropoutScheduler(schedule, unit=unit),
                keras.callbacks.BackupAndRestore(backup),
                Interrupt(epoch=3),
            ],
            epochs=5,
        )
    # A new process: the model is built again, at its initial rate 0.
    model, layer = probe(0.0)
    history = fit(
        model,
        [
            DropoutScheduler(schedule, unit=unit),
            keras.callbacks.BackupAndRestore(backup),
        ],
        epochs=5,
    )
    # Epochs 3 and 4 ran again, after the cutoff: at rate 0, as logged.
    assert history.history["dropout/rate"] == [0.0, 0.0]
    assert_trained_at_logged_rates(history)
    assert layer.rate == 0.0


def test_interrupted_fit_leaves_hand_set_rates_alone():
    model, layer = probe(0.0)
    scheduler = DropoutScheduler(schedules.Linear(0.0, 1.0, 16), unit="batch")
    with pytest.raises(RuntimeError, match="interrupted"):
        fit(model, [scheduler, Interrupt(epoch=0, batch=3)])
    layer.rate = 0.3
    history = fit(model, [], epochs=2)
    np.testing.assert_allclose(history.history["loss"], [0.3, 0.3], atol=0.02)
    assert layer.rate == pytest.approx(0.3)
    result = kerasdrop.analysis.mc_predict(model, ONES[:8], num_samples=4)
    assert float(np.mean(result["mean"])) == pytest.approx(0.3, abs=0.02)
    assert layer.rate == pytest.approx(0.3)
    # `train_on_batch` after the interruption trains at the hand-set rate.
    layer.rate = 0.6
    loss = model.train_on_batch(ONES[:16], ZEROS[:16])
    assert float(np.ravel(loss)[0]) == pytest.approx(0.6, abs=0.02)


def test_two_batch_schedulers_drive_two_rates_of_one_layer():
    model = keras.Sequential(
        [
            keras.Input((5, 3)),
            kerasdrop.ZoneoutLSTM(4, cell_rate=0.5, hidden_rate=0.5,
                                  name="rnn"),
            keras.layers.Dense(1),
        ]
    )  # fmt: skip
    model.compile(optimizer="sgd", loss="mse")
    first = DropoutScheduler({"rnn": {"cell_rate": 0.1}}, unit="batch")
    second = DropoutScheduler({"rnn": {"hidden_rate": 0.2}}, unit="batch")
    history = model.fit(
        np.ones((16, 5, 3), "float32"), np.zeros((16, 1), "float32"),
        batch_size=8, callbacks=[first, second], verbose=0,
    )  # fmt: skip
    layer = model.get_layer("rnn")
    assert (layer.cell_rate, layer.hidden_rate) == (0.1, 0.2)
    assert history.history["rnn/cell_rate"] == [pytest.approx(0.1)]
    assert history.history["rnn/hidden_rate"] == [pytest.approx(0.2)]


def test_two_schedulers_on_one_rate_raise():
    model, _ = probe(0.0)
    with pytest.raises(ValueError, match="already driven by another"):
        fit(model, [DropoutScheduler(0.1), DropoutScheduler(0.2)])


def time_distributed_probe():
    inputs = keras.Input((6, 4000))
    dropout = kerasdrop.ScheduledDropout(0.0, seed=3, name="dropout")
    fractions = keras.layers.TimeDistributed(dropout)(inputs)
    fractions = keras.layers.TimeDistributed(ZeroFraction())(fractions)
    unused = keras.layers.Dense(1, kernel_initializer="zeros")(inputs)
    outputs = keras.layers.Flatten()(fractions + 0.0 * unused)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mae")
    return model


def shared_layer_probe():
    inputs = keras.Input((4000,))
    dropout = kerasdrop.ScheduledDropout(0.0, seed=3, name="dropout")
    zero_fraction = ZeroFraction()
    left = zero_fraction(dropout(inputs))
    right = zero_fraction(dropout(inputs))
    unused = keras.layers.Dense(1, kernel_initializer="zeros")(inputs)
    outputs = keras.layers.Concatenate()([left, right]) + 0.0 * unused
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mae")
    return model


@pytest.mark.parametrize(
    "make_model, inputs, targets",
    [
        (time_distributed_probe, np.ones((64, 6, 4000), "float32"),
         np.zeros((64, 6), "float32")),
        (shared_layer_probe, ONES, np.zeros((64, 2), "float32")),
    ],
    ids=["time-distributed", "shared-by-two-branches"],
)  # fmt: skip
def test_a_layer_called_several_times_per_step_takes_one_step(
    make_model, inputs, targets
):
    model = make_model()
    logs = BatchLogs("dropout/rate")
    history = model.fit(
        inputs, targets, batch_size=16, epochs=2, shuffle=False, verbose=0,
        callbacks=[
            DropoutScheduler(schedules.Linear(0.0, 0.7, 7), unit="batch"),
            logs,
        ],
    )  # fmt: skip
    # Steps 0-7 at 0, 0.1, ..., 0.7: every call of a step at its rate.
    np.testing.assert_allclose(logs.values, np.arange(8) * 0.1, atol=1e-6)
    np.testing.assert_allclose(history.history["loss"], [0.15, 0.55], atol=0.01)


class DroppedEachBatch(keras.callbacks.Callback):
    """Per batch: the rate the step logged and the fraction it dropped."""

    def __init__(self, key, zero_fraction):
        super().__init__()
        self.key, self.zero_fraction = key, zero_fraction
        self.rates, self.dropped = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.model  # noqa: B018  (JAX writes the step's state back.)
        self.rates.append(float(logs[self.key]))
        dropped = keras.ops.convert_to_numpy(self.zero_fraction)
        self.dropped.append(float(dropped))


STEP_TENTHS = [0.1 * step for step in range(8)]


@pytest.mark.parametrize(
    "schedule, unit, expected",
    [
        (schedules.Linear(0.0, 0.7, 7), "batch", STEP_TENTHS),
        (lambda step: 0.1 * step, "batch", STEP_TENTHS),
        (keras.optimizers.schedules.PolynomialDecay(0.0, 7, 0.7), "batch",
         STEP_TENTHS),
        (schedules.Linear(0.2, 0.6, 1), "epoch", [0.2] * 4 + [0.6] * 4),
        (lambda epoch: 0.2 + 0.4 * epoch, "epoch", [0.2] * 4 + [0.6] * 4),
    ],
    ids=["in-graph-per-batch", "callable-per-batch",
         "keras-schedule-per-batch", "in-graph-per-epoch",
         "callable-per-epoch"],
)  # fmt: skip
def test_gradient_accumulation_counts_train_steps(schedule, unit, expected):
    """One clock under gradient accumulation: the train step.

    With `gradient_accumulation_steps=2` the optimizer updates the weights
    every second step and its `iterations` counts updates; a schedule's step
    is still the train step (each with masks of its own), the count Keras's
    learning-rate schedules read, for every kind of schedule.
    """
    model, layer = probe(0.0)
    zero_fraction = record_zero_fraction(layer)
    optimizer = keras.optimizers.SGD(gradient_accumulation_steps=2)
    model.compile(optimizer=optimizer, loss="mae")
    recorder = DroppedEachBatch("dropout/rate", zero_fraction)
    fit(model, [DropoutScheduler(schedule, unit=unit), recorder], epochs=2)
    # 8 train steps, 4 updates.
    assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == 4
    # Logged as the float32 numbers the variable holds.
    np.testing.assert_allclose(recorder.rates, expected, atol=1e-6)
    # 64,000 draws per step: the fraction's standard deviation is below
    # 0.002, and the masks follow the logged rate.
    np.testing.assert_allclose(recorder.dropped, recorder.rates, atol=0.015)


class Block(keras.layers.Layer):
    """A subclassed block that holds a dropout named "drop"."""

    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(4000, kernel_initializer="ones")
        self.drop = kerasdrop.ScheduledDropout(rate, seed=1, name="drop")

    def call(self, inputs, training=False):
        return self.drop(inputs, training=training)


def test_layers_sharing_a_name_are_each_found_and_driven():
    inputs = keras.Input((4000,))
    first = Block(0.0, name="block_1")
    second = Block(0.0, name="block_2")
    probe_layer = ZeroFraction()
    unused = keras.layers.Dense(1, kernel_initializer="zeros")(inputs)
    outputs = keras.layers.Concatenate()(
        [probe_layer(first(inputs)), probe_layer(second(inputs))]
    )
    model = keras.Model(inputs, outputs + 0.0 * unused)
    model.compile(optimizer="sgd", loss="mae")
    found = {holder.key: holder.rates for holder in rate_holders(model)}
    assert list(found) == ["block_1/drop", "block_2/drop"]
    assert found["block_1/drop"]["rate"] is first.drop.dropout_rates["rate"]
    assert found["block_2/drop"]["rate"] is second.drop.dropout_rates["rate"]
    history = model.fit(
        ONES, np.zeros((64, 2), "float32"), batch_size=16, verbose=0,
        callbacks=[DropoutScheduler({"block_1/drop": 0.2, "block_2": 0.6})],
    )  # fmt: skip
    assert history.history["block_1/drop/rate"] == [pytest.approx(0.2)]
    assert history.history["block_2/drop/rate"] == [pytest.approx(0.6)]
    assert history.history["loss"] == [pytest.approx(0.4, abs=0.02)]
    # A name shared by both selects both.
    model.fit(
        ONES, np.zeros((64, 2), "float32"), batch_size=16, verbose=0,
        callbacks=[DropoutScheduler(0.1, layers=["drop"])],
    )  # fmt: skip
    assert (first.drop.rate, second.drop.rate) == (0.1, 0.1)


@pytest.mark.parametrize("wrapper", ["ZoneoutCell", "VariationalDropoutCell"])
def test_both_directions_of_a_bidirectional_cell_are_driven(wrapper):
    if wrapper == "ZoneoutCell" and keras.backend.backend() == "jax":
        pytest.skip("A bare ZoneoutCell does not train on JAX.")
    rate_name = "cell_rate" if wrapper == "ZoneoutCell" else "recurrent_rate"
    cell = getattr(kerasdrop, wrapper)(
        keras.layers.LSTMCell(4), **{rate_name: 0.5}
    )
    model = keras.Sequential(
        [
            keras.Input((5, 3)),
            keras.layers.Bidirectional(keras.layers.RNN(cell)),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    found = {holder.key: holder.rates for holder in rate_holders(model)}
    assert len(found) == 2
    variables = [rates[rate_name] for rates in found.values()]
    assert variables[0] is not variables[1]
    history = model.fit(
        np.ones((16, 5, 3), "float32"), np.zeros((16, 1), "float32"),
        batch_size=8, verbose=0,
        callbacks=[DropoutScheduler(0.1)],
    )  # fmt: skip
    logged = [k for k in history.history if k.endswith(rate_name)]
    assert len(logged) == 2
    assert all(history.history[k] == [pytest.approx(0.1)] for k in logged)
    assert [float(keras.ops.convert_to_numpy(v)) for v in variables] == [
        pytest.approx(0.1),
        pytest.approx(0.1),
    ]


def test_rate_set_mid_epoch_through_a_layer_reference_holds():
    model, layer = probe(0.0)

    class SetRate(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                layer.rate = 0.8  # Not through `self.model`.

    history = fit(model, [SetRate()])
    # Batches 0-1 at 0, batches 2-3 at 0.8.
    assert history.history["loss"] == [pytest.approx(0.4, abs=0.015)]
    assert layer.rate == pytest.approx(0.8)


@pytest.mark.skipif(
    keras.backend.backend() == "torch",
    reason="Keras's torch trainer refuses steps_per_execution > 1",
)
def test_per_batch_logs_hold_the_last_step_of_each_execution():
    model, _ = probe(0.0)
    model.compile(optimizer="sgd", loss="mae", steps_per_execution=4)
    logs = BatchLogs("dropout/rate")
    schedule = schedules.Linear(0.0, 0.75, 8)
    fit(model, [DropoutScheduler(schedule, unit="batch"), logs], epochs=2)
    # One batch-end call per execution of 4 steps: steps 3 and 7.
    np.testing.assert_allclose(logs.values, [schedule(3), schedule(7)])


def test_loggers_placed_before_the_scheduler_record_the_rates(tmp_path):
    model, _ = probe(0.0)
    path = tmp_path / "log.csv"
    before = BatchLogs("dropout/rate")
    fit(
        model,
        [
            keras.callbacks.CSVLogger(str(path)),
            before,
            DropoutScheduler(schedules.Linear(0.5, 0.0, 2)),
        ],
        epochs=2,
    )
    with open(path) as file:
        rows = list(csv.DictReader(file))
    assert [float(row["dropout/rate"]) for row in rows] == [0.5, 0.25]
    assert before.values == [0.5] * 4 + [0.25] * 4


def test_switches_happen_at_the_exact_step_past_2_to_the_24():
    model, _ = probe(0.0)
    model.fit(ONES[:16], ZEROS[:16], batch_size=16, verbose=0)
    model.optimizer.iterations.assign(2**24 - 1)
    logs = BatchLogs("dropout/rate")
    # As float32, step 2**24 equals 2**24 + 1: it would switch a step early.
    schedule = schedules.EarlyDropout(0.5, cutoff=2**24 + 1)
    history = fit(model, [DropoutScheduler(schedule, unit="batch"), logs])
    assert logs.values == [0.5, 0.5, 0.0, 0.0]
    assert history.history["loss"] == [pytest.approx(0.25, abs=0.015)]


def test_mid_epoch_resume_follows_the_optimizer_steps(tmp_path):
    """The limit the reliability guide states, measured.

    With `BackupAndRestore(save_freq=<int>)`, Keras restores the optimizer's
    iterations from the last save but runs the interrupted epoch again from
    its first batch. Per-batch schedules follow the optimizer's iterations,
    as Keras's learning-rate schedules do: every step runs at the rate of
    its optimizer step, and the run ends as many steps ahead of an
    uninterrupted one as the epoch had run before the save.
    """
    backup = str(tmp_path / "backup")
    schedule = schedules.Linear(0.0, 1.0, 100)

    def callbacks(*extra):
        return [
            DropoutScheduler(schedule, unit="batch"),
            keras.callbacks.BackupAndRestore(backup, save_freq=2),
            *extra,
        ]

    model, _ = probe(0.0)
    with pytest.raises(RuntimeError, match="interrupted"):
        fit(model, callbacks(Interrupt(epoch=1, batch=3)), epochs=3)
    model, layer = probe(0.0)
    logs = BatchLogs("dropout/rate")
    fit(model, callbacks(logs), epochs=3)
    iterations = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    # Saved after step 6 (epoch 1, batch 1); epochs 1 and 2 ran in full.
    assert iterations == 6 + 8
    np.testing.assert_allclose(
        logs.values, [schedule(step) for step in range(6, 14)], atol=1e-6
    )
    assert layer.rate == pytest.approx(schedule(13))


def test_tensorboard_placed_before_the_scheduler_records_the_rates(tmp_path):
    pytest.importorskip("tensorboard")
    tf = pytest.importorskip("tensorflow")
    model, _ = probe(0.0)
    fit(
        model,
        [
            keras.callbacks.TensorBoard(log_dir=str(tmp_path)),
            DropoutScheduler(schedules.Linear(0.5, 0.0, 2)),
        ],
        epochs=2,
    )
    values = []
    for root, _, files in os.walk(tmp_path):
        for name in sorted(files):
            if "tfevents" in name and "train" in root:
                for event in tf.compat.v1.train.summary_iterator(
                    os.path.join(root, name)
                ):
                    for value in event.summary.value:
                        if value.tag == "epoch_dropout/rate":
                            tensor = tf.make_ndarray(value.tensor)
                            values.append(float(tensor))
    assert values == [0.5, 0.25]
