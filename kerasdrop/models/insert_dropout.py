"""Copies of a model with dropout layers inserted after chosen layers."""

import re

import keras

from kerasdrop import _compat
from kerasdrop.layers.rates import copy_layer_state
from kerasdrop.layers.rates import validate_rate
from kerasdrop.layers.scheduled_dropout import ScheduledDropout
from kerasdrop.models.walk import layer_matcher


def insert_dropout(
    model, after, rate=0.5, dropout_class=None, seed=None, **dropout_kwargs
):
    """Returns a copy of `model` with dropout after the matching layers.

    The copy has new layers built from the configs of the old ones, with the
    same names, weights (BatchNorm statistics included) and trainable flags,
    and a new dropout layer right after each matching layer, named
    `"<layer name>_dropout"` (`_drop_path` for `DropPath`, and so on).
    Nested Functional and Sequential models (a backbone inside a classifier)
    are copied the same way, so `after` can match layers inside them. Call
    arguments recorded in the graph, such as `training=False` on a frozen
    backbone, are kept. Dropout is the identity at inference, so the copy
    predicts exactly what `model` predicts. The copy is not compiled.

    The layers that produce the model's outputs never get dropout after
    them, even when they match `after` (`after=keras.layers.Dense` puts
    dropout after every hidden `Dense` layer, not after the output layer):
    dropout there would drop predictions, not features. This includes the
    last layers of a nested model whose output is the model's output.

    Args:
        model: A built Functional or Sequential `keras.Model`.
        after: Which layers get dropout after them: a regular expression
            that must match a layer's whole name, a list of them, a layer
            class (or tuple of classes), or a callable `layer -> bool`
            (called with the copy of each layer, which has the original's
            name and config).
        rate: Initial rate of the inserted layers; drive it during training
            with `kerasdrop.callbacks.DropoutScheduler`.
        dropout_class: Class of the inserted layers, called as
            `dropout_class(rate, seed=..., name=..., **dropout_kwargs)`.
            Defaults to `kerasdrop.ScheduledDropout`.
        seed: Integer seed; the `i`-th inserted layer gets `seed + i`.
            `None` for unseeded layers.
        **dropout_kwargs: More arguments of `dropout_class`.

    Returns:
        The new `keras.Model` (of the same kind as `model`).

    Raises:
        TypeError: if `model` is a subclassed model.
        ValueError: if no layer matches `after` (other than the layers that
            produce the model's outputs), or a matching layer has several
            outputs.

    Examples:
        >>> model = keras.Sequential([
        ...     keras.Input((4,)),
        ...     keras.layers.Dense(8, name="hidden"),
        ...     keras.layers.Dense(2, name="output"),
        ... ])
        >>> copy = kerasdrop.insert_dropout(model, after="hidden")
        >>> print(" -> ".join(layer.name for layer in copy.layers))
        hidden -> hidden_dropout -> output
    """
    validate_rate(rate, "rate")
    matches = layer_matcher(after)
    dropout_class = ScheduledDropout if dropout_class is None else dropout_class
    suffix = _snake_case(dropout_class.__name__).removeprefix("scheduled_")
    taken = {layer.name for layer in _compat.flatten_layers(model)}
    inserted = []

    def make_dropout(layer):
        name = f"{layer.name}_{suffix}"
        index = 1
        while name in taken:
            index += 1
            name = f"{layer.name}_{suffix}_{index}"
        taken.add(name)
        layer_seed = None if seed is None else seed + len(inserted)
        dropout = dropout_class(
            rate, seed=layer_seed, name=name, **dropout_kwargs
        )
        inserted.append(dropout)
        return dropout

    skipped = []
    copy = rebuild(model, matches, make_dropout, matched_outputs=skipped)
    if not inserted:
        names = [layer.name for layer in _compat.flatten_layers(model)][1:]
        outputs = ""
        if skipped:
            outputs = (
                f" The layers {skipped} match, but they produce the model's "
                "outputs, which never get dropout after them."
            )
        raise ValueError(
            f"No layer of the model '{model.name}' matches after={after!r}. "
            f"Its layers are: {names}.{outputs}"
        )
    return copy


def rebuild(model, matches, make_layer, adjust_call=None, matched_outputs=None):
    """Copies `model` (weights included), adding `make_layer(layer)` after
    every layer for which `matches(layer)` is true, except the layers that
    produce the model's outputs.

    `adjust_call(layer, kwargs)`, if given, returns the call keyword
    arguments to use for `layer` in the copy's top-level graph. The names
    of the output layers that match are appended to `matched_outputs`.
    """
    _check_built(model)
    pairs = []
    skipped = [] if matched_outputs is None else matched_outputs

    def skipping_outputs(outputs):
        def inserts_after(layer):
            if not matches(layer):
                return False
            if layer.name in outputs:
                if layer.name not in skipped:
                    skipped.append(layer.name)
                return False
            return True

        return inserts_after

    copy = _rebuild(
        model, skipping_outputs, make_layer, pairs, adjust_call, True
    )
    for original, clone in pairs:
        copy_layer_state(original, clone)
    return copy


def _output_layer_names(model):
    """Names of the layers of `model` that produce its outputs."""
    try:
        return {layer.name for layer in _compat.output_layers(model)}
    except AttributeError:  # A subclassed model, refused later.
        return set()


def _rebuild(
    model, skipping_outputs, make_layer, pairs, adjust_call=None, top=False
):
    """Copies `model`; `top` says whether its outputs are the final ones.

    `skipping_outputs(names)` returns the matcher that leaves out the
    layers named in `names`.
    """
    outputs = _output_layer_names(model) if top else set()
    matches = skipping_outputs(outputs)

    def clone_layer(layer):
        if isinstance(layer, keras.Model):
            _check_built(layer)
            # A nested model whose output is the model's output ends the
            # model: its own output layers are outputs too.
            return _rebuild(
                layer,
                skipping_outputs,
                make_layer,
                pairs,
                top=layer.name in outputs,
            )
        clone = layer.__class__.from_config(layer.get_config())
        pairs.append((layer, clone))
        return clone

    if isinstance(model, keras.Sequential):
        layers = []
        for layer in model.layers:
            layers.append(clone_layer(layer))
            if matches(layer):
                layers.append(make_layer(layer))
        inputs = model.inputs[0]
        copy = keras.Sequential(
            [keras.Input(batch_shape=inputs.shape, dtype=inputs.dtype)]
            + layers,
            name=model.name,
        )
    elif _compat.is_functional(model):

        def call_function(layer, *args, **kwargs):
            if adjust_call is not None:
                kwargs = adjust_call(layer, kwargs)
            outputs = layer(*args, **kwargs)
            if not matches(layer):
                return outputs
            if not isinstance(outputs, keras.KerasTensor):
                raise ValueError(
                    f"Cannot insert a layer after '{layer.name}': it has "
                    "several outputs."
                )
            return make_layer(layer)(outputs)

        copy = keras.models.clone_model(
            model,
            input_tensors=fresh_inputs(model),
            clone_function=clone_layer,
            call_function=call_function,
        )
    else:
        raise TypeError(
            "Expected a Functional or Sequential model; the layers of the "
            f"subclassed model '{model.name}' (of type "
            f"{type(model).__name__}) cannot be rewired."
        )
    if not model.trainable:
        copy.trainable = False
    return copy


def fresh_inputs(model):
    """New symbolic inputs with the names of the model's input layers."""
    names = {
        id(layer.output): layer.name
        for layer in model.layers
        if isinstance(layer, keras.layers.InputLayer)
    }

    def fresh(tensor):
        return keras.Input(
            batch_shape=tensor.shape,
            dtype=tensor.dtype,
            name=names.get(id(tensor)),
        )

    return keras.tree.map_structure(fresh, model.input)


def _check_built(model):
    if not isinstance(model, keras.Model):
        raise TypeError(
            "Invalid type received for argument `model`. Expected a "
            f"keras.Model. Received: model={model!r} of type "
            f"{type(model).__name__}"
        )
    if isinstance(model, keras.Sequential) and not _inputs(model):
        raise ValueError(
            f"The Sequential model '{model.name}' has no input yet. Start it "
            "with `keras.Input(shape)` or build it before inserting layers."
        )


def _inputs(model):
    try:
        return model.inputs
    except AttributeError:  # A Sequential model that was never built.
        return None


def _snake_case(name):
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
