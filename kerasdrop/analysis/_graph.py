"""Shared helpers that read and split the graph of a Functional model."""

import contextlib

import keras
import numpy as np
from keras import ops

from kerasdrop import _compat
from kerasdrop.layers.concrete_dropout import ConcreteDropout
from kerasdrop.models.walk import is_dropout_layer

# Rows passed to one call of the model when many masked copies of the data
# go through it.
DEFAULT_ROWS_PER_CALL = 16384


def reads_input(layer):
    """Whether the units a dropout layer acts on are its input.

    They are for a recurrent dropout layer and for `ConcreteDropout`
    (which drops the inputs of the layer it wraps); a feed-forward dropout
    layer is the identity at inference, so its output holds the same
    values, and any other layer is read at its output.
    """
    recurrent = isinstance(layer, keras.layers.RNN)
    return (recurrent and is_dropout_layer(layer)) or isinstance(
        layer, ConcreteDropout
    )


def model_input(model):
    """The symbolic input of a Functional or built Sequential model."""
    try:
        return model.input
    except AttributeError:
        pass
    inputs = _inputs(model)
    return inputs[0] if len(inputs) == 1 else inputs


def _inputs(model):
    try:
        inputs = model.inputs
    except AttributeError:
        inputs = None
    if not inputs:
        raise ValueError(
            f"The model '{model.name}' has no symbolic inputs. Expected a "
            "Functional model or a Sequential model that starts with "
            "`keras.Input`; a subclassed model's layers cannot be read or "
            "split."
        )
    return inputs


def model_output(model):
    """The single symbolic output of a model, or a clear error."""
    try:
        outputs = model.outputs
    except AttributeError:
        outputs = None
    if not outputs:
        _inputs(model)  # Raises the error about subclassed models.
        outputs = []
    if len(outputs) != 1:
        raise ValueError(
            f"Expected a model with a single output. The model "
            f"'{model.name}' has {len(outputs)} outputs."
        )
    return outputs[0]


def get_layer(model, layer):
    """Returns the layer of `model` named `layer` (or `layer` itself)."""
    if isinstance(layer, str):
        try:
            return model.get_layer(layer)
        except ValueError:
            raise ValueError(
                f"No layer named '{layer}' in the model '{model.name}'. "
                f"Its layers are: {[child.name for child in model.layers]}"
            ) from None
    if not isinstance(layer, keras.layers.Layer):
        raise TypeError(
            "Invalid type received for argument `layer`. Expected a layer "
            f"or a layer name. Received: layer={layer!r} of type "
            f"{type(layer).__name__}"
        )
    if not any(child is layer for child in model.layers):
        raise ValueError(
            f"The layer '{layer.name}' is not a layer of the model "
            f"'{model.name}'."
        )
    return layer


def units_tensor(layer):
    """The symbolic tensor whose last axis holds a layer's units.

    For a dropout layer these are the units it drops, its input. A
    feed-forward dropout layer is the identity at inference, so its output
    holds the same values, and splitting the model there leaves out no path
    that bypasses the layer; a recurrent dropout layer, and
    `ConcreteDropout` (which drops the inputs of the layer it wraps), are
    read at their input. Any other layer is read at its output.
    """
    attribute = "input" if reads_input(layer) else "output"
    try:
        tensor = getattr(layer, attribute)
    except (AttributeError, ValueError):
        raise ValueError(
            f"The layer '{layer.name}' has no symbolic {attribute}: it must "
            "be part of a Functional or Sequential model."
        ) from None
    if not isinstance(tensor, keras.KerasTensor):
        raise ValueError(
            f"The layer '{layer.name}' has several {attribute}s. Expected a "
            f"layer with a single {attribute} tensor."
        )
    return tensor


def split(model, tensor):
    """Splits `model` at `tensor` into `(prefix, suffix)` models.

    `prefix` maps the model's inputs to `tensor`; `suffix` maps `tensor` to
    the model's output. Raises a clear error if some path from the inputs to
    the output avoids `tensor` (a skip connection around it).
    """
    inputs = model_input(model)
    output = model_output(model)
    prefix = keras.Model(inputs, tensor)
    try:
        suffix = keras.Model(tensor, output)
    except ValueError as error:
        raise ValueError(
            f"Cannot split the model '{model.name}' at the tensor "
            f"'{tensor.name}': some path from the model's inputs to its "
            "output does not go through it (a skip connection around the "
            f"layer?). Keras said: {error}"
        ) from None
    return prefix, suffix


def masked_outputs(suffix, activations, masks, batch_size=None):
    """Yields `(start, outputs)` for `suffix(activations * mask)`.

    `masks` has shape `(num_masks, units)` and multiplies the last axis of
    `activations`; the rows of several masks go through the model in one
    call. `outputs[k]` is the output for mask `start + k`.
    """
    num_rows = activations.shape[0]
    rows_per_call = batch_size or DEFAULT_ROWS_PER_CALL
    masks_per_call = max(1, rows_per_call // num_rows)
    broadcast = (1,) * (activations.ndim - 1)
    for start in range(0, len(masks), masks_per_call):
        chunk = masks[start : start + masks_per_call]
        chunk = chunk.reshape((len(chunk),) + broadcast + chunk.shape[-1:])
        inputs = (activations[None] * chunk).astype(activations.dtype)
        inputs = inputs.reshape((-1,) + activations.shape[1:])
        outputs = predict(suffix, inputs, batch_size)
        yield start, outputs.reshape((len(chunk), num_rows) + outputs.shape[1:])


def predict(model, x, batch_size=None):
    """Runs `model` in inference mode on `x`, in batches, as NumPy."""
    num_rows = count_rows(x)
    if batch_size is None or batch_size >= num_rows:
        return ops.convert_to_numpy(model(x, training=False))
    outputs = [
        ops.convert_to_numpy(
            model(
                keras.tree.map_structure(
                    lambda a, s=start: a[s : s + batch_size], x
                ),
                training=False,
            )
        )
        for start in range(0, num_rows, batch_size)
    ]
    return np.concatenate(outputs)


def as_tensors(x):
    """Converts every array of `x` to a backend tensor, float64 to floatx.

    Done once for data that goes through a compiled function many times.
    """

    def convert(array):
        if keras.backend.standardize_dtype(array.dtype) == "float64":
            return ops.convert_to_tensor(array, dtype=keras.config.floatx())
        return ops.convert_to_tensor(array)

    return keras.tree.map_structure(convert, x)


def compile_inference(model, example):
    """Compiles `model(x, training=False)` for inputs shaped like `example`.

    Keras's `predict_on_batch` converts and adapts its input around the
    compiled step at every call, which costs as much as a small model's
    computation. This returns a function `run(x)` that calls a compiled
    function directly and returns the output as NumPy: on TensorFlow a
    concrete `tf.function` traced once for the shapes and dtypes of
    `example` (backend tensors, as `as_tensors` makes), on JAX a `jax.jit`
    of `model.stateless_call` given the variables' current values (read
    from the variables at each call, so a callback that reaches the
    variables through `Callback.model` sees the trained weights). Other
    backends call `model` eagerly (on torch without recording gradients,
    as Keras's `predict` does); `model` may be a layer, not only a model.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        def call(*flat):
            x = keras.tree.pack_sequence_as(example, flat)
            return model(x, training=False)

        specs = [
            tf.TensorSpec(tensor.shape, tensor.dtype)
            for tensor in keras.tree.flatten(example)
        ]
        # Traced once, without AutoGraph (nothing to convert, and tracing
        # is faster), and called without `tf.function`'s dispatch.
        concrete = tf.function(call, autograph=False).get_concrete_function(
            *specs
        )

        def run(x):
            outputs = _compat.call_concrete_function(
                concrete, keras.tree.flatten(x)
            )
            return keras.tree.map_structure(lambda t: t.numpy(), outputs)

        return run
    if backend == "jax":
        import jax

        def call(trainable, non_trainable, x):
            outputs, _ = model.stateless_call(
                trainable, non_trainable, x, training=False
            )
            return outputs

        compiled = jax.jit(call)

        def run(x):
            outputs = compiled(
                [variable.value for variable in model.trainable_variables],
                [variable.value for variable in model.non_trainable_variables],
                x,
            )
            return keras.tree.map_structure(np.asarray, outputs)

        return run

    def run(x):
        with _no_gradients():
            outputs = model(x, training=False)
        return keras.tree.map_structure(ops.convert_to_numpy, outputs)

    return run


def _no_gradients():
    """On torch, `torch.no_grad()`; elsewhere a context that does nothing."""
    if keras.backend.backend() == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()


def count_rows(x, name="x"):
    """The number of rows of `x`, which every array of it must share."""
    leaves = keras.tree.flatten(x)
    shapes = [tuple(getattr(leaf, "shape", ())) for leaf in leaves]
    if not leaves or any(not shape for shape in shapes):
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected an "
            "array (or a structure of arrays) with rows first. Received: "
            f"{name} with shapes {shapes}"
        )
    rows = [shape[0] for shape in shapes]
    if len(set(rows)) > 1:
        shapes = keras.tree.map_structure(lambda leaf: tuple(leaf.shape), x)
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected arrays "
            "with the same number of rows. Received: arrays of shapes "
            f"{shapes}"
        )
    return int(rows[0])


def validate_positive_int(value, name, allow_none=False):
    if value is None and allow_none:
        return None
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, np.integer))
        or value < 1
    ):
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a "
            f"positive integer. Received: {name}={value!r}"
        )
    return int(value)
