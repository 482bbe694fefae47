"""Reading a layer's units on data, and measuring them in one compiled call.

The units of a dropout layer are its input (the units it drops); the units
of any other layer are its output. `layer_activations` returns them as an
array for the measures of `kerasdrop.analysis.coadaptation`;
`compile_measures` builds one compiled call of the model that computes those
measures of several layers at once, including kerasdrop layers called
inside nested models and subclassed blocks (read while the model runs), and
returns only the short vector of measures: one transfer from the device per
measurement.
"""

import weakref

import keras
import numpy as np
from keras import ops

from kerasdrop.analysis import _graph
from kerasdrop.analysis import coadaptation
from kerasdrop.layers.rates import recording

# The compiled measurement of each model, by watched layers, measures and
# probe shape. Building and compiling one takes tens of milliseconds, as
# much as dozens of measurements, so a second request on a model reuses what
# the first built. They share the model's layers (so they read its current
# weights) and go when the model goes.
_COMPILED = weakref.WeakKeyDictionary()


def layer_activations(model, layer, x, batch_size=None):
    """The activations of a layer's units on data, at inference.

    The units of a dropout layer are its input (the units it drops); the
    units of any other layer are its output.

    Args:
        model: A Functional or Sequential model.
        layer: A layer of `model`, or its name.
        x: Input data for `model`.
        batch_size: Rows per call of the model; `None` for a single call.

    Returns:
        A NumPy array whose last axis holds the units.

    Examples:
        >>> model = keras.Sequential([
        ...     keras.Input((3,)),
        ...     keras.layers.Dense(4, name="hidden"),
        ...     kerasdrop.ScheduledDropout(0.5, name="dropout"),
        ...     keras.layers.Dense(2),
        ... ])
        >>> layer_activations(model, "dropout", np.ones((5, 3))).shape
        (5, 4)
    """
    layer = _graph.get_layer(model, layer)
    batch_size = _graph.validate_positive_int(
        batch_size, "batch_size", allow_none=True
    )
    submodel = keras.Model(
        _graph.model_input(model), _graph.units_tensor(layer)
    )
    return _graph.predict(submodel, x, batch_size)


def compile_measures(model, layers, names, measures, example):
    """One compiled call that computes `measures` of the units of `layers`.

    Args:
        model: A Functional or Sequential model.
        layers: Layers of the model: among `model.layers` (read from the
            graph), or kerasdrop layers at any depth that run once per call
            of the model outside a loop (read while it runs).
        names: A unique name per layer (the compiled call is kept for the
            model under these names, the measures and the probe's shapes).
        measures: Names among `coadaptation.ACTIVATION_MEASURES`.
        example: The probe as tensors (`_graph.as_tensors`), whose shapes
            the call is compiled for.

    Returns:
        A function from probe tensors to a NumPy array of shape
        `(len(layers), len(measures))`, NaN for a layer whose activations
        are not finite.
    """
    measures = tuple(measures)
    top_level = {id(layer) for layer in model.layers}
    # The layers of the model's graph come first in the compiled vector.
    order = sorted(
        range(len(layers)), key=lambda index: id(layers[index]) not in top_level
    )
    key = (
        tuple(names),
        measures,
        str(
            keras.tree.map_structure(
                lambda t: (tuple(t.shape), str(t.dtype)), example
            )
        ),
    )
    compiled = _COMPILED.setdefault(model, {})
    if key not in compiled:
        graph = [layers[i] for i in order if id(layers[i]) in top_level]
        nested = [layers[i] for i in order if id(layers[i]) not in top_level]
        tensors = [_graph.units_tensor(layer) for layer in graph]
        measure_layer = _Measures(measures)
        if nested:
            measure_model = _RecordedMeasures(
                keras.Model(
                    _graph.model_input(model), tensors + list(model.outputs)
                ),
                len(tensors),
                nested,
                measure_layer,
                name="coadaptation_measures",
            )
        else:
            measure_model = keras.Model(
                _graph.model_input(model), measure_layer(tensors)
            )
        run = _graph.compile_inference(measure_model, example)
        rows = np.argsort(order)

        def measure(tensors):
            vector = np.asarray(run(tensors), dtype="float64")
            return vector.reshape(len(layers), len(measures))[rows]

        compiled[key] = measure
    return compiled[key]


class _Measures(keras.layers.Layer):
    """Computes the measures of each watched tensor, as one vector.

    For each input tensor in turn, the `measures` of
    `coadaptation.measure_tensors`, in their order.
    """

    def __init__(self, measures, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.measures = measures

    def call(self, tensors):
        values = []
        for activations in tensors:
            # Rows of the flattened activations, if the shape says.
            rows = activations.shape[:-1]
            rows = int(np.prod(rows)) if None not in rows else None
            measures = coadaptation.measure_tensors(
                activations, self.measures, num_samples=rows
            )
            values.extend(measures[name] for name in self.measures)
        return ops.stack(values)

    def compute_output_spec(self, tensors):
        # Given directly: tracing `call` symbolically costs tens of ms.
        size = len(tensors) * len(self.measures)
        return keras.KerasTensor((size,), dtype="float32")


class _RecordedMeasures(keras.layers.Layer):
    """The measures of layers in the graph and of layers inside others.

    Runs `graph_model` (the model's input to the units of the
    `num_graph_tensors` watched layers of its graph, then to its outputs,
    so that every layer runs)
    while `recording` reads what the `nested` kerasdrop layers are called
    on and return (their first call), and computes the measures of all of
    them, as `_Measures` does.
    """

    def __init__(
        self, graph_model, num_graph_tensors, nested, measures, **kwargs
    ):
        super().__init__(dtype="float32", **kwargs)
        self.graph_model = graph_model
        self.num_graph_tensors = num_graph_tensors
        self.measures = measures
        # Ids only: the layers are already tracked through `graph_model`.
        self._nested = _Untracked(nested)
        self.built = True

    def call(self, x, training=False):
        nested = self._nested.layers
        with recording(nested) as records:
            outputs = self.graph_model(x, training=False)
        # The units of the graph's watched layers, then the model's outputs.
        tensors = keras.tree.flatten(outputs)[: self.num_graph_tensors]
        for layer in nested:
            if not records[id(layer)]:
                raise ValueError(
                    f"The layer '{layer.name}' is not called when the model "
                    "runs, so it cannot be watched."
                )
            inputs, layer_outputs = records[id(layer)][0]
            tensors.append(
                inputs if _graph.reads_input(layer) else layer_outputs
            )
        return self.measures(tensors)


class _Untracked:
    """Holds layers where Keras does not track them as sublayers."""

    def __init__(self, layers):
        self.layers = list(layers)
