"""One process of a multi-process JAX run under `keras.distribution`.

Started by `harness.run_processes` (see there for the arguments), once per
process, each process with two CPU devices. Every process initializes
`keras.distribution` with the same coordinator, seeds Keras with the same
seed (layers are built with the same weights on every process, which JAX
requires), passes its own shard of the data, and writes what it logged
and measured to its OUTPUT file.

First under DataParallel over every device of every process:

- `epoch`: a per-epoch `DropoutScheduler` and a `CoAdaptationMonitor`
  on a probe that is the same on every process. The model feeds ones
  through `ScheduledDropout` and outputs the fraction of zeros, so its MAE
  loss against zeros is the rate the train step really used.
- `batch`: the same model built with Keras's `Dropout` and converted by
  `kerasdrop.make_schedulable`, under a per-batch (in-graph) schedule that
  changes at every step; the rate of each step is recorded.
- `resume`: the `epoch` run interrupted after epoch 1 and resumed by
  `BackupAndRestore` (one backup folder per process) in a model built
  again.
- `masks`: the dropout masks each process's devices draw for their rows
  of one global batch of ones.
- `mc_predict`: each process's Monte-Carlo prediction of its own rows
  with a small softmax classifier, its uncertainty summary, and the same
  gathered from every process with `multihost_utils.process_allgather`;
- `predict_error`: what Keras's own `model.predict` raises.

Then under ModelParallel (a `LayoutMap` that splits a dense kernel over
the `model` axis, one process per row of the mesh): whether every rate
variable is replicated, a per-batch schedule, and `mc_predict` of the same
rows on every process.
"""

import json
import os
import shutil
import sys

PROCESS_ID, NUM_PROCESSES = int(sys.argv[1]), int(sys.argv[2])
COORDINATOR = f"127.0.0.1:{sys.argv[3].split(',')[0]}"
OUTPUT = sys.argv[4]
os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from jax.experimental import multihost_utils  # noqa: E402
from keras import ops  # noqa: E402

import kerasdrop  # noqa: E402
from kerasdrop.analysis import uncertainty  # noqa: E402

keras.distribution.initialize(COORDINATOR, NUM_PROCESSES, PROCESS_ID)
# The same seed on every process: the weights are built replicated, and
# JAX refuses values that differ across processes.
keras.utils.set_random_seed(0)

UNITS = 512
ROWS_PER_PROCESS, BATCH_PER_PROCESS = 64, 16
STEPS = ROWS_PER_PROCESS // BATCH_PER_PROCESS
EPOCH_RATES = [0.1, 0.6, 0.3]
EPOCHS = len(EPOCH_RATES)
BATCH_SCHEDULE = kerasdrop.schedules.Linear(0.05, 0.65, EPOCHS * STEPS)
devices = keras.distribution.list_devices()


class ZeroFraction(keras.layers.Layer):
    def call(self, inputs):
        zeros = ops.cast(ops.equal(inputs, 0), "float32")
        return ops.mean(zeros, axis=-1, keepdims=True)


class BatchRates(keras.callbacks.Callback):
    """The rate each train step logged."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_end(self, batch, logs=None):
        self.rates.append(float(logs["dropout/rate"]))


class Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise RuntimeError("interrupted")


def probe_model(keras_dropout=False):
    inputs = keras.Input((UNITS,))
    if keras_dropout:
        dropout = keras.layers.Dropout(0.1, seed=1, name="dropout")
    else:
        dropout = kerasdrop.ScheduledDropout(0.0, seed=1, name="dropout")
    hidden = keras.layers.Dense(1, name="dense")(inputs)
    outputs = ZeroFraction()(dropout(inputs)) + 0.0 * hidden
    model = keras.Model(inputs, outputs)
    if keras_dropout:
        model = kerasdrop.make_schedulable(model)
    model.compile(optimizer="sgd", loss="mae")
    return model


def history_of(history):
    return {k: [float(v) for v in vs] for k, vs in history.history.items()}


# This process's shard: its own rows, different on every process.
x = np.ones((ROWS_PER_PROCESS, UNITS), "float32")
y = np.zeros((ROWS_PER_PROCESS, 1), "float32")


def fit(model, callbacks, epochs=EPOCHS):
    return model.fit(
        x,
        y,
        batch_size=BATCH_PER_PROCESS,
        epochs=epochs,
        callbacks=callbacks,
        shuffle=False,
        verbose=0,
    )


def epoch_scheduler():
    return kerasdrop.callbacks.DropoutScheduler(
        kerasdrop.schedules.Piecewise([1, 2], EPOCH_RATES)
    )


def data_parallel():
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(
            devices=devices, auto_shard_dataset=False
        )
    )
    result = {}
    # The probe is the same on every process (seeded the same), so every
    # process measures the same co-adaptation.
    probe = np.random.default_rng(0).standard_normal((64, UNITS))
    probe = probe.astype("float32")
    model = probe_model()
    monitor = kerasdrop.callbacks.CoAdaptationMonitor(probe)
    result["epoch"] = history_of(fit(model, [epoch_scheduler(), monitor]))
    # The monitor watches the dropout layer's input: the probe itself.
    expected = kerasdrop.analysis.coadaptation.summarize(probe)
    result["expected_coadaptation"] = {
        name: float(value) for name, value in expected.items()
    }

    model = probe_model(keras_dropout=True)
    rates = BatchRates()
    scheduler = kerasdrop.callbacks.DropoutScheduler(
        BATCH_SCHEDULE, unit="batch"
    )
    result["batch"] = history_of(fit(model, [scheduler, rates]))
    result["batch"]["step_rates"] = rates.rates
    result["converted"] = type(model.get_layer("dropout")).__name__

    backup = os.path.join(os.path.dirname(OUTPUT), f"backup{PROCESS_ID}")
    shutil.rmtree(backup, ignore_errors=True)

    def resume_callbacks(*extra):
        restore = keras.callbacks.BackupAndRestore(backup)
        return [epoch_scheduler(), restore, *extra]

    try:
        fit(probe_model(), resume_callbacks(Interrupt()))
    except RuntimeError as error:
        result["interrupted"] = str(error)
    model = probe_model()
    result["resume"] = history_of(fit(model, resume_callbacks()))
    result["resume"]["final_rate"] = float(model.get_layer("dropout").rate)

    result["masks"] = local_masks(model.get_layer("dropout"), rate=0.5)
    result["mc_predict"] = monte_carlo()
    try:
        model.predict(x, verbose=0)
        result["predict_error"] = None
    except Exception as error:  # What Keras raises, recorded.
        result["predict_error"] = f"{type(error).__name__}: {error}"
    return result


def local_masks(layer, rate):
    """The masks this process's devices draw for their rows of one global
    batch of ones, sharded over every device as `fit` shards a batch."""
    layer.rate = rate
    sharding = jax.sharding.NamedSharding(
        jax.sharding.Mesh(np.array(jax.devices()), ("batch",)),
        jax.sharding.PartitionSpec("batch"),
    )
    rows = 2 * len(jax.devices())
    ones = jax.make_array_from_callback(
        (rows, 64), sharding, lambda index: np.ones((rows, 64))[index]
    )

    @jax.jit
    def dropped(non_trainable, inputs):
        outputs, _ = layer.stateless_call(
            [], non_trainable, inputs, training=True
        )
        return outputs != 0

    values = [v.value for v in layer.non_trainable_variables]
    kept = dropped(values, ones)
    return {
        str(shard.device.id): np.asarray(shard.data).astype(int).tolist()
        for shard in kept.addressable_shards
    }


def classifier():
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu"),
            kerasdrop.ScheduledDropout(0.5, seed=2),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    return model


def monte_carlo():
    """mc_predict of this process's own rows; the results of every
    process's rows gathered."""
    model = classifier()
    rows = np.random.default_rng(PROCESS_ID + 10).standard_normal((6, 8))
    prediction = kerasdrop.analysis.mc_predict(
        model, rows.astype("float32"), num_samples=16, return_samples=True
    )
    samples = prediction["samples"]
    local = {
        "mean": prediction["mean"],
        "std": prediction["std"],
        "predictive_entropy": uncertainty.predictive_entropy(samples),
        "mutual_information": uncertainty.mutual_information(samples),
    }
    # Every process's rows, in process order, on every process.
    gathered = {
        name: np.asarray(multihost_utils.process_allgather(value))
        for name, value in local.items()
    }
    inference = np.asarray(model(rows.astype("float32")))
    return {
        "local": {k: np.asarray(v).tolist() for k, v in local.items()},
        "gathered": {k: v.tolist() for k, v in gathered.items()},
        "inference": inference.tolist(),
    }


def model_parallel():
    mesh = keras.distribution.DeviceMesh(
        (NUM_PROCESSES, len(devices) // NUM_PROCESSES),
        ["batch", "model"],
        devices,
    )
    layout_map = keras.distribution.LayoutMap(mesh)
    # The kernel's columns split over the `model` axis: the output too.
    layout_map[".*dense/kernel"] = (None, "model")
    keras.distribution.set_distribution(
        keras.distribution.ModelParallel(
            layout_map=layout_map,
            batch_dim_name="batch",
            auto_shard_dataset=False,
        )
    )
    model = keras.Sequential(
        [
            keras.Input((UNITS,)),
            kerasdrop.ScheduledDropout(0.0, seed=1, name="dropout"),
            keras.layers.Dense(4, name="dense"),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(1e-4), loss="mse")
    layer = model.get_layer("dropout")
    kernel = model.get_layer("dense").kernel.value
    rates = BatchRates()
    scheduler = kerasdrop.callbacks.DropoutScheduler(
        BATCH_SCHEDULE, unit="batch"
    )
    history = history_of(fit(model, [scheduler, rates]))
    history["step_rates"] = rates.rates
    rows = np.ones((4, UNITS), "float32")  # The same rows everywhere.
    prediction = kerasdrop.analysis.mc_predict(
        model, rows, num_samples=8, rate=0.5
    )
    return {
        "rates_replicated": [
            bool(v.value.sharding.is_fully_replicated)
            for v in layer.non_trainable_variables
            if "rate" in v.path
        ],
        "kernel_replicated": bool(kernel.sharding.is_fully_replicated),
        "batch": history,
        "mc_mean": np.asarray(prediction["mean"]).tolist(),
    }


result = data_parallel()
result["model_parallel"] = model_parallel()
result.update(
    process_index=jax.process_index(),
    process_count=jax.process_count(),
    num_devices=len(jax.devices()),
    num_local_devices=len(jax.local_devices()),
)
with open(OUTPUT, "w") as f:
    json.dump(result, f)
# Every process waits for the others before it exits: a coordinator that
# exits first aborts the processes still running.
multihost_utils.sync_global_devices("kerasdrop results written")
jax.distributed.shutdown()
