"""One dropout variant of a model in a paired comparison."""

import inspect

from kerasdrop.layers.rates import validate_rate


def call_with_seed(function, seed):
    """Calls `function` with the seed if it takes one, else without.

    It takes the seed through a parameter named `seed`, or through its
    first positional parameter if that one has no default: a parameter
    with a default (`build(width=64)`) keeps its default.
    """
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    for p in parameters:
        if p.name == "seed" and p.kind in (
            p.POSITIONAL_OR_KEYWORD,
            p.KEYWORD_ONLY,
        ):
            return function(seed=seed)
    positional = [
        p
        for p in parameters
        if p.kind
        in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    if positional and (
        positional[0].kind == positional[0].VAR_POSITIONAL
        or positional[0].default is positional[0].empty
    ):
        return function(seed)
    return function()


class Variant:
    """A named way to train the model: a rate, a schedule, callbacks, a
    transform of the model, or a model of its own.

    The variants of `kerasdrop.experiments.compare` start from the same
    model (`build_model()`, built anew for every run after
    `keras.utils.set_random_seed(seed)`), then each applies what it names:

    - `transform(model)` returns the model to train (say
      `kerasdrop.insert_dropout(model, after=..., rate=...)`); an
      uncompiled result is compiled like the original;
    - `rate` or `schedule` drives every kerasdrop rate of the model through
      `kerasdrop.callbacks.DropoutScheduler` (`rate=0.0` switches dropout
      off); `schedule` may also be a dict of schedules per layer, as the
      scheduler takes it;
    - `callbacks` are added to `fit` (a `CoAdaptationMonitor`, say).

    Args:
        name: The variant's name in the results.
        rate: A float between 0 and 1: a constant rate for every kerasdrop
            rate of the model. Not with `schedule`.
        schedule: What `DropoutScheduler` takes as its `schedule`.
        unit: The scheduler's `unit`, `"epoch"` or `"batch"`.
        callbacks: A list of Keras callbacks, or a function that returns
            one, called for every run (so stateful callbacks start afresh)
            with the run's seed if it takes one (as `build_model`).
        transform: A function `model -> model`, applied to each newly
            built model before training.
        build_model: A function of no arguments that returns the compiled
            model for this variant, in place of `compare`'s `build_model`
            (for a wider model, say). Its weights are copied from the
            reference's initial model only where they line up.

    Examples:
        >>> fixed = kerasdrop.experiments.Variant("fixed", rate=0.5)
        >>> fixed
        Variant('fixed', rate=0.5)
    """

    def __init__(
        self,
        name,
        rate=None,
        schedule=None,
        unit="epoch",
        callbacks=(),
        transform=None,
        build_model=None,
    ):
        if not isinstance(name, str) or not name:
            raise ValueError(
                "Expected `name` to be a non-empty string. Received: "
                f"name={name!r}"
            )
        if rate is not None and schedule is not None:
            raise ValueError(
                "Pass either `rate` or `schedule`, not both. Received: "
                f"rate={rate!r}, schedule={schedule!r}"
            )
        if rate is not None:
            rate = validate_rate(rate)
        for argument, value in (
            ("transform", transform),
            ("build_model", build_model),
        ):
            if value is not None and not callable(value):
                raise ValueError(
                    f"Expected `{argument}` to be a callable. Received: "
                    f"{argument}={value!r}"
                )
        self.name = name
        self.rate = rate
        self.schedule = schedule
        self.unit = unit
        self.callbacks = callbacks
        self.transform = transform
        self.build_model = build_model

    def make_callbacks(self, seed=None):
        """The callbacks of one run: `callbacks`, called (with `seed` if it
        takes one) if it is a function."""
        callbacks = (
            call_with_seed(self.callbacks, seed)
            if callable(self.callbacks)
            else self.callbacks
        )
        return list(callbacks or ())

    @property
    def scheduled(self):
        """What the scheduler drives: `rate`, `schedule`, or `None`."""
        return self.rate if self.rate is not None else self.schedule

    def describe(self):
        """A short description for tables: the rate, schedule or transform."""
        if self.rate is not None:
            return f"rate {self.rate:g}"
        if self.schedule is not None:
            return repr(self.schedule)
        if self.build_model is not None or self.transform is not None:
            return "own model"
        return "as built"

    def __repr__(self):
        shown = [repr(self.name)]
        if self.rate is not None:
            shown.append(f"rate={self.rate!r}")
        if self.schedule is not None:
            shown.append(f"schedule={self.schedule!r}")
        if self.transform is not None:
            shown.append("transform=...")
        if self.build_model is not None:
            shown.append("build_model=...")
        return f"Variant({', '.join(shown)})"
