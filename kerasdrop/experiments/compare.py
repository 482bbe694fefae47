"""`compare`: trains dropout variants of one model, paired by seed."""

import inspect
import time

import keras

from kerasdrop.callbacks import DropoutScheduler
from kerasdrop.experiments import pairing
from kerasdrop.experiments.experiment_result import ExperimentResult
from kerasdrop.experiments.variant import Variant

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


def _call_build(build_model, seed):
    """`build_model(seed)` if it takes an argument, else `build_model()`."""
    try:
        parameters = inspect.signature(build_model).parameters.values()
    except (TypeError, ValueError):
        parameters = ()
    takes_seed = any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
        for p in parameters
    )
    return build_model(seed) if takes_seed else build_model()


def _build(build_model, variant, seed):
    """The model of `variant` for `seed`, built after seeding, compiled."""
    keras.utils.set_random_seed(seed)
    model = _call_build(variant.build_model or build_model, seed)
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
    last epoch (`summary="last"`) or at its best epoch (`"best"`). For
    every variant and metric the result holds the paired difference to the
    reference: mean, standard deviation, a two-sided Student t confidence
    interval of the mean over seeds, wins, ties and losses, and a verdict:
    `"reproduced"` (better) or `"contradicted"` (worse) only when the
    interval excludes zero, `"not distinguishable from noise here"`
    otherwise. Numbers are deterministic for a seed on one machine and
    software stack; on another machine, or another kernel path (oneDNN on
    or off), float rounding moves them, so treat a verdict whose interval
    nearly touches zero as fragile.

    Every run traces a new model, which costs more than the training of a
    tiny model: keep `seeds` and `variants` to what the question needs.

    Args:
        build_model: A function that returns a new compiled model; called
            with the seed if it takes an argument, without otherwise.
        variants: A list of `kerasdrop.experiments.Variant`.
        x: Training inputs: an array, or a list or dict of arrays, rows
            first.
        y: Training targets, in the same form.
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
    num_rows = len(keras.tree.flatten(x)[0])
    steps = num_rows // batch_size
    by_name = {variant.name: variant for variant in variants}
    order_names = [reference] + [
        v.name for v in variants if v.name != reference
    ]
    progress = keras.utils.Progbar(
        len(seeds) * len(variants), verbose=1 if verbose == 1 else 0
    )
    runs, chosen_metrics, done = [], None, 0
    for seed in seeds:
        order = pairing.batch_order(num_rows, batch_size, epochs, seed)
        x_ordered = pairing.ordered_rows(x, order)
        y_ordered = None if y is None else pairing.ordered_rows(y, order)
        start_weights = None
        for name in order_names:
            variant = by_name[name]
            model = _build(build_model, variant, seed)
            if start_weights is None:  # The reference comes first.
                start_weights = pairing.initial_weights(model)
                shared = True
            else:
                shared = pairing.copy_initial_weights(start_weights, model)
            callbacks = variant.make_callbacks()
            if variant.scheduled is not None:
                callbacks.insert(
                    0, DropoutScheduler(variant.scheduled, unit=variant.unit)
                )
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
