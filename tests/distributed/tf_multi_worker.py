"""One worker of a two-worker `MultiWorkerMirroredStrategy` run on loopback.

Started by `harness.run_processes` (see there for the arguments), once per
worker; the worker builds its `TF_CONFIG` from the ports it is given
before TensorFlow starts. The model feeds ones through `ScheduledDropout`
and outputs the fraction of zeros per sample; trained with MAE against
zeros, its loss is the rate the train step really used.

- `custom_loop`: a distributed custom training loop (each worker's replica
  steps on its shard of the batch under `strategy.run`) that drives a
  per-epoch `DropoutScheduler` and a `CoAdaptationMonitor` with the hooks
  `fit` would call. After every epoch each worker also measures the
  fraction its own copy of the layer drops, and at the end the mask it
  draws at rate 0.3.
- `fit_error`: what Keras's `fit` raises under this strategy
  (keras-team/keras#20585 in Keras 3.15), `None` if it trains.
"""

import json
import os
import sys

INDEX, COUNT = int(sys.argv[1]), int(sys.argv[2])
PORTS, OUTPUT = sys.argv[3].split(","), sys.argv[4]
os.environ["TF_CONFIG"] = json.dumps(
    {
        "cluster": {"worker": [f"127.0.0.1:{port}" for port in PORTS]},
        "task": {"type": "worker", "index": INDEX},
    }
)
os.environ["KERAS_BACKEND"] = "tensorflow"

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

import kerasdrop  # noqa: E402

UNITS = 2000
RATES = [0.1, 0.6, 0.3]
ROWS, BATCH_SIZE = 128, 32


class ZeroFraction(keras.layers.Layer):
    def call(self, inputs):
        zeros = ops.cast(ops.equal(inputs, 0), "float32")
        return ops.mean(zeros, axis=-1, keepdims=True)


strategy = tf.distribute.MultiWorkerMirroredStrategy()
with strategy.scope():
    dropout = kerasdrop.ScheduledDropout(0.0, seed=1, name="dropout")
    inputs = keras.Input((UNITS,))
    hidden = keras.layers.Dense(1, name="dense")(inputs)
    outputs = ZeroFraction()(dropout(inputs)) + 0.0 * hidden
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mae")


class ReplicaRates(keras.callbacks.Callback):
    """After each epoch, the fraction this worker's layer drops."""

    def __init__(self):
        super().__init__()
        self.per_epoch = []

    def on_epoch_end(self, epoch, logs=None):
        @tf.function
        def measure():
            def replica_fn():
                y = dropout(tf.ones((64, UNITS)), training=True)
                return tf.reduce_mean(tf.cast(tf.equal(y, 0), tf.float32))

            return strategy.run(replica_fn)

        values = strategy.experimental_local_results(measure())
        self.per_epoch.append([float(v) for v in values])


x = np.ones((ROWS, UNITS), dtype="float32")
y = np.zeros((ROWS, 1), dtype="float32")
probe = np.random.default_rng(0).standard_normal((64, UNITS))
probe = probe.astype("float32")  # The same on both workers.


def custom_loop_fit(callbacks, epochs):
    """What `fit` does, with the hooks `fit` calls."""
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH_SIZE)
    dataset = strategy.experimental_distribute_dataset(dataset)

    @tf.function
    def train_step(batch):
        def replica_step(inputs, targets):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.abs(model(inputs, training=True)))
            variables = model.trainable_variables
            grads = tape.gradient(loss, variables)
            model.optimizer.apply_gradients(zip(grads, variables))
            return loss

        losses = strategy.run(replica_step, args=batch)
        return strategy.reduce("MEAN", losses, axis=None)

    history = keras.callbacks.History()
    callback_list = keras.callbacks.CallbackList(
        callbacks + [history], model=model
    )
    callback_list.on_train_begin()
    for epoch in range(epochs):
        callback_list.on_epoch_begin(epoch)
        losses = [float(train_step(batch)) for batch in dataset]
        callback_list.on_epoch_end(epoch, {"loss": float(np.mean(losses))})
    callback_list.on_train_end()
    return history


replica_rates = ReplicaRates()
history = custom_loop_fit(
    [
        kerasdrop.callbacks.DropoutScheduler(
            kerasdrop.schedules.Piecewise([1, 2], RATES)
        ),
        kerasdrop.callbacks.CoAdaptationMonitor(probe),
        replica_rates,
    ],
    epochs=len(RATES),
)


@tf.function
def masks():
    def replica_fn():
        return dropout(tf.ones((2, 64)), training=True) != 0

    return strategy.run(replica_fn)


expected = kerasdrop.analysis.coadaptation.summarize(probe)
result = {
    "num_replicas": strategy.num_replicas_in_sync,
    "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
    "replica_zero_fractions": replica_rates.per_epoch,
    "final_rate": float(dropout.rate),
    "masks": [
        np.asarray(m).astype(int).tolist()
        for m in strategy.experimental_local_results(masks())
    ],
    "expected_coadaptation": {k: float(v) for k, v in expected.items()},
}
try:
    model.fit(x, y, batch_size=BATCH_SIZE, epochs=1, verbose=0)
    result["fit_error"] = None
except Exception as error:  # What Keras raises, recorded.
    result["fit_error"] = f"{type(error).__name__}: {error}"[:2000]
with open(OUTPUT, "w") as f:
    json.dump(result, f)
