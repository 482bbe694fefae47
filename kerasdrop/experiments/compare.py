"""`compare`: trains dropout variants of one model, paired by seed."""

import contextlib
import numbers
import time

import keras

from kerasdrop import schedules
from kerasdrop.callbacks import DropoutScheduler
from kerasdrop.experiments import pairing
from kerasdrop.experiments.experiment_result import ExperimentResult
from kerasdrop.experiments.variant import Variant
from kerasdrop.experiments.variant import call_with_seed

# Parts of a metric name that mean "lower is better".
_LOWER_IS_BETTER = (
    "loss",
    "error",
    "mse",
    "mae",
    "mape",
    "msle",
    "crossentropy",
    "hinge",
    "divergence",
)


def metric_mode(name):
    """`"min"` for a loss or an error (by its name), `"max"` otherwise."""
    lowered = name.lower()
    return "min" if any(part in lowered for part in _LOWER_IS_BETTER) else "max"


def _check_variants(variants, reference):
    variants = list(variants)
    if not variants or not all(isinstance(v, Variant) for v in variants):
        raise ValueError(
            "Expected `variants` to be a non-empty list of "
            f"`kerasdrop.experiments.Variant`. Received: variants={variants!r}"
        )
    names = [variant.name for variant in variants]
    if len(set(names)) != len(names):
        raise ValueError(f"Expected distinct variant names. Received: {names}")
    if reference not in names:
        if reference != "none":
            raise ValueError(
                f"Unknown reference {reference!r}. Expected the name of a "
                f"variant, one of {names}, or 'none'."
            )
        # The default reference: the same model with dropout off.
        variants.insert(0, Variant("none", rate=0.0))
    return variants


def _check_metrics(metrics, history, validation):
    if metrics is None:
        keys = [k for k in history if "/" not in k]
        chosen = (
            [k for k in keys if k.startswith("val_")] if validation else keys
        )
        return {key: metric_mode(key) for key in chosen or keys}
    if isinstance(metrics, str):
        metrics = [metrics]
    if not isinstance(metrics, dict):
        metrics = {key: metric_mode(key) for key in metrics}
    for key, mode in metrics.items():
        if key not in history:
            raise ValueError(
                f"Unknown metric {key!r}: `fit` logged {sorted(history)}."
            )
        if mode not in ("max", "min"):
            raise ValueError(
                f"Expected 'max' or 'min' for metric {key!r}. Received: "
                f"{mode!r}"
            )
    return dict(metrics)


def _build(build_model, variant, seed):
    """The model of `variant` for `seed`, built after seeding, compiled."""
    keras.utils.set_random_seed(seed)
    model = call_with_seed(variant.build_model or build_model, seed)
    if not model.compiled:
        raise ValueError(
            "Expected `build_model` to return a compiled model. Received an "
            f"uncompiled model '{model.name}'."
        )
    if variant.transform is not None:
        transformed = variant.transform(model)
        if not transformed.compiled:
            transformed.compile_from_config(model.get_compile_config())
        model = transformed
    return model


def _numpy_copies(variables):
    # Copies, not the variables: on JAX, assigning a variable itself would
    # share one buffer between two models.
    return [keras.ops.convert_to_numpy(v) for v in variables]


class _CompiledModel:
    """A variant's compiled model, trained again for its later seeds.

    Tracing the train step of a new model costs more than training a tiny
    model for a seed. A later seed's model is still built as before (after
    `keras.utils.set_random_seed(seed)`, which is cheap); `take` then gives
    the compiled model every variable of it -- weights, rates, the states
    of the seed generators, statistics such as BatchNorm's -- and the
    optimizer's variables as they were before its first step (iterations,
    learning rate, slots), so the compiled model starts where the new one
    would.
    """

    def __init__(self, model):
        self.model = model
        optimizer = model.optimizer
        if not optimizer.built:
            # Keras would build it when it traces the train step (on
            # TensorFlow); built now, its state before the first step is
            # known: iteration 0, the initial learning rate, the slots.
            strategy = getattr(model, "distribute_strategy", None)
            with (
                contextlib.nullcontext()
                if strategy is None
                else strategy.scope()
            ):
                optimizer.build(model.trainable_variables)
        self.fresh_optimizer = _numpy_copies(optimizer.variables)
        # Before training: a callback may change the learning rate, which
        # the configuration reports.
        self.compile_config = _without_names(model.get_compile_config())

    def matches(self, new):
        """Whether `new` is the same model as this one but for its values:
        the same class, compile configuration and variables (in number,
        shape and dtype)."""
        old_variables, new_variables = self.model.variables, new.variables
        if type(new) is not type(self.model) or len(old_variables) != len(
            new_variables
        ):
            return False
        if any(
            tuple(a.shape) != tuple(b.shape) or a.dtype != b.dtype
            for a, b in zip(old_variables, new_variables)
        ):
            return False
        try:
            return self.compile_config == _without_names(
                new.get_compile_config()
            )
        except Exception:  # A configuration that cannot be compared.
            return False

    def take(self, new):
        """The compiled model with the state of `new`."""
        model = self.model
        for variable, value in zip(
            model.variables, _numpy_copies(new.variables)
        ):
            variable.assign(value)
        for variable, value in zip(
            model.optimizer.variables, self.fresh_optimizer
        ):
            variable.assign(value)
        # `fit` resets it too; a callback may read it before.
        model.stop_training = False
        return model


def _without_names(config):
    """A compile configuration without the names Keras makes unique per
    object (`"adam"`, `"adam_1"`, ...), which change no computation."""
    if isinstance(config, dict):
        return {
            key: _without_names(value)
            for key, value in config.items()
            if key != "name"
        }
    if isinstance(config, (list, tuple)):
        return [_without_names(value) for value in config]
    return config


def _resolved_schedule(scheduled):
    """One schedule object per variant for a number: the scheduler's
    compiled step is kept for the same schedule object, so a per-batch
    constant rate traces once per variant, not once per seed."""
    if isinstance(scheduled, numbers.Real) and not isinstance(scheduled, bool):
        return schedules.Constant(float(scheduled))
    return scheduled


def _training_data(x, y, seed):
    """The training rows of `seed`: `x(seed)` for a function, else `x, y`."""
    if not callable(x):
        return x, y
    data = x(seed)
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(
            "Expected the function `x` to return a tuple `(x, y)` for seed "
            f"{seed}. Received: {type(data).__name__}"
        )
    return data


def compare(
    build_model,
    variants,
    x,
    y=None,
    *,
    validation_data=None,
    seeds=(0, 1, 2, 3, 4),
    epochs=1,
    batch_size=32,
    metrics=None,
    reference="none",
    summary="last",
    confidence=0.95,
    fit_kwargs=None,
    reuse_compiled_model=True,
    verbose=1,
):
    """Trains dropout variants of one model, paired by seed, and compares.

    For every seed and every variant, the model is built anew after
    `keras.utils.set_random_seed(seed)`, changed as the variant says, given
    the initial weights of the reference's model for that seed (where the
    weights line up: dropout layers inserted or removed do not matter) and
    trained with `fit` on the same batches in the same order
    (`batch_order`: a fresh permutation of the rows per epoch, whole
    batches only). Dropout layers are created after the same seeding, so
    where two variants have equal rates they draw equal masks. What remains
    different between two variants of one seed is what the variants
    change, which is why their per-seed differences are compared rather
    than two means over seeds.

    Each metric logged by `fit` (by default every `val_*` metric when
    `validation_data` is given, every metric otherwise) is compared at the
    last epoch (`summary="last"`; for a run that `EarlyStopping` stopped,
    the epoch where it stopped) or at its best epoch (`"best"`). For every
    variant and metric the result holds the paired difference to the
    reference: mean, standard deviation, a two-sided Student t confidence
    interval of the mean over seeds, wins, ties and losses, and a verdict:
    `"reproduced"` (better) or `"contradicted"` (worse) only when the
    interval excludes zero, `"not distinguishable from noise here"`
    otherwise. Numbers are deterministic for a seed on one machine and
    software stack; on another machine, or another kernel path (oneDNN on
    or off), float rounding moves them, so treat a verdict whose interval
    nearly touches zero as fragile.

    Tracing a new model's train step costs more than training a tiny
    model, so by default (`reuse_compiled_model=True`) each variant traces
    once: its first seed's compiled model also trains its later seeds. A
    later seed's model is still built, after seeding, as above (cheap:
    nothing is traced); the compiled model then takes NumPy copies of all
    its variables (weights, dropout rates, the states of the seed
    generators, statistics such as BatchNorm's) and the optimizer's
    variables as they were before its first step (iterations, learning
    rate, slots), and `stop_training` is cleared; metrics are reset by
    `fit` itself, callbacks are made anew per run when `callbacks` is a
    function. The histories equal those of new models (tested to the last
    bit on one machine). The compiled model is reused only where the new
    model has the same class, compile configuration and variables (number,
    shapes, dtypes); otherwise the new model is trained, and kept for the
    seeds after it. What a model keeps outside its variables -- a Python
    attribute a custom layer or `train_step` changes during training, an
    optimizer whose learning-rate schedule a callback replaces -- would
    carry over: pass `reuse_compiled_model=False` for such models.

    Args:
        build_model: A function that returns a new compiled model; called
            with the seed if it takes one (a parameter named `seed`, or
            a first positional parameter without a default), without
            otherwise.
        variants: A list of `kerasdrop.experiments.Variant`.
        x: Training inputs: an array, or a list or dict of arrays, rows
            first; or a function of the seed that returns `(x, y)`, for
            training data that changes with the seed (a different subset of
            rows per seed, say; all variants of a seed get the same).
        y: Training targets, in the same form (`None` when `x` is a
            function).
        validation_data: `(x_val, y_val)`, evaluated after every epoch as
            `fit` does.
        seeds: The seeds to pair over (at least 2 for an interval).
        epochs: Epochs per run.
        batch_size: Rows per batch.
        metrics: Names of logged metrics to compare, or a dict from name to
            `"max"` / `"min"`; a name with "loss", "error", "mse", "mae"
            and the like is lower-is-better, any other higher-is-better.
        reference: The name of the variant the others are compared with.
            The default `"none"` adds `Variant("none", rate=0.0)` (the same
            model with every kerasdrop rate at 0) unless a variant has that
            name.
        summary: `"last"` or `"best"`: which epoch's value is compared.
        confidence: Coverage of the intervals.
        fit_kwargs: More keyword arguments of `fit` (not `x`, `y`,
            `batch_size`, `epochs`, `shuffle`, `steps_per_epoch`).
        reuse_compiled_model: Whether a variant's compiled model trains its
            later seeds (see above), or every run trains a new model.
        verbose: 0 for silence, 1 for a progress bar over the runs, 2 for
            a line per run.

    Returns:
        A `kerasdrop.experiments.ExperimentResult`.

    Examples:
        >>> def build_model():
        ...     model = keras.Sequential([
        ...         keras.Input((4,)),
        ...         keras.layers.Dense(8, activation="relu"),
        ...         kerasdrop.ScheduledDropout(0.5),
        ...         keras.layers.Dense(1),
        ...     ])
        ...     model.compile(optimizer="adam", loss="mse")
        ...     return model
        >>> x = np.random.default_rng(0).normal(size=(32, 4))
        >>> y = x.sum(axis=1, keepdims=True)
        >>> result = kerasdrop.experiments.compare(
        ...     build_model,
        ...     [kerasdrop.experiments.Variant("fixed", rate=0.5)],
        ...     x, y, validation_data=(x, y),
        ...     seeds=[0, 1], batch_size=16, verbose=0,
        ... )
        >>> result.variants, list(result.metrics)
        (['none', 'fixed'], ['val_loss'])
        >>> sorted(result.differences["fixed"]["val_loss"])[:4]
        ['ci_high', 'ci_low', 'confidence', 'differences']
    """
    variants = _check_variants(variants, reference)
    seeds = [int(seed) for seed in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(
            f"Expected a non-empty list of distinct seeds. Received: {seeds}"
        )
    fit_kwargs = dict(fit_kwargs or {})
    reserved = {"x", "y", "batch_size", "epochs", "shuffle", "steps_per_epoch"}
    if reserved & set(fit_kwargs):
        raise ValueError(
            f"`fit_kwargs` may not set {sorted(reserved & set(fit_kwargs))}: "
            "`compare` sets them for the pairing."
        )
    if callable(x) and y is not None:
        raise ValueError(
            "Pass `y=None` when `x` is a function: it returns `(x, y)`. "
            f"Received: y of type {type(y).__name__}"
        )
    by_name = {variant.name: variant for variant in variants}
    order_names = [reference] + [
        v.name for v in variants if v.name != reference
    ]
    scheduled = {v.name: _resolved_schedule(v.scheduled) for v in variants}
    compiled = {}  # Variant name -> its `_CompiledModel`.
    progress = keras.utils.Progbar(
        len(seeds) * len(variants), verbose=1 if verbose == 1 else 0
    )
    runs, chosen_metrics, done = [], None, 0
    for seed in seeds:
        x_seed, y_seed = _training_data(x, y, seed)
        num_rows = len(keras.tree.flatten(x_seed)[0])
        steps = num_rows // batch_size
        order = pairing.batch_order(num_rows, batch_size, epochs, seed)
        x_ordered = pairing.ordered_rows(x_seed, order)
        y_ordered = (
            None if y_seed is None else pairing.ordered_rows(y_seed, order)
        )
        start_weights = None
        for name in order_names:
            variant = by_name[name]
            model = _build(build_model, variant, seed)
            kept = compiled.get(name)
            reused = kept is not None and kept.matches(model)
            if reused:
                model = kept.take(model)
            if start_weights is None:  # The reference comes first.
                start_weights = pairing.initial_weights(model)
                shared = True
            else:
                shared = pairing.copy_initial_weights(start_weights, model)
            callbacks = variant.make_callbacks(seed)
            if scheduled[name] is not None:
                callbacks.insert(
                    0, DropoutScheduler(scheduled[name], unit=variant.unit)
                )
            if reuse_compiled_model and not reused:
                # This model serves the variant's later seeds.
                compiled[name] = _CompiledModel(model)
            # Anything drawn from the global generators during `fit` is
            # drawn alike by every variant.
            keras.utils.set_random_seed(seed)
            started = time.perf_counter()
            history = model.fit(
                x_ordered,
                y_ordered,
                batch_size=batch_size,
                epochs=epochs,
                steps_per_epoch=steps,
                shuffle=False,  # The order is `batch_order`'s.
                validation_data=validation_data,
                callbacks=callbacks,
                verbose=0,
                **fit_kwargs,
            ).history
            seconds = time.perf_counter() - started
            if chosen_metrics is None:
                chosen_metrics = _check_metrics(
                    metrics, history, validation_data is not None
                )
            runs.append(
                {
                    "variant": name,
                    "seed": seed,
                    "history": {
                        key: [float(value) for value in values]
                        for key, values in history.items()
                    },
                    "seconds": seconds,
                    "shared_initial_weights": shared,
                    "reused_compiled_model": reused,
                }
            )
            done += 1
            first = next(iter(chosen_metrics))
            last = float(history[first][-1])
            progress.update(done, values=[(first, last)])
            if verbose == 2:
                print(
                    f"seed {seed} {name}: {first} {last:.4f} ({seconds:.1f} s)",
                    flush=True,
                )
    return ExperimentResult(
        runs,
        [v.name for v in variants],
        reference,
        chosen_metrics,
        seeds,
        summary=summary,
        confidence=confidence,
    )
