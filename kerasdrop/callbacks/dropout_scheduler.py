"""A callback that drives kerasdrop rates from schedules during `fit`."""

import collections
import math

import keras
from keras import ops

from kerasdrop import _compat
from kerasdrop import schedules as schedules_lib
from kerasdrop.layers.rates import read_rate

_UNITS = ("epoch", "batch")

# A rate the callback drives. `in_graph`: computed by the layer inside the
# compiled step from a schedule bound to it, rather than assigned.
_Target = collections.namedtuple(
    "_Target", ["key", "layer", "variable", "schedule", "in_graph"]
)


def find_rates(model):
    """Lists every schedulable dropout rate in a model.

    A layer that wraps a kerasdrop cell or layer exposes the inner rates
    under its own name, so each rate variable is listed once, under the
    outermost layer that exposes it.

    Args:
        model: A Keras layer or model.

    Returns:
        A dict from layer name to a dict from rate name to its variable, in
        the order of `model`'s layers.

    Examples:
        >>> model = keras.Sequential([
        ...     keras.Input((4,)),
        ...     kerasdrop.ScheduledDropout(0.1, name="drop"),
        ... ])
        >>> {name: list(rates) for name, rates in find_rates(model).items()}
        {'drop': ['rate']}
    """
    return {name: rates for name, (_, rates) in _rate_layers(model).items()}


def _rate_layers(model):
    """Like `find_rates`, with the layer: name -> (layer, rates)."""
    found = {}
    seen = set()
    for layer in _compat.flatten_layers(model):
        rates = getattr(layer, "dropout_rates", None)
        if not rates:
            continue
        fresh = {k: v for k, v in rates.items() if id(v) not in seen}
        seen.update(id(v) for v in rates.values())
        if fresh:
            found.setdefault(layer.name, (layer, {}))[1].update(fresh)
    return found


def _has_graph_value(schedule):
    return (
        isinstance(schedule, schedules_lib.RateSchedule)
        and type(schedule).graph_value
        is not schedules_lib.RateSchedule.graph_value
    )


class DropoutScheduler(keras.callbacks.Callback):
    """Sets kerasdrop dropout rates from schedules during training.

    At the start of every epoch (`unit="epoch"`) or batch (`unit="batch"`)
    the callback computes each rate from its schedule and assigns it to the
    layer's rate variable, so the compiled train step uses it without being
    traced again. The step is taken from Keras's own counters — the epoch
    index, or the optimizer's iteration count — so `initial_epoch`, a resumed
    run and `keras.callbacks.BackupAndRestore` land on the same rates as an
    uninterrupted run. The current rates are written into `logs` under
    `"<layer name>/<rate name>"` (for example `"dropout/rate"`), so History,
    CSVLogger and TensorBoard record them.

    With `unit="batch"`, the rates of kerasdrop's own schedules are computed
    inside the compiled train step: the callback binds each schedule to its
    layer (`RateMixin.set_step_schedules`), the layer computes the rate from
    its step counter at every training call, and the callback only sets the
    counter from the optimizer's iterations at the start of each epoch.
    (Assigning a variable from Python before every batch would make Python
    wait for the previous step each time.) The rates therefore also change
    between the steps of one execution when `steps_per_execution > 1`. Binding
    makes `fit` trace its train step once more, the first time; after
    `fit` the schedules are paused, and a later `fit`, with or without the
    callback, reuses the traced step. Keras learning-rate schedules, plain
    callables and rates of a bare cell in `keras.layers.RNN` (called once
    per time step) are assigned from Python before every batch instead.
    The schedules are paused between epochs, so training calls made by
    other callbacks at the end of an epoch do not count as steps.

    Args:
        schedule: One schedule for every selected rate, or a dict from layer
            name to schedule, or from layer name to a dict from rate name
            (`"rate"`, `"cell_rate"`, ...) to schedule. A schedule is a
            `kerasdrop.schedules` object, a Keras `LearningRateSchedule`, a
            callable `step -> rate` or a number.
        layers: With a single schedule, the names of the layers it drives;
            `None` (the default) drives every kerasdrop rate in the model.
        unit: `"epoch"` or `"batch"`: what a step of the schedule is.
        verbose: 0 for quiet, 1 to print each change of rate.

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

    # Keras runs batch-end hooks of async-safe callbacks off the training
    # thread, without converting the logs (a device sync) after every batch.
    # The batch-end hook below only copies an immutable snapshot.
    async_safe = True

    def __init__(self, schedule, layers=None, unit="epoch", verbose=0):
        super().__init__()
        if unit not in _UNITS:
            raise ValueError(
                "Invalid value received for argument `unit`. Expected one of "
                f"{_UNITS}. Received: unit={unit!r}"
            )
        if isinstance(layers, str):
            layers = [layers]
        if layers is not None:
            if isinstance(schedule, dict) and not _is_config(schedule):
                raise ValueError(
                    "Pass either a dict of schedules or `layers`, not both. "
                    f"Received: layers={layers}"
                )
            layers = list(layers)
        if isinstance(schedule, dict) and not _is_config(schedule):
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
        self.verbose = verbose
        self._targets = []
        self._bound_layers = []
        # Replaced, never mutated, so a snapshot handed to a batch-end hook
        # running on another thread stays as it was.
        self._current = {}
        self._batch_snapshots = collections.deque()
        self._epoch_start_step = 0

    def _resolve(self):
        available = _rate_layers(self.model)
        if not available:
            raise ValueError(
                "DropoutScheduler found no schedulable dropout rate in the "
                f"model '{self.model.name}'. Use kerasdrop layers such as "
                "`kerasdrop.ScheduledDropout`; Keras's own dropout layers "
                "keep their rate fixed."
            )
        if self._by_layer is None:
            names = self.layers if self.layers is not None else available
            wanted = {name: self.schedule for name in names}
        else:
            wanted = self._by_layer
        targets = []
        for layer_name, schedule in wanted.items():
            if layer_name not in available:
                raise ValueError(
                    f"Unknown layer name '{layer_name}' for DropoutScheduler. "
                    "Layers with schedulable rates in this model: "
                    f"{sorted(available)}"
                )
            layer, rates = available[layer_name]
            per_rate = (
                schedule
                if isinstance(schedule, dict)
                else dict.fromkeys(rates, schedule)
            )
            for rate_name, rate_schedule in per_rate.items():
                if rate_name not in rates:
                    raise ValueError(
                        f"Unknown rate name '{rate_name}' for layer "
                        f"'{layer_name}'. Its rates are: {sorted(rates)}"
                    )
                key = f"{layer_name}/{rate_name}"
                in_graph = (
                    self.unit == "batch"
                    and getattr(layer, "supports_step_schedules", False)
                    and _has_graph_value(rate_schedule)
                )
                variable = rates[rate_name]
                targets.append(
                    _Target(key, layer, variable, rate_schedule, in_graph)
                )
        return targets

    def on_train_begin(self, logs=None):
        self._batch_snapshots.clear()
        self._targets = self._resolve()
        self._current = {
            target.key: read_rate(target.variable) for target in self._targets
        }
        # Per-batch schedules of kerasdrop's schedules are computed inside
        # the compiled train step from each layer's step counter: assigning
        # from Python between batches would make Python wait for every step.
        bound = {}
        for target in self._targets:
            if target.in_graph:
                rate_name = target.key.rsplit("/", 1)[1]
                bound.setdefault(target.layer, {})[rate_name] = target.schedule
        self._bound_layers = list(bound)
        if bound:
            traced_without = False
            for layer, schedules in bound.items():
                traced_without |= layer.step_schedules != schedules
                # Paused until `on_epoch_begin` sets the step.
                layer.set_step_schedules(schedules, step=-1)
            if traced_without:
                # A train step traced before the binding would not see it.
                # Bindings stay after training (paused), so a later `fit`
                # with the same schedules uses the same traced step.
                self.model.make_train_function(force=True)

    def _iterations(self):
        iterations = self.model.optimizer.iterations
        return int(ops.convert_to_numpy(iterations))

    def _apply(self, step):
        new_values = {}
        by_schedule = {}  # A schedule shared by several rates runs once.
        # Validate every value before assigning any, so an error leaves all
        # rates as they were.
        for key, _, _, schedule, _ in self._targets:
            if id(schedule) not in by_schedule:
                by_schedule[id(schedule)] = schedules_lib.evaluate(
                    schedule, step
                )
            value = by_schedule[id(schedule)]
            if math.isnan(value) or not 0.0 <= value <= 1.0:
                layer_name, rate_name = key.rsplit("/", 1)
                raise ValueError(
                    f"The schedule for rate '{rate_name}' of layer "
                    f"'{layer_name}' returned an invalid rate at {self.unit} "
                    f"{step}: {value}. Expected a float between 0 and 1. "
                    f"The rate stays at {self._current[key]}."
                )
            new_values[key] = value
        changed = [
            target
            for target in self._targets
            if new_values[target.key] != self._current[target.key]
        ]
        if any(not target.in_graph for target in changed):
            # On JAX, `fit` carries the model state outside the variables
            # during an epoch; reading `self.model` writes it back and makes
            # the next step read the variables again, new rates included.
            self.model  # noqa: B018
        for key, _, variable, _, in_graph in changed:
            value = new_values[key]
            # The train step assigns rates computed in the graph itself.
            if not in_graph:
                # A float32 tensor assigns faster than a Python float on
                # TensorFlow. Each variable gets its own tensor: JAX would
                # otherwise share one buffer between variables.
                variable.assign(ops.convert_to_tensor(value, "float32"))
            if self.verbose:
                print(
                    f"DropoutScheduler: {self.unit} {step}: {key} "
                    f"set to {value:.6g}."
                )
        self._current = new_values

    def on_epoch_begin(self, epoch, logs=None):
        if self.unit == "epoch":
            self._apply(epoch)
            return
        self._epoch_start_step = self._iterations()
        # Once an epoch, the layers' step counters are set from Keras's
        # own counter (after `BackupAndRestore` has restored it, say).
        for layer in self._bound_layers:
            layer.schedule_step.assign(self._epoch_start_step)

    def on_train_batch_begin(self, batch, logs=None):
        if self.unit == "batch":
            self._apply(self._epoch_start_step + batch)
            self._batch_snapshots.append(self._current)

    def on_train_batch_end(self, batch, logs=None):
        # Batch hooks come in begin/end pairs, in order, so the oldest
        # snapshot holds the rates this batch ran with.
        if self._batch_snapshots:
            snapshot = self._batch_snapshots.popleft()
            if logs is not None:
                logs.update(snapshot)

    def on_epoch_end(self, epoch, logs=None):
        # Pauses the schedules computed in the train step until the next
        # epoch begins: training calls made by other callbacks, by a later
        # `fit` without this callback or by `mc_predict` keep the rates as
        # they are now.
        for layer in self._bound_layers:
            layer.schedule_step.assign(-1)
        if logs is not None:
            logs.update(self._current)

    def on_train_end(self, logs=None):
        for layer in self._bound_layers:
            layer.schedule_step.assign(-1)
        self._bound_layers = []


def _is_config(value):
    return isinstance(value, dict) and "class_name" in value


def _get_per_rate(value):
    if isinstance(value, dict) and not _is_config(value):
        return {name: schedules_lib.get(s) for name, s in value.items()}
    return schedules_lib.get(value)
