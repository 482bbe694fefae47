"""Models whose training loss reveals the dropout rate actually applied.

`zero_fraction_model` outputs, per sample, the fraction of zeros after a
dropout layer fed with ones. Trained with MAE against zeros, its loss is the
fraction of dropped units, so each epoch's loss in History is the rate the
compiled train step really used. `ZeroFraction` counts how often it is
traced, which shows whether a rate change forced a retrace.
"""

import keras
from keras import ops


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
    """Records the probe's trace count at the end of every epoch."""

    def __init__(self, probe):
        super().__init__()
        self.probe = probe
        self.counts = []

    def on_epoch_end(self, epoch, logs=None):
        self.counts.append(self.probe.num_traces)
