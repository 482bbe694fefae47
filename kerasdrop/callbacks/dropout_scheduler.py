"""A callback that drives kerasdrop rates from schedules during `fit`."""

import collections
import inspect
import math
import warnings

import keras
from keras import ops

from kerasdrop import _compat
from kerasdrop import schedules as schedules_lib
from kerasdrop.callbacks import _train_step
from kerasdrop.layers.rates import assign_rate
from kerasdrop.layers.rates import read_rate
from kerasdrop.models.walk import find_unschedulable_dropout
from kerasdrop.models.walk import rate_holders
from kerasdrop.models.walk import selects

_UNITS = ("epoch", "batch")

# One rate the callback drives. `in_graph`: computed inside the compiled
# train step from the optimizer's count of train steps, rather than
# assigned from Python. `base`: what a relative schedule multiplies (1
# otherwise).
_Target = collections.namedtuple(
    "_Target", ["key", "variable", "schedule", "in_graph", "base"]
)


def _takes_current_rate(schedule):
    """Whether a plain callable has Keras's `(epoch, current_rate)` form."""
    if isinstance(schedule, schedules_lib.RateSchedule) or not callable(
        schedule
    ):
        return False
    try:
        parameters = inspect.signature(schedule).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [
        p
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return len(positional) >= 2 and all(
        p.default is p.empty for p in positional[:2]
    )


def _has_graph_value(schedule):
    return (
        isinstance(schedule, schedules_lib.RateSchedule)
        and type(schedule).graph_value
        is not schedules_lib.RateSchedule.graph_value
    )


class DropoutScheduler(keras.callbacks.Callback):
    """Sets kerasdrop dropout rates from schedules during training.

    Each step of a schedule is an epoch (`unit="epoch"`) or a training step
    (`unit="batch"`), counted as Keras counts them: the epoch index, or the
    optimizer's count of train steps (its `iterations`; under gradient
    accumulation, where `iterations` counts weight updates, still the train
    steps, which Keras's learning-rate schedules also read). So
    `initial_epoch`, a later `fit` and a run resumed by
    `keras.callbacks.BackupAndRestore` continue the schedule where it was,
    like Keras's learning-rate schedules.

    With `unit="batch"`, kerasdrop's own schedules are computed inside the
    compiled train step, from the optimizer's count of train steps, once
    per step and before the forward pass: there is no work in Python between
    batches, rates also change between the steps of one execution when
    `steps_per_execution > 1`, and a layer called several times in a step
    (inside `TimeDistributed`, or shared by two branches) uses one rate.
    Keras learning-rate schedules and plain callables are computed in
    Python and assigned before every batch (once per execution). With
    `unit="epoch"`, every schedule is computed and assigned at the start of
    each epoch.

    The train step also writes every rate it used into its logs, under
    `"<layer name>/<rate name>"` (for example `"dropout/rate"`; a layer
    whose name appears twice in the model is named by its path, such as
    `"block_1/dropout/rate"`; see `find_rates`). History, CSVLogger,
    TensorBoard and the progress bar therefore record the values the step
    ran with, as the float32 numbers they are, in whatever order the
    callbacks come. Once `fit` ends -- or dies -- the model trains with its
    plain train step again: rates set by hand (`layer.rate = 0.3`) hold.

    Args:
        schedule: One schedule for every selected rate, or a dict from layer
            name to schedule, or from layer name to a dict from rate name
            (`"rate"`, `"cell_rate"`, ...) to schedule. A schedule is a
            `kerasdrop.schedules` object, a Keras `LearningRateSchedule`, a
            callable `step -> rate` or `(step, current_rate) -> rate` (the
            form `keras.callbacks.LearningRateScheduler` takes), or a number.
        layers: With a single schedule, the layers it drives: layer objects,
            names, or paths of names as `find_rates` gives them (a name
            shared by several layers selects them all). `None` (the
            default) drives every kerasdrop rate in the model.
        unit: `"epoch"` or `"batch"`: what a step of the schedule is.
        relative: If `True`, a schedule gives a factor of each rate's base
            value rather than the rate itself, so per-layer proportions
            survive: `EarlyDropout(1.0, cutoff=10)` keeps every rate at its
            own value for 10 epochs, then sets them all to 0. The base of a
            rate is its value when this callback is first used with the
            model (before `BackupAndRestore` restores anything).
        verbose: 0 for quiet, 1 to print the rates each epoch starts with,
            when they change (epochs counted from 1, as in Keras's
            progress bar).

    Examples:
        >>> model = keras.Sequential([
        ...     keras.Input((8,)),
        ...     keras.layers.Dense(8),
        ...     kerasdrop.ScheduledDropout(0.5, name="dropout"),
        ...     keras.layers.Dense(1),
        ... ])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> scheduler = kerasdrop.callbacks.DropoutScheduler(
        ...     kerasdrop.schedules.Linear(0.5, 0.0, duration=2)
        ... )
        >>> x, y = np.ones((16, 8)), np.ones((16, 1))
        >>> history = model.fit(
        ...     x, y, epochs=3, callbacks=[scheduler], verbose=0
        ... )
        >>> history.history["dropout/rate"]
        [0.5, 0.25, 0.0]
    """

    # Nothing runs at batch end; the rates reach the logs through the step.
    async_safe = True

    def __init__(
        self, schedule, layers=None, unit="epoch", relative=False, verbose=0
    ):
        super().__init__()
        if unit not in _UNITS:
            raise ValueError(
                "Invalid value received for argument `unit`. Expected one of "
                f"{_UNITS}. Received: unit={unit!r}"
            )
        per_layer = isinstance(schedule, dict) and not _is_config(schedule)
        if layers is not None:
            if per_layer:
                raise ValueError(
                    "Pass either a dict of schedules or `layers`, not both. "
                    f"Received: layers={layers}"
                )
            layers = _check_layers(layers)
        if per_layer:
            if not schedule:
                raise ValueError(
                    "Invalid value received for argument `schedule`. "
                    "Expected a schedule or a non-empty dict. "
                    "Received: schedule={}"
                )
            self._by_layer = {
                name: _get_per_rate(value) for name, value in schedule.items()
            }
        else:
            self._by_layer = None
            schedule = schedules_lib.get(schedule)
        self.schedule = schedule
        self.layers = layers
        self.unit = unit
        self.relative = bool(relative)
        self.verbose = verbose
        self._targets = []
        self._bases = {}  # id(variable) -> (variable, base rate)
        self._epoch_start_step = 0
        self._printed = {}

    def set_model(self, model):
        super().set_model(model)
        if self.relative:
            # Before any callback's `on_train_begin` (BackupAndRestore's
            # restores the rates there): the rates the model was built with.
            for holder in rate_holders(model):
                for variable in holder.rates.values():
                    self._base(variable)

    def _resolve(self):
        holders = rate_holders(self.model)
        if not holders:
            raise ValueError(
                "DropoutScheduler found no schedulable dropout rate in the "
                f"model '{self.model.name}'. Use kerasdrop layers such as "
                "`kerasdrop.ScheduledDropout`, or convert the model's own "
                "dropout with `kerasdrop.make_schedulable(model)`."
            )
        if self._by_layer is None:
            if self.layers is None:
                wanted = [(holder.key, self.schedule) for holder in holders]
            else:
                wanted = [(selector, self.schedule) for selector in self.layers]
        else:
            wanted = list(self._by_layer.items())
        targets = {}
        selected_by = {}
        for selector, schedule in wanted:
            chosen = [h for h in holders if selects(h, selector)]
            if not chosen:
                shown = (
                    repr(selector)
                    if isinstance(selector, str)
                    else f"{type(selector).__name__} '{selector.name}'"
                )
                raise ValueError(
                    f"Unknown layer {shown} for DropoutScheduler: it holds "
                    "no schedulable rate in this model. Layers with "
                    f"schedulable rates: {[h.key for h in holders]}"
                )
            for holder in chosen:
                per_rate = (
                    schedule
                    if isinstance(schedule, dict)
                    else dict.fromkeys(holder.rates, schedule)
                )
                for rate_name, rate_schedule in per_rate.items():
                    if rate_name not in holder.rates:
                        raise ValueError(
                            f"Unknown rate name '{rate_name}' for layer "
                            f"'{holder.key}'. Its rates are: "
                            f"{sorted(holder.rates)}"
                        )
                    variable = holder.rates[rate_name]
                    key = f"{holder.key}/{rate_name}"
                    if key in targets:
                        raise ValueError(
                            f"The rate '{key}' is selected twice, by "
                            f"{selected_by[key]!r} and {selector!r}. Select "
                            "each rate once."
                        )
                    selected_by[key] = selector
                    targets[key] = _Target(
                        key,
                        variable,
                        rate_schedule,
                        self.unit == "batch"
                        and _has_graph_value(rate_schedule),
                        self._base(variable),
                    )
        return list(targets.values())

    def _base(self, variable):
        if not self.relative:
            return 1.0
        if id(variable) not in self._bases:
            self._bases[id(variable)] = (variable, read_rate(variable))
        return self._bases[id(variable)][1]

    def on_train_begin(self, logs=None):
        self._targets = self._resolve()
        self._warn_about_fixed_dropout()
        self._printed = {}
        _train_step.bind(self.model, self, self._step_targets())

    def _warn_about_fixed_dropout(self):
        fixed = find_unschedulable_dropout(self.model)
        if fixed:
            warnings.warn(
                f"DropoutScheduler cannot change the dropout of "
                f"{len(fixed)} layer(s) of the model '{self.model.name}', "
                "which keep their fixed rates: "
                f"{', '.join(str(item) for item in fixed)}. Convert them "
                "to schedulable rates with `kerasdrop.make_schedulable("
                "model)`.",
                stacklevel=2,
            )

    def _step_targets(self):
        return [
            _train_step.Target(
                t.key, t.variable, t.schedule if t.in_graph else None, t.base
            )
            for t in self._targets
        ]

    def _train_steps(self):
        counter = _compat.train_step_counter(self.model.optimizer)
        return int(ops.convert_to_numpy(counter))

    def _assign(self, step, targets):
        """Computes and assigns rates from Python, all checked first."""
        values = {}
        by_schedule = {}  # A schedule shared by several rates runs once.
        for key, variable, schedule, _, base in targets:
            if _takes_current_rate(schedule):
                current = read_rate(variable)
                value = schedules_lib.evaluate(schedule, step, current)
            else:
                if id(schedule) not in by_schedule:
                    by_schedule[id(schedule)] = schedules_lib.evaluate(
                        schedule, step
                    )
                value = by_schedule[id(schedule)]
            value *= base
            if math.isnan(value) or not 0.0 <= value <= 1.0:
                layer_name, rate_name = key.rsplit("/", 1)
                # Counted from 1 where a user reads it, as Keras's
                # progress bar counts epochs.
                where = "epoch" if self.unit == "epoch" else "training step"
                raise ValueError(
                    f"The schedule for rate '{rate_name}' of layer "
                    f"'{layer_name}' returned an invalid rate at {where} "
                    f"{step + 1} (schedule step {step}): {value}. "
                    "Expected a float between 0 and 1. "
                    f"The rate stays at {read_rate(variable)}."
                )
            values[key] = value
        # Every time, whatever the variable held: BackupAndRestore, a hand
        # assignment or another `fit` may have changed it since.
        for target in targets:
            assign_rate(target.variable, values[target.key])
        return values

    def _report(self, epoch, values):
        if not self.verbose:
            return
        for key, value in values.items():
            if self._printed.get(key) != value:
                print(
                    f"DropoutScheduler: epoch {epoch + 1}: {key} set to "
                    f"{value:.6g}."
                )
        self._printed.update(values)

    def on_epoch_begin(self, epoch, logs=None):
        if self.unit == "epoch":
            self._report(epoch, self._assign(epoch, self._targets))
            return
        self._epoch_start_step = self._train_steps()
        if self.verbose:
            step = self._epoch_start_step
            values = {
                t.key: schedules_lib.evaluate(t.schedule, step) * t.base
                for t in self._targets
                if not _takes_current_rate(t.schedule)
            }
            self._report(epoch, values)

    def on_train_batch_begin(self, batch, logs=None):
        _train_step.ensure_bound(self.model, self, self._step_targets())
        if self.unit == "batch":
            in_python = [t for t in self._targets if not t.in_graph]
            if in_python:
                self._assign(self._epoch_start_step + batch, in_python)

    def on_epoch_end(self, epoch, logs=None):
        # `fit` has the rates from the train step already; a custom training
        # loop that calls the hooks itself gets them from the variables.
        if logs is not None:
            for target in self._targets:
                if target.key not in logs:
                    logs[target.key] = read_rate(target.variable)

    def on_train_end(self, logs=None):
        _train_step.unbind(self.model, self)


def _check_layers(layers):
    if isinstance(layers, (str, keras.layers.Layer)):
        layers = [layers]
    try:
        layers = list(layers)
    except TypeError:
        raise TypeError(
            "Invalid value received for argument `layers`. Expected a list "
            f"of layers or layer names. Received: layers={layers!r}"
        ) from None
    if not layers:
        raise ValueError(
            "Invalid value received for argument `layers`: an empty list "
            "drives nothing. Pass `layers=None` to drive every rate. "
            "Received: layers=[]"
        )
    for layer in layers:
        if not isinstance(layer, (str, keras.layers.Layer)):
            raise TypeError(
                "Invalid value received for argument `layers`. Expected "
                "layers or layer names. Received an item "
                f"{layer!r} of type {type(layer).__name__}"
            )
    return layers


def _is_config(value):
    return isinstance(value, dict) and "class_name" in value


def _get_per_rate(value):
    if isinstance(value, dict) and not _is_config(value):
        return {name: schedules_lib.get(s) for name, s in value.items()}
    return schedules_lib.get(value)
