"""Dropout rates that live in the compiled graph.

Keras stores `Dropout.rate` as a Python float, so the value is frozen into the
train step when `fit` traces it. kerasdrop keeps every rate as a non-trainable
float32 variable of its layer instead, the way an optimizer keeps its learning
rate: a schedule changes it with `assign`, the compiled step reads it, and
nothing is traced again.

Rate variables are layer *state*, like the state of a `SeedGenerator`: they
are in `layer.variables` and `layer.non_trainable_variables` (so every backend
and distribution strategy carries them through compiled steps) and they are
saved in `.keras` files, but they are not in `layer.weights`. A model built
with kerasdrop layers therefore has the same `get_weights()` list as the same
model built with Keras's own layers.
"""

import contextlib
import contextvars
import functools
import inspect
import math
import numbers

import numpy as np
from keras import ops

from kerasdrop import _compat


def validate_rate(value, name="rate"):
    """Returns `value` as a float in [0, 1], or raises a clear error.

    Args:
        value: The candidate rate: a Python or NumPy real number, or a scalar
            tensor.
        name: The argument name to use in error messages.

    Returns:
        The rate as a Python float.

    Raises:
        TypeError: if `value` is not a real number.
        ValueError: if `value` is NaN or outside [0, 1].

    Examples:
        >>> validate_rate(0.25)
        0.25
        >>> validate_rate(1.5)
        Traceback (most recent call last):
        ...
        ValueError: Invalid value received for argument `rate`. Expected a float between 0 and 1. Received: rate=1.5
    """  # noqa: E501
    if isinstance(value, (str, bytes, bool, np.bool_)) or value is None:
        raise TypeError(
            f"Invalid type received for argument `{name}`. Expected a float "
            f"between 0 and 1. Received: {name}={value!r} "
            f"of type {type(value).__name__}"
        )
    if not isinstance(value, numbers.Real):
        try:
            array = np.asarray(ops.convert_to_numpy(value))
        except Exception:
            array = None
        if array is None or array.shape != () or array.dtype.kind not in "fiu":
            raise TypeError(
                f"Invalid type received for argument `{name}`. Expected a "
                f"float between 0 and 1. Received: {name}={value!r} "
                f"of type {type(value).__name__}"
            )
        value = array.item()
    value = float(value)
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a float "
            f"between 0 and 1. Received: {name}={value}"
        )
    return value


def read_rate(variable):
    """Returns a rate variable's value as a Python float.

    The float is the shortest decimal that is the stored float32 (0.1, not
    0.10000000149011612), so configs and logs read as the rate was set.
    """
    # Read through a tensor copy: NumPy 2 warns on `np.array(variable)`.
    return float(
        str(np.float32(ops.convert_to_numpy(ops.copy(variable)).item()))
    )


class Rate:
    """A class attribute that exposes a rate variable as a float property.

    Reading `layer.rate` gives the current value as a Python float; assigning
    `layer.rate = 0.3` validates the value and assigns it to the variable, so
    the change reaches already-compiled `fit`/`predict` functions. The first
    assignment (in `__init__`) creates the variable. Inside `call`, read the
    variable itself (`self.dropout_rates["rate"]`), never the float.

    Args:
        doc: Docstring of the property.
    """

    def __init__(self, doc=None):
        self.__doc__ = doc

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, layer, owner=None):
        if layer is None:
            return self
        variable = layer.__dict__.get("_dropout_rate_variables", {}).get(
            self.name
        )
        if variable is None:  # Not created yet: `__init__` is running.
            return None
        return read_rate(variable)

    def __set__(self, layer, value):
        value = validate_rate(value, self.name)
        variables = layer.__dict__.setdefault("_dropout_rate_variables", {})
        if self.name in variables:
            assign_rate(variables[self.name], value)
            return
        variables[self.name] = layer.add_weight(
            shape=(),
            initializer=_constant(value),
            dtype="float32",
            trainable=False,
            autocast=False,
            name=self.name,
        )


def assign_rate(variable, value):
    """Assigns a validated rate to a rate variable, also during a JAX `fit`.

    Args:
        variable: A rate variable (see `RateMixin.dropout_rates`).
        value: The new rate, a float in [0, 1].
    """
    _compat.sync_jax_fit_state(variable)
    # A float32 tensor per assignment: JAX would otherwise share one buffer
    # between variables assigned the same array.
    variable.assign(ops.convert_to_tensor(value, "float32"))


def _constant(value):
    import keras

    return keras.initializers.Constant(value)


# Ids of the layers that `sampling` switches on, in this thread or task.
_SAMPLED = contextvars.ContextVar("kerasdrop_sampled", default=frozenset())


@contextlib.contextmanager
def sampling(layers):
    """Calls each of `layers` in training mode inside the block.

    Monte-Carlo prediction runs a model in inference mode with its dropout
    alone switched on. A dropout layer inside a subclassed block, an RNN or
    a `TimeDistributed` is called by its owner (with the owner's
    `training`), not by the model's graph, so no rebuilt graph reaches it.
    Every layer with `SamplingSwitch` therefore checks, in its own `call`,
    whether it is one of `layers` here: then it runs with `training=True`,
    whatever its caller passes, and the layers around it (BatchNorm
    included) stay as they were called.

    Args:
        layers: Layers that have `SamplingSwitch` (kerasdrop's layers).
    """
    token = _SAMPLED.set(_SAMPLED.get() | {id(layer) for layer in layers})
    try:
        yield
    finally:
        _SAMPLED.reset(token)


# Layer id -> list of `(inputs, outputs)` of its calls, under `recording`.
_RECORDED = contextvars.ContextVar("kerasdrop_recorded", default=None)


@contextlib.contextmanager
def recording(layers):
    """Records what each of `layers` is called on and returns, in the block.

    Yields a dict from each layer's id to the list of `(inputs, outputs)` of
    its calls in the block, in order (`inputs` is the first argument). This
    reads the activations around a dropout layer inside a subclassed block,
    which no symbolic graph reaches; `CoAdaptationMonitor` traces the model
    inside it.

    Args:
        layers: Layers that have `SamplingSwitch` (kerasdrop's layers).
    """
    records = {id(layer): [] for layer in layers}
    token = _RECORDED.set(records)
    try:
        yield records
    finally:
        _RECORDED.reset(token)


def _switchable(call):
    """`call`, taking `training=True` for a layer that `sampling` names,
    and recorded for a layer that `recording` names."""
    names = list(inspect.signature(call).parameters)
    if "training" not in names:
        return call
    position = names.index("training") - 1  # Among the arguments after self.

    @functools.wraps(call)
    def switchable_call(self, *args, **kwargs):
        if id(self) in _SAMPLED.get():
            if len(args) > position:
                args = args[:position] + (True,) + args[position + 1 :]
            else:
                kwargs["training"] = True
        records = _RECORDED.get()
        if records is None or id(self) not in records:
            return call(self, *args, **kwargs)
        outputs = call(self, *args, **kwargs)
        inputs = args[0] if args else next(iter(kwargs.values()))
        records[id(self)].append((inputs, outputs))
        return outputs

    switchable_call.switchable = True
    return switchable_call


class SamplingSwitch:
    """Lets `sampling` switch a layer's dropout on from outside.

    Every subclass's `call` (its own or the one it inherits, Keras's
    `RNN.call` say) is wrapped once, when the class is made, so that it
    takes `training=True` while `sampling` names the layer, and records
    its inputs and outputs while `recording` names it. Outside both the
    wrapper only passes the call on.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        call = getattr(cls, "call", None)
        if call is not None and not getattr(call, "switchable", False):
            cls.call = _switchable(call)


class RateMixin(SamplingSwitch):
    """Gives a Keras layer schedulable dropout rates.

    Declare each rate as a class attribute, `rate = Rate()`, and assign it in
    `__init__` after `super().__init__()`. The mixin then provides:

    - `dropout_rates`: a mapping from rate name to its float32 variable, which
      is what `kerasdrop.callbacks.DropoutScheduler` drives;
    - `weights` without the rate variables, so `get_weights()` and
      `set_weights()` match the equivalent Keras layer;
    - a `call` that `sampling` can switch into training mode (see
      `SamplingSwitch`).

    A layer that wraps another kerasdrop layer (an RNN around a cell, say)
    exposes the inner rates by overriding `dropout_rates`.

    Layers only read their rates. What changes them -- `layer.rate = x`, or
    `kerasdrop.callbacks.DropoutScheduler`, which computes per-batch rates
    once per train step from the optimizer's iterations -- lives outside
    the layer, so a layer called several times in one step (inside
    `TimeDistributed`, or shared by two branches) uses one rate per step.
    """

    @property
    def dropout_rates(self):
        """Dict from rate name to the non-trainable float32 rate variable."""
        return dict(self.__dict__.get("_dropout_rate_variables", {}))

    @property
    def weights(self):
        hidden = {id(v) for v in self.dropout_rates.values()}
        return [w for w in super().weights if id(w) not in hidden]


def copy_layer_state(source, target):
    """Copies a layer's weights and current rates onto its twin.

    The rates are copied as values, not as variables: on JAX, assigning one
    variable to another would share a buffer between the two layers.

    Args:
        source: The layer to copy from.
        target: A layer of the same kind and shape.
    """
    target.set_weights(source.get_weights())
    for name, variable in getattr(source, "dropout_rates", {}).items():
        target.dropout_rates[name].assign(ops.convert_to_numpy(variable))
