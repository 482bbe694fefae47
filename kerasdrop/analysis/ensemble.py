"""Dropout as an ensemble: Monte-Carlo and exact averaging over masks.

A network trained with dropout on `n` units is an ensemble of `2^n`
subnetworks that share weights, one per dropout mask. Srivastava et al.
(2014, "Dropout: A Simple Way to Prevent Neural Networks from Overfitting")
approximate the ensemble's prediction by weight scaling: the ordinary
inference pass, since kerasdrop and Keras scale the kept units by
`1 / (1 - rate)` during training. For a single softmax layer after the
dropout the approximation is exact for the *normalized geometric mean* of
the subnetworks (Hinton et al., 2012; Baldi & Sadowski, 2013, "Understanding
Dropout"). This module lets you check both on your own model:

- `mc_predict` averages a sample of subnetworks (Monte-Carlo dropout, Gal &
  Ghahramani, 2016, "Dropout as a Bayesian Approximation"), with only the
  dropout layers switched on and every sample in one batched call;
- `exact_average` enumerates every mask of one small dropout layer and
  returns the arithmetic and normalized geometric means of the output.
"""

import contextlib
import functools
import warnings
import weakref

import keras
import numpy as np
from keras import ops

from kerasdrop.analysis import _graph
from kerasdrop.analysis import uncertainty
from kerasdrop.layers.rates import sampling
from kerasdrop.layers.rates import validate_rate
from kerasdrop.models import walk

MAX_EXACT_UNITS = 20
"""The most units `exact_average` enumerates (`2^20` masks)."""

DEFAULT_MC_BATCH_SIZE = _graph.DEFAULT_ROWS_PER_CALL
"""Rows per call of the model in `mc_predict` unless told otherwise (16384,
as in `exact_average`): few large calls keep the per-call cost small, and
memory stays bounded whatever `num_samples` is."""

_COMBINE = ("mean", "geometric")
_SUMMARIES = (None, "classification", "regression")

# Monte-Carlo versions of the models `mc_predict` has seen. They share the
# original layers (and so their weights and rate variables), so they stay
# valid as the model trains; they go when the model goes.
_MC_MODELS = weakref.WeakKeyDictionary()


class _AlwaysTraining(keras.layers.Layer):
    """Calls a Keras dropout layer in training mode, whatever the caller
    says."""

    def __init__(self, layer, **kwargs):
        super().__init__(
            name=f"{layer.name}_always_training",
            dtype=layer.dtype_policy,
            **kwargs,
        )
        self.layer = layer
        self.supports_masking = layer.supports_masking

    def call(self, inputs, **kwargs):
        kwargs.pop("training", None)
        return self.layer(inputs, training=True, **kwargs)

    def compute_output_spec(self, inputs, **kwargs):
        kwargs.pop("training", None)
        return self.layer.compute_output_spec(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        return self.layer.compute_mask(inputs, mask)


def _mc_model(model):
    """`(mc_model, sampled)`: the model to call for Monte-Carlo samples,
    and the kerasdrop layers to switch on while calling it.

    kerasdrop's layers are switched on by `sampling`, wherever
    they are. Keras's own dropout layers in the model's graph (nested
    Functional and Sequential models included) are switched on by a
    rebuilt graph that calls each of them in training mode; Keras's
    dropout inside other layers stays off (`_warn_fixed_dropout` says so).
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            "Invalid type received for argument `model`. Expected a "
            f"`keras.Model`. Received: model of type {type(model).__name__}"
        )
    sampled = walk.kerasdrop_dropout_layers(model)
    if model not in _MC_MODELS:
        wrapped = []

        def clone_function(layer):
            if walk.is_keras_dropout(layer):
                wrapped.append(layer)
                return _AlwaysTraining(layer)
            return layer  # Reused, so the weights are shared.

        try:
            mc_model = keras.models.clone_model(
                model, clone_function=clone_function, recursive=True
            )
        except ValueError as error:
            raise ValueError(
                "Monte-Carlo prediction rebuilds the model's graph to switch "
                "on its dropout layers alone, which needs a Functional or "
                f"Sequential model. The model '{model.name}' of type "
                f"{type(model).__name__} cannot be rebuilt: build it with "
                "the functional API (a loop of `model(x, training=True)` "
                "would also put BatchNormalization in training mode). Keras "
                f"said: {error}"
            ) from error
        if not wrapped and not sampled:
            raise ValueError(
                f"The model '{model.name}' has no dropout layer, so every "
                "Monte-Carlo sample would be the same. Dropout layers are "
                "kerasdrop's layers, at any depth, and Keras's Dropout, "
                "SpatialDropout, GaussianDropout and AlphaDropout in the "
                "model's graph (`kerasdrop.make_schedulable(model)` "
                "converts Keras's dropout inside other layers)."
            )
        _warn_fixed_dropout(model, {id(layer) for layer in wrapped}, sampled)
        # Without Keras dropout in the graph, `sampling` does everything on
        # the model itself (and a cached model would keep its key alive).
        _MC_MODELS[model] = mc_model if wrapped else None
    return _MC_MODELS[model] or model, sampled


class _SampledForward(keras.Model):
    """The Monte-Carlo model with its kerasdrop layers switched on, as a
    model of its own: `predict_on_batch` runs it as one compiled call (a
    graph on TensorFlow, a jitted function on JAX, whose seed states it
    carries from call to call) instead of layer by layer.

    The switch and Keras's float rates are read while the call is traced,
    so a forward is made for one set of sampled layers and float rates
    (`_sampled_forward` makes another when they change); kerasdrop's rates
    are variables, read at every call.
    """

    def __init__(self, mc_model, sampled):
        super().__init__(name=f"{mc_model.name}_monte_carlo")
        self.mc_model = mc_model
        # A callable, so the layers are not tracked twice.
        self._switch_on = functools.partial(sampling, tuple(sampled))

    def call(self, inputs):
        with self._switch_on():
            return self.mc_model(inputs, training=False)


def _sampled_forward(model, mc_model, sampled, targets):
    """The compiled Monte-Carlo forward of `model` (see `_SampledForward`),
    reused while the sampled layers and Keras's float rates stay as they
    were when it was traced.

    Kept in the model's `__dict__` (outside Keras's attribute tracking),
    with what it was traced for: the forward holds the model, so a table
    keyed by the model would keep it alive; there it dies with the model.
    """
    traced_for = (
        tuple(id(layer) for layer in sampled),
        tuple((t.key, t.get()) for t in targets if t.variable is None),
    )
    cached = model.__dict__.get("_kerasdrop_mc_forward")
    if cached is None or cached[0] != traced_for:
        cached = (traced_for, _SampledForward(mc_model, sampled))
        model.__dict__["_kerasdrop_mc_forward"] = cached
    return cached[1]


def _warn_fixed_dropout(model, switched_on, sampled):
    """Warns about Keras dropout that Monte-Carlo sampling cannot use as
    the user may expect: dropout inside other layers (an attention or
    recurrent layer, a subclassed block), which stays off; Keras dropout
    layers at rate 0, which draw nothing and cannot be raised; and, next
    to kerasdrop's rates, Keras dropout layers sampled at their fixed
    rate."""
    found = walk.find_unschedulable_dropout(model)
    off, zero, fixed = [], [], []
    for item in found:
        if id(item.layer) not in switched_on:
            off.append(str(item))
        elif not any(item.rates.values()):
            zero.append(str(item))
        elif sampled:
            fixed.append(str(item))
    parts = []
    if off:
        parts.append(
            "this dropout, inside other layers, stays off while sampling: "
            + ", ".join(off)
        )
    if zero:
        parts.append(
            "these Keras dropout layers are at rate 0, so they draw "
            "nothing, and their rate cannot be raised: " + ", ".join(zero)
        )
    if fixed:
        parts.append(
            "these Keras dropout layers are sampled at their fixed rate, "
            "which no schedule changed: " + ", ".join(fixed)
        )
    if parts:
        warnings.warn(
            "mc_predict: "
            + "; ".join(parts)
            + ". `kerasdrop.make_schedulable(model)` turns them into "
            "kerasdrop rates, which mc_predict samples at their current "
            "value.",
            stacklevel=4,
        )


def _log_probabilities(outputs):
    """Log of probability outputs; one sigmoid unit becomes two classes.

    Returns `None` if `outputs` are not probabilities.
    """
    outputs = np.asarray(outputs, dtype="float64")
    if outputs.min() < 0.0 or outputs.max() > 1.0 + 1e-6:
        return None
    if outputs.shape[-1] == 1:
        outputs = np.concatenate([1.0 - outputs, outputs], axis=-1)
    return np.log(np.maximum(outputs, np.finfo("float32").tiny))


def _normalized_geometric_mean(mean_log, single_output):
    """Normalizes `exp(mean_log)` over the classes (the last axis)."""
    mean_log = mean_log - mean_log.max(axis=-1, keepdims=True)
    geometric = np.exp(mean_log)
    geometric /= geometric.sum(axis=-1, keepdims=True)
    return geometric[..., 1:] if single_output else geometric


class _RateTarget:
    """One dropout rate of a layer: a kerasdrop rate variable, or the float
    `rate` attribute of one of Keras's dropout layers."""

    def __init__(self, layer, name, variable=None, holder=None):
        self.layer = layer
        self.name = name
        self.variable = variable
        self.holder = holder
        # The key `DropoutScheduler` logs (unique for layers sharing a name).
        prefix = layer.name if holder is None else holder.key
        self.key = f"{prefix}/{name}"

    def selected_by(self, key):
        if not isinstance(key, str):
            return self.layer is key
        if self.holder is not None:
            return key == self.key or walk.selects(self.holder, key)
        return key in (self.layer.name, self.key)

    def get(self):
        """The current value, exactly (an array for a variable)."""
        if self.variable is None:
            return getattr(self.layer, self.name)
        return ops.convert_to_numpy(ops.copy(self.variable))

    def set(self, value):
        if self.variable is None:
            setattr(self.layer, self.name, value)
        else:
            self.variable.assign(value)

    def is_zero(self):
        return float(np.max(self.get())) == 0.0


def _rate_targets(model):
    """Every rate of every dropout layer of `model`, nested ones included.

    kerasdrop's rates are those `DropoutScheduler` finds, under the same
    keys; Keras's own dropout layers follow, under `"<layer name>/rate"`
    (`"<layer name>/stddev"` for `GaussianNoise`).
    """
    targets = [
        _RateTarget(holder.layer, name, variable, holder)
        for holder in walk.rate_holders(model)
        for name, variable in holder.rates.items()
    ]
    targets += [
        _RateTarget(layer, name)
        for layer in walk.keras_dropout_layers(model)
        for name in walk.fixed_rates(layer)
    ]
    return targets


def _rates_for_the_pass(model, targets, rate):
    """`[(target, value)]` for `rate`, checked before anything changes."""
    if isinstance(rate, dict):
        chosen = []
        for key, value in rate.items():
            if isinstance(key, (keras.layers.Layer, str)):
                matching = [t for t in targets if t.selected_by(key)]
            else:
                raise TypeError(
                    "Invalid type received for a key of argument `rate`. "
                    "Expected a layer, a layer name or '<layer>/<rate>'. "
                    f"Received: {key!r} of type {type(key).__name__}"
                )
            if not matching:
                raise ValueError(
                    f"No dropout rate of the model '{model.name}' is named "
                    f"{key!r} (a key of argument `rate`). Its dropout "
                    f"layers and rates are: {[t.key for t in targets]}"
                )
            value = validate_rate(value, f"rate[{key!r}]")
            chosen.extend((target, value) for target in matching)
    else:
        value = validate_rate(rate, "rate")
        chosen = [(target, value) for target in targets]
    for target, value in chosen:
        if target.variable is None and value > 0.0:
            if not hasattr(target.layer, "seed_generator"):
                raise ValueError(
                    f"The layer '{target.layer.name}' (Keras's "
                    f"{type(target.layer).__name__}) was created with rate "
                    "0, so Keras gave it no random generator and it cannot "
                    "drop at another rate. `kerasdrop.make_schedulable("
                    "model)` converts it into a kerasdrop layer, whose rate "
                    "can change."
                )
    return chosen


@contextlib.contextmanager
def _rates_set_to(model, targets, rate):
    """Sets the rates `rate` asks for inside the block, then puts back
    exactly what was there, even if the block raises."""
    if rate is None:
        yield
        return
    chosen = _rates_for_the_pass(model, targets, rate)
    saved = [(target, target.get()) for target, _ in chosen]
    try:
        for target, value in chosen:
            target.set(value)
        yield
    finally:
        for target, value in saved:
            target.set(value)


def _monte_carlo_batches(x, num_rows, num_samples, batch_size):
    """Yields `(start, batch)`: rows `start:start + len(batch)` of `x`
    repeated `num_samples` times (all rows of sample 0, then of sample 1,
    ...), built one batch at a time."""
    tensors = keras.tree.map_structure(ops.convert_to_tensor, x)
    total = num_samples * num_rows
    for start in range(0, total, batch_size):
        stop = min(start + batch_size, total)
        if start // num_rows == (stop - 1) // num_rows:
            first = start % num_rows
            batch = keras.tree.map_structure(
                lambda t, a=first, b=first + stop - start: t[a:b], tensors
            )
        else:
            rows = np.arange(start, stop) % num_rows
            batch = keras.tree.map_structure(
                lambda t, r=rows: ops.take(t, r, axis=0), tensors
            )
        yield start, batch


class _RunningMoments:
    """Per-row count, mean and sum of squared deviations of the samples.

    Batches hold rows of the repeated input in order, so a batch is a tail
    of one sample's rows, some whole samples and a head of the next; each
    part is merged with Chan et al.'s update, in float64.
    """

    def __init__(self, num_rows):
        self.num_rows = num_rows
        self.count = np.zeros(num_rows)
        self.mean = None
        self.m2 = None

    def add(self, start, outputs):
        outputs = np.asarray(outputs, dtype="float64")
        if self.mean is None:
            shape = (self.num_rows,) + outputs.shape[1:]
            self.mean = np.zeros(shape)
            self.m2 = np.zeros(shape)
        index, position = 0, start % self.num_rows
        while index < len(outputs):
            if position == 0 and len(outputs) - index >= self.num_rows:
                whole = (len(outputs) - index) // self.num_rows
                block = outputs[index : index + whole * self.num_rows]
                block = block.reshape((whole,) + self.mean.shape)
                self._merge(slice(None), whole, block)
                index += whole * self.num_rows
                continue
            stop = min(self.num_rows, position + len(outputs) - index)
            part = outputs[index : index + stop - position]
            self._merge(slice(position, stop), 1, part[None])
            index += stop - position
            position = stop % self.num_rows

    def _merge(self, rows, count, block):
        mean = block.mean(axis=0)
        m2 = ((block - mean) ** 2).sum(axis=0)
        old = self.count[rows].reshape((-1,) + (1,) * (mean.ndim - 1))
        total = old + count
        delta = mean - self.mean[rows]
        self.mean[rows] += delta * (count / total)
        self.m2[rows] += m2 + delta**2 * (old * count / total)
        self.count[rows] += count

    def std(self):
        count = self.count.reshape((-1,) + (1,) * (self.mean.ndim - 1))
        return np.sqrt(self.m2 / count)


class _RunningClassSummary:
    """Per-row sums of the samples' entropies and class votes, for the
    classification summary of `mc_predict`, in float64."""

    def __init__(self, num_rows):
        self.num_rows = num_rows
        self.entropy = None
        self.votes = None

    def add(self, start, outputs):
        try:
            probabilities = uncertainty._probabilities(
                outputs, "outputs", 2, "row"
            )
        except ValueError as error:
            raise ValueError(
                'summary="classification" needs a model whose outputs are '
                "class probabilities (a softmax, or one sigmoid unit read "
                'as two classes); use summary="regression" for other '
                f"outputs. {error}"
            ) from error
        rows = (start + np.arange(len(probabilities))) % self.num_rows
        entropy = uncertainty._entropy(probabilities)
        if self.entropy is None:
            self.entropy = np.zeros((self.num_rows,) + entropy.shape[1:])
            self.votes = np.zeros(
                (self.num_rows,) + probabilities.shape[1:], "int64"
            )
        np.add.at(self.entropy, rows, entropy)
        # One vote per sample for its most probable class, counted in place
        # (no one-hot of the batch), at every position of an output of
        # rank above 2.
        classes = probabilities.shape[-1]
        choice = probabilities.argmax(axis=-1).reshape(len(rows), -1)
        positions = np.arange(choice.shape[1])
        votes = self.votes.reshape(self.num_rows, -1, classes)
        np.add.at(votes, (rows[:, None], positions[None, :], choice), 1)

    def result(self, mean, num_samples):
        """The four measures, from the arithmetic mean of the samples."""
        if mean.shape[-1] == 1:
            mean = np.concatenate([1.0 - mean, mean], axis=-1)
        predictive = uncertainty._entropy(mean)
        expected = self.entropy / num_samples
        return {
            "predictive_entropy": predictive,
            "expected_entropy": expected,
            "mutual_information": np.maximum(predictive - expected, 0.0),
            "variation_ratio": uncertainty._variation_ratio(
                self.votes, num_samples
            ),
        }


def mc_predict(
    model,
    x,
    num_samples=50,
    combine="mean",
    batch_size=DEFAULT_MC_BATCH_SIZE,
    return_samples=False,
    rate=None,
    summary=None,
):
    """Monte-Carlo dropout prediction, with only the dropout layers active.

    Runs `num_samples` subnetworks — one random dropout mask per sample and
    row — and combines their outputs. Only dropout layers are in training
    mode: kerasdrop's layers at any depth (every rate `DropoutScheduler`
    drives, inside nested models, subclassed blocks such as KerasHub's
    converted transformers, `TimeDistributed` or `Bidirectional`, and
    `ConcreteDropout`), each running its own `call` in training mode, and
    Keras's `Dropout`, `SpatialDropout1D/2D/3D`, `GaussianDropout` and
    `AlphaDropout` in the model's graph. `BatchNormalization` and every
    other layer stay in inference mode, unlike in a loop of
    `model(x, training=True)`. Keras's dropout inside other layers (a
    subclassed block, the `dropout` of Keras's attention and recurrent
    layers) stays off, with a warning: `kerasdrop.make_schedulable`
    converts it.

    The samples use the layers' **current rates**: after a schedule that
    ended at 0 (`EarlyDropout`, an annealed rate), every sample is the
    inference output and the spread is 0: if every rate of the model is 0
    and `rate` is not given, a `UserWarning` names the layers. Pass `rate`
    to sample at other rates: they are set for this call only and put back
    afterwards, also when the call fails.

    For Keras's dropout layers the model is rebuilt once (with
    `keras.models.clone_model`, reusing its layers, so the weights are
    shared and training continues to show). The input is repeated
    `num_samples` times (all rows for the first sample, then for the
    second, ...) and goes through the model `batch_size` rows at a time,
    in one compiled call per batch (traced once per model, and again after
    Keras's own float rates change): each batch is built from `x` when it
    is needed, and only the running mean and spread of the outputs are
    kept, so memory is bounded by `batch_size` rows whatever `num_samples`
    is (unless `return_samples=True`, which keeps every output).
    `summary` adds the uncertainty measures, computed on the way without
    keeping the samples.
    This needs a Functional or Sequential model with a single output; a
    model with several outputs or a subclassed model raises a
    `ValueError` (for several outputs, sample
    `keras.Model(model.inputs, model.outputs[i])`, which shares the
    layers and so the weights, once per output).

    Reference: Gal & Ghahramani, 2016, "Dropout as a Bayesian
    Approximation: Representing Model Uncertainty in Deep Learning".

    Args:
        model: A Functional or Sequential Keras model.
        x: Input data: an array (or a structure of arrays) with rows first.
        num_samples: Number of dropout masks per row.
        combine: `"mean"` for the arithmetic mean of the outputs, or
            `"geometric"` for their normalized geometric mean, for outputs
            that are probabilities (a softmax, or a single sigmoid unit read
            as two classes).
        batch_size: Rows per call of the model, out of
            `num_samples * len(x)`: 16384 by default; `None` for a single
            call of all the rows. The same seeds and `batch_size` give the
            same masks.
        return_samples: Whether to return every sample as well.
        rate: Rates for this call instead of the current ones: a float for
            every rate of every dropout layer (a zoneout rate is the
            probability of keeping the previous state), or a dict from a
            layer, a layer name or a `"<layer name>/<rate name>"` key (as
            `DropoutScheduler` logs them, e.g. `"lstm/recurrent_rate"`) to
            its rate. `None` (the default) uses the current rates.
        summary: `None` (the default) for the mean and standard deviation
            only; `"classification"` for outputs that are class
            probabilities (a softmax, or one sigmoid unit read as two
            classes): adds, per row, `"predictive_entropy"`,
            `"expected_entropy"`, `"mutual_information"` and
            `"variation_ratio"`, as the functions of the same names compute
            them from the samples (the entropies of the arithmetic mean,
            whatever `combine` is); a `ValueError` if the outputs are not
            probabilities. `"regression"` for any other outputs (a mean
            and variance per output): adds `"variance"`, the variance of
            the samples, whose square root is `"std"`.

    Returns:
        A dict with `"mean"`, the combined prediction (shape of
        `model(x)`), `"std"`, the standard deviation of the samples around
        their arithmetic mean, the measures `summary` asks for (float64,
        shape `model(x).shape[:-1]` for the classification measures, of
        `model(x)` for `"variance"`), and with `return_samples=True`,
        `"samples"` of shape `(num_samples,) + model(x).shape`.

    Examples:
        >>> model = keras.Sequential([
        ...     keras.Input((4,)),
        ...     keras.layers.Dense(8, activation="relu"),
        ...     kerasdrop.ScheduledDropout(0.5),
        ...     keras.layers.Dense(3, activation="softmax"),
        ... ])
        >>> result = kerasdrop.analysis.mc_predict(
        ...     model, np.ones((5, 4)), num_samples=10
        ... )
        >>> result["mean"].shape, result["std"].shape
        ((5, 3), (5, 3))
        >>> model.layers[1].rate = 0.0  # A schedule that ended at 0.
        >>> result = kerasdrop.analysis.mc_predict(
        ...     model, np.ones((5, 4)), num_samples=10, rate=0.3
        ... )
        >>> model.layers[1].rate  # Put back after the call.
        0.0
        >>> result = kerasdrop.analysis.mc_predict(
        ...     model, np.ones((5, 4)), num_samples=10, rate=0.3,
        ...     summary="classification",
        ... )
        >>> result["mutual_information"].shape
        (5,)
    """
    num_samples = _graph.validate_positive_int(num_samples, "num_samples")
    batch_size = _graph.validate_positive_int(
        batch_size, "batch_size", allow_none=True
    )
    if combine not in _COMBINE:
        raise ValueError(
            "Invalid value received for argument `combine`. Expected one "
            f"of {_COMBINE}. Received: combine={combine!r}"
        )
    if summary not in _SUMMARIES:
        raise ValueError(
            "Invalid value received for argument `summary`. Expected one "
            f"of {_SUMMARIES}. Received: summary={summary!r}"
        )
    mc_model, sampled = _mc_model(model)
    outputs = getattr(model, "outputs", None) or []
    if len(outputs) > 1:
        raise ValueError(
            "mc_predict expects a model with a single output. The model "
            f"'{model.name}' has {len(outputs)} outputs: sample each with "
            "`keras.Model(model.inputs, model.outputs[i])`, which shares "
            "the layers and their weights."
        )
    _graph.model_output(model)  # Raises for a subclassed model.
    num_rows = _graph.count_rows(x)
    if num_rows == 0:
        raise ValueError(
            "Invalid value received for argument `x`. Expected at least one "
            "row. Received: x with 0 rows"
        )
    total = num_samples * num_rows
    batch_size = total if batch_size is None else min(batch_size, total)
    targets = _rate_targets(model)
    with _rates_set_to(model, targets, rate):
        zero = [t.key for t in targets if t.is_zero()]
        if rate is None and len(zero) == len(targets):
            warnings.warn(
                f"Every dropout rate of the model '{model.name}' is 0 "
                f"({zero}), so every Monte-Carlo sample is the inference "
                "output and the spread is 0. mc_predict uses the current "
                "rates; pass `rate=` to sample at another rate.",
                UserWarning,
                stacklevel=2,
            )
        moments = _RunningMoments(num_rows)
        log_moments = _RunningMoments(num_rows) if combine != "mean" else None
        classes = (
            _RunningClassSummary(num_rows)
            if summary == "classification"
            else None
        )
        samples = None
        forward = _sampled_forward(model, mc_model, sampled, targets)
        for start, batch in _monte_carlo_batches(
            x, num_rows, num_samples, batch_size
        ):
            outputs = np.asarray(forward.predict_on_batch(batch))
            # Half-precision outputs (mixed precision) are averaged in
            # float32 or more.
            dtype = np.result_type(outputs.dtype, "float32")
            moments.add(start, outputs)
            if classes is not None:
                classes.add(start, outputs)
            if log_moments is not None:
                log_probabilities = _log_probabilities(outputs)
                if log_probabilities is None:
                    raise ValueError(
                        'combine="geometric" needs outputs that are '
                        "probabilities (between 0 and 1), such as a softmax. "
                        "The model's outputs range over "
                        f"[{outputs.min()}, {outputs.max()}]."
                    )
                log_moments.add(start, log_probabilities)
            if return_samples:
                if samples is None:
                    samples = np.empty((total,) + outputs.shape[1:], dtype)
                samples[start : start + len(outputs)] = outputs
    result = {"std": moments.std().astype(dtype)}
    if combine == "mean":
        result["mean"] = moments.mean.astype(dtype)
    else:
        result["mean"] = _normalized_geometric_mean(
            log_moments.mean, result["std"].shape[-1] == 1
        ).astype(dtype)
    if classes is not None:
        result.update(classes.result(moments.mean, num_samples))
    if summary == "regression":
        count = moments.count.reshape((-1,) + (1,) * (moments.m2.ndim - 1))
        result["variance"] = moments.m2 / count
    if return_samples:
        result["samples"] = samples.reshape(
            (num_samples, num_rows) + samples.shape[1:]
        )
    return result


def _binary_dropout_rate(layer, tensor):
    """The rate of a dropout layer that drops each unit of a 2D input."""
    rates = getattr(layer, "dropout_rates", None) or {}
    binary = isinstance(layer, keras.layers.Dropout) or (
        list(rates) == ["rate"] and hasattr(layer, "noise_shape")
    )
    noise_shape = getattr(layer, "noise_shape", None)
    per_unit = noise_shape is None or noise_shape[-1] in (
        None,
        tensor.shape[-1],
    )
    if not (binary and per_unit and len(tensor.shape) == 2):
        raise ValueError(
            "exact_average needs a dropout layer that drops each unit of a "
            "2D input `(batch, units)` independently, such as "
            "`kerasdrop.ScheduledDropout` or `keras.layers.Dropout`. "
            f"Received: layer '{layer.name}' of type "
            f"{type(layer).__name__} with input shape {tensor.shape}"
        )
    return float(ops.convert_to_numpy(rates["rate"]) if rates else layer.rate)


def all_masks(num_units, rate):
    """Every binary mask over `num_units` units, and its probability.

    Args:
        num_units: Number of units.
        rate: Probability of dropping each unit.

    Returns:
        `(masks, probabilities)`: a `(2**num_units, num_units)` float32 array
        of ones (kept) and zeros (dropped), and the probability of each mask,
        `(1 - rate)**kept * rate**dropped`.

    Examples:
        >>> masks, probabilities = all_masks(2, 0.25)
        >>> print(masks)
        [[0. 0.]
         [1. 0.]
         [0. 1.]
         [1. 1.]]
        >>> print(probabilities)
        [0.0625 0.1875 0.1875 0.5625]
    """
    codes = np.arange(2**num_units)[:, None]
    masks = ((codes >> np.arange(num_units)) & 1).astype("float32")
    kept = masks.sum(axis=1)
    probabilities = (1.0 - rate) ** kept * rate ** (num_units - kept)
    return masks, probabilities


def exact_average(model, x, layer, batch_size=None):
    """Averages a model's output over every mask of one dropout layer.

    For a dropout layer on `n` units (`n <= 20`; up to about 16 is quick),
    runs the part of the model after the layer on all `2^n` masks at once
    — each row repeated once per mask, the part before the layer run once —
    and weights each mask by its probability. Returns the ensemble's
    arithmetic mean and its normalized geometric mean (the geometric mean of
    the class probabilities, renormalized to sum to 1) beside the ordinary
    inference output, which is the weight-scaling approximation of both.
    Other dropout layers in the model stay in inference mode.

    For `Input -> dropout -> Dense(softmax)` the normalized geometric mean
    equals the inference output exactly, because the log-probabilities are
    linear in the mask up to a term shared by all classes; a hidden
    nonlinearity after the dropout breaks the identity.

    Reference: Srivastava et al., 2014, "Dropout: A Simple Way to Prevent
    Neural Networks from Overfitting", Section 7.5; Baldi & Sadowski, 2013,
    "Understanding Dropout".

    Args:
        model: A Functional or Sequential model with a single output; every
            path from its inputs to its output must go through `layer`.
        x: Input data.
        layer: The dropout layer (or its name): `kerasdrop.ScheduledDropout`
            or `keras.layers.Dropout` on a 2D input `(batch, units)`.
        batch_size: Rows per call of the model; defaults to large batches.

    Returns:
        A dict with `"arithmetic"` and `"geometric"` (the two means, shaped
        like `model(x)`; `"geometric"` is `None` unless the outputs are
        probabilities), `"inference"` (`model(x)` in inference mode) and
        `"num_masks"`, the number of masks with non-zero probability.

    Raises:
        ValueError: for a layer that is not such a dropout layer, or with
            more than 20 units.

    Examples:
        >>> inputs = keras.Input((6,))
        >>> dropped = kerasdrop.ScheduledDropout(0.5, name="dropout")(inputs)
        >>> outputs = keras.layers.Dense(3, activation="softmax")(dropped)
        >>> model = keras.Model(inputs, outputs)
        >>> x = np.random.default_rng(0).standard_normal((4, 6))
        >>> result = kerasdrop.analysis.exact_average(model, x, "dropout")
        >>> result["num_masks"]
        64
        >>> gap = result["geometric"] - result["inference"]
        >>> bool(np.abs(gap).max() < 1e-6)
        True
    """
    batch_size = _graph.validate_positive_int(
        batch_size, "batch_size", allow_none=True
    )
    layer = _graph.get_layer(model, layer)
    if not walk.is_dropout_layer(layer):
        raise ValueError(
            f"The layer '{layer.name}' of type {type(layer).__name__} is not "
            "a dropout layer."
        )
    tensor = _graph.units_tensor(layer)
    rate = _binary_dropout_rate(layer, tensor)
    num_units = tensor.shape[-1]
    if num_units is None:
        raise ValueError(
            "exact_average needs the number of units of the dropout layer "
            f"'{layer.name}' from the model's graph, to enumerate its "
            f"masks; its input has shape {tensor.shape}. Build the model "
            "with a known last dimension, such as `keras.Input((units,))`."
        )
    if num_units > MAX_EXACT_UNITS:
        raise ValueError(
            f"The dropout layer '{layer.name}' has {num_units} units: "
            f"enumerating its 2^{num_units} masks is too much. exact_average "
            f"handles up to {MAX_EXACT_UNITS} units; use mc_predict for "
            "larger layers."
        )
    masks, probabilities = all_masks(num_units, rate)
    possible = probabilities > 0.0
    masks, probabilities = masks[possible], probabilities[possible]
    # Kept units are scaled by 1 / (1 - rate), as in training; rate 1 keeps
    # only the all-zero mask.
    scale = 1.0 / (1.0 - rate) if rate < 1.0 else 0.0
    prefix, suffix = _graph.split(model, tensor)
    activations = _graph.predict(prefix, x, batch_size)
    arithmetic = 0.0
    log_sum = 0.0
    for start, outputs in _graph.masked_outputs(
        suffix, activations, masks * np.float32(scale), batch_size
    ):
        weights = probabilities[start : start + len(outputs)]
        weights = weights.reshape((-1,) + (1,) * (outputs.ndim - 1))
        arithmetic = arithmetic + np.sum(weights * outputs, axis=0)
        log_probabilities = (
            _log_probabilities(outputs) if log_sum is not None else None
        )
        log_sum = (
            None
            if log_probabilities is None
            else log_sum + np.sum(weights * log_probabilities, axis=0)
        )
    inference = _graph.predict(model, x, batch_size)
    geometric = None
    if log_sum is not None:
        geometric = _normalized_geometric_mean(
            log_sum, inference.shape[-1] == 1
        ).astype(inference.dtype)
    return {
        "arithmetic": arithmetic.astype(inference.dtype),
        "geometric": geometric,
        "inference": inference,
        "num_masks": int(len(masks)),
    }
