"""Rates set and logged by the model's own compiled train step.

`DropoutScheduler` binds rates to a model here. While a binding is live, the
model's train step is wrapped: before the forward pass it computes each
in-graph rate from the optimizer's count of train steps (its `iterations`,
the one counter Keras advances exactly once per train step, restored by
`BackupAndRestore` and continued by a later `fit`; under gradient
accumulation, where `iterations` counts updates, the count of steps that
Keras's learning-rate schedules read) and assigns it to the rate variable;
after the step it adds every bound rate, read back from its variable, to
the step's logs. Hence:

- a layer called several times in a step (`TimeDistributed`, a layer shared
  by two branches) uses one rate per step, the schedule's;
- what History, CSVLogger, TensorBoard and the progress bar record is what
  the step used, whatever the order of the callbacks, and with
  `steps_per_execution > 1` the logs hold the rate of the last step run;
- nothing in a layer counts calls, so `predict`, `mc_predict` and other
  training calls outside `fit` leave the rates alone.

A binding lives from the scheduler's `on_train_begin` to its
`on_train_end`. A `fit` that dies in between (an exception, Ctrl-C) never
calls `on_train_end`; the wrapped train function therefore runs only when it
is called from the frame of the `fit` that bound it, and any other call --
the next `fit` without the scheduler, `train_on_batch` -- releases the
binding first and runs the model's plain train function.
"""

import collections
import sys
import weakref

import keras
from keras import ops

from kerasdrop import _compat

# One rate driven by a scheduler. `schedule`: a schedule with a
# `graph_value(step)` computed in the step, or None for a rate that is set
# from Python and only logged by the step. `scale`: the factor applied to
# the schedule's value (a base rate for relative schedules, else 1).
Target = collections.namedtuple(
    "Target", ["key", "variable", "schedule", "scale"]
)


class _Binding:
    """The rates bound to one model, from one or more schedulers.

    Kept in the model's `__dict__` (outside Keras's attribute tracking), so
    it lives and dies with the model.
    """

    def __init__(self):
        # Scheduler (weakly) -> its targets.
        self.owners = weakref.WeakKeyDictionary()
        # The frame of the `fit` the owners belong to.
        self.fit_frame = None
        # The model's train function before the binding, restored after.
        self.plain_function = None
        # The scheduled train function and what it was made for, so a later
        # `fit` with the same rates and compiled state traces nothing new.
        self.function = None
        self.made_for = None
        # Torch's train function looks `train_step` up at every call: the
        # wrapped step stays on the model while bound, with what was there
        # before (`None`: the class's own step).
        self.step = None
        self.plain_step = None

    def targets(self):
        return [t for targets in self.owners.values() for t in targets]


def _binding(model, create=False):
    binding = model.__dict__.get("_kerasdrop_binding")
    if binding is None and create:
        binding = model.__dict__["_kerasdrop_binding"] = _Binding()
    return binding


def bind(model, owner, targets):
    """Binds `owner`'s targets to `model`'s train step, for one `fit`.

    Raises:
        ValueError: if another scheduler of this `fit` drives one of the
            rates.
    """
    binding = _binding(model, create=True)
    fit_frame = _compat.fit_frame(model)
    if binding.fit_frame is not fit_frame:
        # Owners left by a `fit` that died are not part of this one.
        binding.owners.clear()
        binding.fit_frame = fit_frame
    taken = {
        id(t.variable)
        for other, other_targets in binding.owners.items()
        if other is not owner
        for t in other_targets
    }
    for target in targets:
        if id(target.variable) in taken:
            raise ValueError(
                f"The rate '{target.key}' is already driven by another "
                "DropoutScheduler in this `fit`. Give each rate to one "
                "scheduler (a dict of schedules drives several rates)."
            )
    binding.owners[owner] = list(targets)
    _install(model, binding)


def ensure_bound(model, owner, targets):
    """Binds again if the binding was released during the `fit`.

    A call of the train function from outside the `fit` (`train_on_batch`
    from another callback) releases it.
    """
    binding = _binding(model)
    if binding is None or owner not in binding.owners:
        bind(model, owner, targets)


def unbind(model, owner):
    """Removes `owner`'s targets; the last one out restores the model."""
    binding = _binding(model)
    if binding is None:
        return
    binding.owners.pop(owner, None)
    # The schedulers of one `fit` end together: the last one restores.
    if not binding.owners:
        release(model)


def release(model):
    """Gives the model back its plain train function."""
    binding = _binding(model)
    if binding is None:
        return
    binding.owners.clear()
    binding.fit_frame = None
    if binding.function is not None and model.train_function is (
        binding.function
    ):
        model.train_function = binding.plain_function
    if model.__dict__.get("train_step") is binding.step is not None:
        _set_train_step(model, binding.plain_step)


def _made_for(model, plain_function, targets):
    """What a scheduled train function depends on, compared by identity.

    It is traced from the same layers as the model's own train function, so
    it is as current as that one: when Keras's is made again (after
    `compile`, or after `make_schedulable` converted layers in place and
    dropped the traced functions of every model holding them), so is this.
    """
    return [model.optimizer, _compat.compile_token(model), plain_function] + [
        part for target in targets for part in target
    ]


def _same(made_for, other):
    if other is None or len(made_for) != len(other):
        return False
    return all(
        a is b or (isinstance(a, (str, float)) and a == b)
        for a, b in zip(made_for, other)
    )


def _install(model, binding):
    targets = binding.targets()
    current = model.train_function
    if binding.function is None or current is not binding.function:
        binding.plain_function = current
    made_for = _made_for(model, binding.plain_function, targets)
    if _same(made_for, binding.made_for):
        model.train_function = binding.function
        if binding.step is not None:
            _set_train_step(model, binding.step)
        return
    # The wrapper is the model's `train_step` while Keras makes the train
    # function, which captures it (TensorFlow, JAX); on torch, whose train
    # function looks the step up at each call, for as long as it is bound.
    own_step = model.__dict__.get("train_step")
    if own_step is not None and own_step is binding.step:
        own_step = binding.plain_step  # Still ours, from an earlier fit.
    wrapper = _wrap_train_step(
        model, own_step or type(model).train_step.__get__(model), targets
    )
    _set_train_step(model, wrapper)
    try:
        model.make_train_function(force=True)
    finally:
        _set_train_step(model, own_step)
    if _compat.train_function_reads_step_per_call():
        binding.step, binding.plain_step = wrapper, own_step
        _set_train_step(model, wrapper)
    binding.function = _guard(model, binding, model.train_function)
    binding.made_for = made_for
    model.train_function = binding.function


def _set_train_step(model, step):
    """Puts `step` on the model as its `train_step` (`None`: the class's)."""
    if step is None:
        model.__dict__.pop("train_step", None)
    else:
        object.__setattr__(model, "train_step", step)


def _guard(model, binding, scheduled):
    model_ref = weakref.ref(model)
    del model  # The model holds the binding; the function must not hold it.

    def train_function(*args, **kwargs):
        fit_frame = binding.fit_frame
        if fit_frame is not None and sys._getframe(1) is fit_frame:
            return scheduled(*args, **kwargs)
        # Not called by the `fit` that bound the rates, which is over (or
        # this is `train_on_batch`): rates set by hand must hold.
        model = model_ref()
        release(model)
        model.make_train_function()
        return model.train_function(*args, **kwargs)

    return train_function


def _scheduled_value(target, step):
    value = ops.cast(target.schedule.graph_value(step), "float32")
    return ops.clip(value * target.scale, 0.0, 1.0)


def _scheduled_values(targets, step):
    """The rate at `step` of each target that has a schedule, by index.

    A schedule that drives several rates with one scale (one schedule for
    every rate, the common case) is computed once: on torch, which runs
    the step eagerly, every op here costs each step some microseconds.
    """
    values, computed = {}, {}
    for index, target in enumerate(targets):
        if target.schedule is None:
            continue
        key = (id(target.schedule), target.scale)
        if key not in computed:
            computed[key] = _scheduled_value(target, step)
        values[index] = computed[key]
    return values


def _wrap_train_step(model, original, targets):
    targets = list(targets)

    if keras.backend.backend() == "jax":

        def train_step(state, data):
            trainable, non_trainable, optimizer_variables, metrics = state
            variables = model.non_trainable_variables
            index = {id(v): i for i, v in enumerate(variables)}
            step = optimizer_variables[_counter_index(model)]
            non_trainable = list(non_trainable)
            values = _scheduled_values(targets, step)
            rates = {}
            for n, target in enumerate(targets):
                i = index[id(target.variable)]
                if n in values:
                    non_trainable[i] = values[n]
                rates[target.key] = non_trainable[i]
            state = (trainable, non_trainable, optimizer_variables, metrics)
            logs, state = original(state, data)
            return {**logs, **rates}, state

    else:

        def train_step(data):
            counter = _compat.train_step_counter(model.optimizer)
            step = ops.convert_to_tensor(counter)
            values = _scheduled_values(targets, step)
            rates = {}
            for n, target in enumerate(targets):
                if n in values:
                    target.variable.assign(values[n])
                rates[target.key] = ops.convert_to_tensor(target.variable)
            logs = original(data)
            return {**logs, **rates}

    return train_step


def _counter_index(model):
    counter = _compat.train_step_counter(model.optimizer)
    for i, variable in enumerate(model.optimizer.variables):
        if variable is counter:
            return i
    raise ValueError(
        "DropoutScheduler could not find the optimizer's count of train "
        "steps among its variables (optimizer: "
        f"{type(model.optimizer).__name__})."
    )
