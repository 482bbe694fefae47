"""Rate schedules: the dropout rate as a pure function of training progress.

A schedule is called as `schedule(step) -> rate`, where `step` counts epochs
or batches (the `DropoutScheduler` callback decides which). Schedules
serialize like Keras's learning-rate schedules (`get_config`/`from_config`,
registered under the `kerasdrop` package). Anywhere kerasdrop takes a
schedule it also takes a `keras.optimizers.schedules.LearningRateSchedule`, a
plain callable `step -> rate`, or a number (a constant rate).

References:
    - Rennie, Goel and Thomas, 2014, "Annealed Dropout Training of Deep
      Networks" (`Linear` to 0).
    - Morerio et al., 2017, "Curriculum Dropout" (`Curriculum`).
    - Liu et al., 2023, "Dropout Reduces Underfitting" (`EarlyDropout`,
      `LateDropout`).
"""

import math
import numbers

import keras
import numpy as np
from keras import ops

from kerasdrop.layers.rates import validate_rate


def _check_number(value, name, minimum=None, strict=False, integer=False):
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        expected = "an integer" if integer else "a number"
        raise TypeError(
            f"Invalid type received for argument `{name}`. Expected "
            f"{expected}. Received: {name}={value!r}"
        )
    value = int(value) if integer else float(value)
    # Infinity is refused too: `gamma=inf` would give a NaN rate.
    if not math.isfinite(value) or (
        minimum is not None
        and (value <= minimum if strict else value < minimum)
    ):
        bound = ""
        if minimum is not None:
            bound = f" > {minimum}" if strict else f" >= {minimum}"
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a "
            f"finite value{bound}. Received: {name}={value}"
        )
    return value


def _fraction_done(step, duration):
    return min(max(float(step), 0.0) / duration, 1.0)


def _graph_step(step):
    """A step tensor as float32, negative steps counted as 0."""
    return ops.maximum(ops.cast(step, "float32"), 0.0)


def _graph_reached(step, threshold):
    """Whether an integer step tensor is >= `threshold`, exactly.

    Compared as integers: a float32 step loses its last digits past 2**24
    steps, and a switch would happen a step early or late.
    """
    threshold = math.ceil(threshold)  # step >= b <=> step >= ceil(b).
    dtype = ops.dtype(step)
    if "int" not in dtype:
        return ops.greater_equal(step, threshold)
    if threshold > np.iinfo(dtype).max:  # Never reached by such a step.
        return ops.not_equal(step, step)
    return ops.greater_equal(step, ops.convert_to_tensor(threshold, dtype))


def _graph_fraction_done(step, duration):
    return ops.minimum(_graph_step(step) / duration, 1.0)


class RateSchedule:
    """Base class of kerasdrop's rate schedules.

    Subclasses implement `__call__(step) -> float` and `get_config()`. Any
    subclass registered with `keras.saving.register_keras_serializable`
    serializes with `keras.saving.serialize_keras_object`.

    A subclass may also implement `graph_value(step)`: the same rate as a
    float32 tensor, written with `keras.ops`, for a step that is an integer
    tensor. With it, `DropoutScheduler(unit="batch")` computes the rate
    inside the compiled train step, with no work in Python between batches.
    """

    def __call__(self, step):
        raise NotImplementedError(
            f"{type(self).__name__} must implement `__call__(step)`."
        )

    def graph_value(self, step):
        """The rate at `step` (an integer tensor) as a float32 tensor."""
        raise NotImplementedError(
            f"{type(self).__name__} does not implement `graph_value(step)`."
        )

    def get_config(self):
        raise NotImplementedError(
            f"{type(self).__name__} must implement `get_config()`."
        )

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


@keras.saving.register_keras_serializable(package="kerasdrop")
class Constant(RateSchedule):
    """The same rate at every step.

    Args:
        rate: Float in [0, 1].

    Examples:
        >>> kerasdrop.schedules.Constant(0.3)(10)
        0.3
    """

    def __init__(self, rate):
        self.rate = validate_rate(rate, "rate")

    def __call__(self, step):
        return self.rate

    def graph_value(self, step):
        return ops.cast(self.rate, "float32")

    def get_config(self):
        return {"rate": self.rate}


@keras.saving.register_keras_serializable(package="kerasdrop")
class Linear(RateSchedule):
    """Moves linearly from `start` to `end` over `duration` steps, then holds.

    With `end=0` this is annealed dropout (Rennie et al., 2014).

    Args:
        start: Rate at step 0, in [0, 1].
        end: Rate from step `duration` on, in [0, 1].
        duration: Number of steps of the ramp, > 0.

    Examples:
        >>> schedule = kerasdrop.schedules.Linear(0.5, 0.0, duration=10)
        >>> [schedule(step) for step in (0, 5, 10, 20)]
        [0.5, 0.25, 0.0, 0.0]
    """

    def __init__(self, start, end, duration):
        self.start = validate_rate(start, "start")
        self.end = validate_rate(end, "end")
        self.duration = _check_number(duration, "duration", 0, strict=True)

    def __call__(self, step):
        done = _fraction_done(step, self.duration)
        return self.start + (self.end - self.start) * done

    def graph_value(self, step):
        done = _graph_fraction_done(step, self.duration)
        return self.start + (self.end - self.start) * done

    def get_config(self):
        return {"start": self.start, "end": self.end, "duration": self.duration}


@keras.saving.register_keras_serializable(package="kerasdrop")
class Cosine(RateSchedule):
    """Moves from `start` to `end` along half a cosine, then holds.

    Args:
        start: Rate at step 0, in [0, 1].
        end: Rate from step `duration` on, in [0, 1].
        duration: Number of steps of the ramp, > 0.

    Examples:
        >>> schedule = kerasdrop.schedules.Cosine(0.5, 0.1, duration=10)
        >>> [round(schedule(step), 3) for step in (0, 5, 10)]
        [0.5, 0.3, 0.1]
    """

    def __init__(self, start, end, duration):
        self.start = validate_rate(start, "start")
        self.end = validate_rate(end, "end")
        self.duration = _check_number(duration, "duration", 0, strict=True)

    def __call__(self, step):
        done = _fraction_done(step, self.duration)
        weight = 0.5 * (1.0 + math.cos(math.pi * done))
        return self.end + (self.start - self.end) * weight

    def graph_value(self, step):
        done = _graph_fraction_done(step, self.duration)
        weight = 0.5 * (1.0 + ops.cos(math.pi * done))
        return self.end + (self.start - self.end) * weight

    def get_config(self):
        return {"start": self.start, "end": self.end, "duration": self.duration}


@keras.saving.register_keras_serializable(package="kerasdrop")
class Exponential(RateSchedule):
    """Decays exponentially from `start` towards `end`.

    `rate(step) = end + (start - end) * decay_rate ** (step / decay_steps)`.

    Args:
        start: Rate at step 0, in [0, 1].
        decay_rate: Factor applied to the gap to `end` every `decay_steps`,
            in (0, 1].
        decay_steps: Number of steps per factor of `decay_rate`, > 0.
        end: The rate approached as training goes on, in [0, 1].

    Examples:
        >>> schedule = kerasdrop.schedules.Exponential(0.4, decay_rate=0.5)
        >>> [schedule(step) for step in (0, 1, 2)]
        [0.4, 0.2, 0.1]
    """

    def __init__(self, start, decay_rate, decay_steps=1, end=0.0):
        self.start = validate_rate(start, "start")
        self.decay_rate = _check_number(
            decay_rate, "decay_rate", 0, strict=True
        )
        if self.decay_rate > 1:
            raise ValueError(
                "Invalid value received for argument `decay_rate`. Expected "
                f"a value in (0, 1]. Received: decay_rate={decay_rate}"
            )
        self.decay_steps = _check_number(
            decay_steps, "decay_steps", 0, strict=True
        )
        self.end = validate_rate(end, "end")

    def __call__(self, step):
        exponent = max(float(step), 0.0) / self.decay_steps
        return self.end + (self.start - self.end) * self.decay_rate**exponent

    def graph_value(self, step):
        exponent = _graph_step(step) / self.decay_steps
        factor = ops.exp(exponent * math.log(self.decay_rate))
        return self.end + (self.start - self.end) * factor

    def get_config(self):
        return {
            "start": self.start,
            "decay_rate": self.decay_rate,
            "decay_steps": self.decay_steps,
            "end": self.end,
        }


@keras.saving.register_keras_serializable(package="kerasdrop")
class Curriculum(RateSchedule):
    """Curriculum dropout: the rate rises from 0 towards a target.

    Morerio et al. (2017) define the keep probability as
    `theta(t) = (1 - theta_bar) * exp(-gamma * t) + theta_bar`, so the rate
    `1 - theta(t) = rate * (1 - exp(-gamma * t))` starts at 0 (easy examples
    first) and approaches `rate`.

    Reference: Morerio et al., 2017, "Curriculum Dropout".

    Args:
        rate: The target rate `1 - theta_bar`, in [0, 1].
        gamma: Speed of the rise per step, > 0. The paper uses
            `10 / total_steps`.

    Examples:
        >>> schedule = kerasdrop.schedules.Curriculum(0.5, gamma=1.0)
        >>> [round(schedule(step), 3) for step in (0, 1, 10)]
        [0.0, 0.316, 0.5]
    """

    def __init__(self, rate, gamma):
        self.rate = validate_rate(rate, "rate")
        self.gamma = _check_number(gamma, "gamma", 0, strict=True)

    def __call__(self, step):
        return self.rate * (1.0 - math.exp(-self.gamma * max(float(step), 0)))

    def graph_value(self, step):
        return self.rate * (1.0 - ops.exp(-self.gamma * _graph_step(step)))

    def get_config(self):
        return {"rate": self.rate, "gamma": self.gamma}


_EARLY_MODES = ("constant", "linear")


@keras.saving.register_keras_serializable(package="kerasdrop")
class EarlyDropout(RateSchedule):
    """Dropout for the first `cutoff` steps only (Liu et al., 2023).

    In `"constant"` mode the rate is `rate` before `cutoff`; in `"linear"`
    mode it falls linearly from `rate` to 0 at `cutoff`. From `cutoff` on it
    is 0. Early dropout helps underfitting models.

    Reference: Liu et al., 2023, "Dropout Reduces Underfitting".

    Args:
        rate: Rate at the start, in [0, 1].
        cutoff: First step without dropout, an integer >= 0.
        mode: `"constant"` or `"linear"`.

    Examples:
        >>> schedule = kerasdrop.schedules.EarlyDropout(0.2, cutoff=3)
        >>> [schedule(step) for step in range(5)]
        [0.2, 0.2, 0.2, 0.0, 0.0]
    """

    def __init__(self, rate, cutoff, mode="constant"):
        self.rate = validate_rate(rate, "rate")
        self.cutoff = _check_number(cutoff, "cutoff", 0, integer=True)
        if mode not in _EARLY_MODES:
            raise ValueError(
                "Invalid value received for argument `mode`. Expected one of "
                f"{_EARLY_MODES}. Received: mode={mode!r}"
            )
        self.mode = mode

    def __call__(self, step):
        if step >= self.cutoff:
            return 0.0
        if self.mode == "linear":
            # Only a negative step reaches here when cutoff is 0.
            done = max(float(step), 0.0) / max(self.cutoff, 1)
            return self.rate * (1.0 - done)
        return self.rate

    def graph_value(self, step):
        value = ops.cast(self.rate, "float32")
        if self.mode == "linear":
            done = _graph_step(step) / max(self.cutoff, 1)
            value = self.rate * (1.0 - done)
        return ops.where(_graph_reached(step, self.cutoff), 0.0, value)

    def get_config(self):
        return {"rate": self.rate, "cutoff": self.cutoff, "mode": self.mode}


@keras.saving.register_keras_serializable(package="kerasdrop")
class LateDropout(RateSchedule):
    """No dropout until `cutoff`, then `rate` (Liu et al., 2023).

    Late dropout regularizes overfitting models once they have fitted the
    easy part of the data.

    Reference: Liu et al., 2023, "Dropout Reduces Underfitting".

    Args:
        rate: Rate from `cutoff` on, in [0, 1].
        cutoff: First step with dropout, an integer >= 0.

    Examples:
        >>> schedule = kerasdrop.schedules.LateDropout(0.3, cutoff=2)
        >>> [schedule(step) for step in range(4)]
        [0.0, 0.0, 0.3, 0.3]
    """

    def __init__(self, rate, cutoff):
        self.rate = validate_rate(rate, "rate")
        self.cutoff = _check_number(cutoff, "cutoff", 0, integer=True)

    def __call__(self, step):
        return self.rate if step >= self.cutoff else 0.0

    def graph_value(self, step):
        return ops.where(_graph_reached(step, self.cutoff), self.rate, 0.0)

    def get_config(self):
        return {"rate": self.rate, "cutoff": self.cutoff}


@keras.saving.register_keras_serializable(package="kerasdrop")
class Piecewise(RateSchedule):
    """A constant rate on each interval between boundaries.

    The rate is `values[0]` for `step < boundaries[0]`, `values[i]` for
    `boundaries[i - 1] <= step < boundaries[i]`, and `values[-1]` from the
    last boundary on.

    Args:
        boundaries: Strictly increasing steps, a list of n numbers.
        values: n + 1 rates in [0, 1].

    Examples:
        >>> schedule = kerasdrop.schedules.Piecewise([2, 4], [0.5, 0.3, 0.1])
        >>> [schedule(step) for step in range(6)]
        [0.5, 0.5, 0.3, 0.3, 0.1, 0.1]
    """

    def __init__(self, boundaries, values):
        boundaries = [
            _check_number(b, f"boundaries[{i}]")
            for i, b in enumerate(boundaries)
        ]
        values = [
            validate_rate(v, f"values[{i}]") for i, v in enumerate(values)
        ]
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                "Invalid value received for argument `values`. Expected one "
                "more value than boundaries. Received: "
                f"{len(boundaries)} boundaries and {len(values)} values"
            )
        if any(b >= c for b, c in zip(boundaries, boundaries[1:])):
            raise ValueError(
                "Invalid value received for argument `boundaries`. Expected "
                f"strictly increasing steps. Received: boundaries={boundaries}"
            )
        self.boundaries = boundaries
        self.values = values

    def __call__(self, step):
        index = int(np.searchsorted(self.boundaries, step, side="right"))
        return self.values[index]

    def graph_value(self, step):
        # The number of boundaries at or below `step`, as `searchsorted`.
        index = sum(
            ops.cast(_graph_reached(step, b), "int32") for b in self.boundaries
        )
        values = ops.convert_to_tensor(self.values, "float32")
        return ops.take(values, index)

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values}


def get(identifier):
    """Returns a schedule from a schedule, number, config dict or callable.

    Args:
        identifier: A `RateSchedule`, a Keras `LearningRateSchedule`, a
            callable `step -> rate` or `(step, current_rate) -> rate`, a
            number (a `Constant` rate), or a dict
            made by `keras.saving.serialize_keras_object`.

    Returns:
        A callable `step -> rate`.

    Raises:
        TypeError: if `identifier` is none of these.

    Examples:
        >>> kerasdrop.schedules.get(0.2)
        Constant(rate=0.2)
    """
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    if isinstance(identifier, numbers.Real) and not isinstance(
        identifier, bool
    ):
        return Constant(identifier)
    if callable(identifier) and not isinstance(identifier, keras.layers.Layer):
        return identifier
    raise TypeError(
        "Invalid value received for argument `schedule`. Expected a "
        "kerasdrop schedule, a keras.optimizers.schedules."
        "LearningRateSchedule, a callable `step -> rate` or a number. "
        f"Received: schedule={identifier!r}"
    )


def evaluate(schedule, step, current_rate=None):
    """Calls `schedule(step)` and returns the result as a Python float.

    With `current_rate`, calls `schedule(step, current_rate)` instead, the
    form `keras.callbacks.LearningRateScheduler` takes.

    The result is not validated, so a caller can name the layer and step in
    its error message. Tensors returned by Keras learning-rate schedules are
    converted.

    Raises:
        TypeError: if the schedule returns something that is not a real
            scalar.
    """
    if current_rate is None:
        value = schedule(step)
    else:
        value = schedule(step, current_rate)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    try:
        array = np.asarray(ops.convert_to_numpy(value))
    except Exception:
        array = None
    if (
        isinstance(value, (str, bytes, bool))
        or array is None
        or array.shape != ()
        or array.dtype.kind not in "fiu"
    ):
        raise TypeError(
            f"The schedule {schedule!r} returned {value!r} at step {step}. "
            "Expected a float between 0 and 1."
        )
    return float(array)
