"""Models whose training loss reveals the dropout rate actually applied.

`zero_fraction_model` outputs, per sample, the fraction of zeros after a
dropout layer fed with ones. Trained with MAE against zeros, its loss is the
fraction of dropped units, so each epoch's loss in History is the rate the
compiled train step really used. `ZeroFraction` counts how often it is
traced, which shows whether a rate change forced a retrace.
"""

import keras
from keras import ops

# Keras's torch trainer runs the train, test and predict steps eagerly
# (unless `jit_compile=True`): a layer's `call` runs at every step and reads
# the rate variables there, and nothing is traced, so there is no trace to
# count. Tests that count traces check one call per step there instead.
EAGER_STEPS = keras.backend.backend() == "torch"


class ZeroFraction(keras.layers.Layer):
    """Fraction of exact zeros per sample; counts its traces."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.num_traces = 0

    def call(self, inputs):
        # Python code in `call` runs once per trace, not once per step.
        self.num_traces += 1
        zeros = ops.cast(ops.equal(inputs, 0), "float32")
        return ops.mean(zeros, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (1,)


def zero_fraction_model(dropout_layer, units=4000, with_weights=False):
    """The model and its `ZeroFraction` probe.

    `with_weights=True` adds a weight that does not change the output, so
    the optimizer counts its iterations (it skips steps without weights).
    """
    inputs = keras.Input((units,))
    probe = ZeroFraction()
    outputs = probe(dropout_layer(inputs))
    if with_weights:
        unused = keras.layers.Dense(1, kernel_initializer="zeros")(inputs)
        outputs = outputs + 0.0 * unused
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mae")
    return model, probe


class TraceCounts(keras.callbacks.Callback):
    """Records the probe's trace count at the end of every epoch.

    With `EAGER_STEPS`, where the probe's `call` runs at every step,
    `calls_per_epoch()` gives how often it ran in each epoch after the
    first, to compare with the epoch's steps.
    """

    def __init__(self, probe):
        super().__init__()
        self.probe = probe
        self.counts = []

    def on_epoch_end(self, epoch, logs=None):
        self.counts.append(self.probe.num_traces)

    def calls_per_epoch(self):
        return [b - a for a, b in zip(self.counts, self.counts[1:])]


def record_zero_fraction(layer):
    """Makes a kerasdrop dropout layer record its last training output.

    After this, every training call of `layer` (inside compiled `fit` too)
    assigns the fraction of exact zeros in its output to the returned
    non-trainable variable, which a callback can read after each epoch: for
    positive inputs, the fraction of units the compiled step dropped. Only
    for tests: it changes the layer's class and adds a weight.
    """
    from kerasdrop import _compat

    class Recording(type(layer)):
        def call(self, inputs, training=False):
            outputs = super().call(inputs, training=training)
            if training:
                zeros = ops.cast(ops.equal(outputs, 0), "float32")
                self.zero_fraction.assign(ops.mean(zeros))
            return outputs

    with _compat.unlocked_state(layer):
        layer.zero_fraction = layer.add_weight(
            shape=(),
            initializer="zeros",
            trainable=False,
            name="zero_fraction",
        )
        layer.__class__ = Recording
    return layer.zero_fraction


class ReadEachEpoch(keras.callbacks.Callback):
    """Reads variables at the end of every epoch: `values[name]` lists."""

    def __init__(self, variables):
        super().__init__()
        self.variables = variables
        self.values = {name: [] for name in variables}

    def on_epoch_end(self, epoch, logs=None):
        self.model  # noqa: B018  (JAX writes the epoch's state back.)
        for name, variable in self.variables.items():
            self.values[name].append(float(ops.convert_to_numpy(variable)))
