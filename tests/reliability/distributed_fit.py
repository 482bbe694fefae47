"""Trains a model with scheduled dropout under MirroredStrategy.

Run as a separate process by `test_distribute.py`, because logical devices
must be set before TensorFlow starts:

    python distributed_fit.py mirrored OUTPUT.json [epoch|batch]

The model feeds ones through `ScheduledDropout` and outputs the fraction of
zeros per sample; trained with MAE against zeros, its loss is the rate the
train step really used. After every epoch each replica also measures the
fraction its own copy of the layer drops, so a replica that missed a rate
change would show up. Results go to OUTPUT.json. With `batch`, the
scheduler works per batch (computing the rates inside the train step) on a
schedule that changes at the first batch of each epoch, so the per-epoch
results are the same.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"

import tensorflow as tf  # noqa: E402

OUTPUT = sys.argv[2]  # sys.argv[1] is "mirrored".
UNIT = sys.argv[3] if len(sys.argv) > 3 else "epoch"
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

import kerasdrop  # noqa: E402

UNITS = 2000
RATES = [0.1, 0.6, 0.3]
ROWS, BATCH_SIZE = 256, 32
STEPS = ROWS // BATCH_SIZE


class ZeroFraction(keras.layers.Layer):
    def call(self, inputs):
        zeros = ops.cast(ops.equal(inputs, 0), "float32")
        return ops.mean(zeros, axis=-1, keepdims=True)


class ReplicaRates(keras.callbacks.Callback):
    """After each epoch, the fraction each replica's layer drops."""

    def __init__(self, strategy, layer):
        super().__init__()
        self.strategy = strategy
        self.layer = layer
        self.per_epoch = []

    def on_epoch_end(self, epoch, logs=None):
        # A training call; `DropoutScheduler` has paused per-batch schedules
        # at the end of the epoch, so it does not count as a step.
        @tf.function
        def measure():
            def replica_fn():
                x = tf.ones((64, UNITS))
                y = self.layer(x, training=True)
                return tf.reduce_mean(tf.cast(tf.equal(y, 0), tf.float32))

            return self.strategy.run(replica_fn)

        values = self.strategy.experimental_local_results(measure())
        self.per_epoch.append([float(v) for v in values])


strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

with strategy.scope():
    dropout = kerasdrop.ScheduledDropout(0.0, seed=1, name="dropout")
    inputs = keras.Input((UNITS,))
    hidden = keras.layers.Dense(1, name="dense")(inputs)
    outputs = ZeroFraction()(dropout(inputs)) + 0.0 * hidden
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mae")

replica_rates = ReplicaRates(strategy, dropout)
boundaries = [1, 2] if UNIT == "epoch" else [STEPS, 2 * STEPS]
callbacks = [
    kerasdrop.callbacks.DropoutScheduler(
        kerasdrop.schedules.Piecewise(boundaries, RATES), unit=UNIT
    ),
    replica_rates,
]
monitor_cls = getattr(kerasdrop.callbacks, "CoAdaptationMonitor", None)
probe = np.random.default_rng(0).standard_normal((64, UNITS))
if monitor_cls is not None:
    callbacks.append(monitor_cls(probe.astype("float32")))

x = np.ones((ROWS, UNITS), dtype="float32")
y = np.zeros((ROWS, 1), dtype="float32")


history = model.fit(
    x,
    y,
    batch_size=BATCH_SIZE,
    epochs=len(RATES),
    callbacks=callbacks,
    verbose=0,
)
result = {
    "num_replicas": strategy.num_replicas_in_sync,
    # The monitor watches the dropout layer's input, the probe itself.
    "expected_coadaptation": kerasdrop.analysis.coadaptation.summarize(
        probe.astype("float32")
    ),
    "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
    "replica_zero_fractions": replica_rates.per_epoch,
    "final_rate": dropout.rate,
}
with open(OUTPUT, "w") as f:
    json.dump(result, f)
