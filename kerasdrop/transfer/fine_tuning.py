"""Fine-tuning the top stage of a backbone, with optional DropPath.

After the head has trained on the frozen backbone, the usual next step is to
make the last stage of the backbone trainable too, at a low learning rate,
and to recompile the model (Keras reads `trainable` when it compiles).
BatchNorm layers stay frozen, in inference mode: their statistics were
estimated on the pretraining data and a few labelled images cannot
re-estimate them. The residual branches of that stage can also get
schedulable stochastic depth (`kerasdrop.layers.DropPath`).

Reference: Huang et al., 2016, "Deep Networks with Stochastic Depth".
"""

import re

import keras

from kerasdrop.layers.drop_path import DropPath
from kerasdrop.layers.rates import validate_rate
from kerasdrop.models.insert_dropout import rebuild
from kerasdrop.transfer.classifier import freeze_batchnorm

# Stage prefixes of Keras's ResNets (`conv5_block1_...`) and of
# `kerasdrop.transfer.small_resnet` (`stage3_block1_...`).
_STAGE_PATTERN = re.compile(r"(?:conv|stage)(\d+)_")


def find_backbone(model):
    """Returns the one nested model (the backbone) among `model.layers`.

    Raises:
        ValueError: if `model` has no nested model or several.
    """
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) != 1:
        raise ValueError(
            f"Expected exactly one nested model (the backbone) in the model "
            f"'{model.name}'. Found {len(nested)}: "
            f"{[layer.name for layer in nested]}"
        )
    return nested[0]


def top_stage_layers(backbone):
    """Returns the layers of the last stage of a ResNet-like backbone.

    A stage is recognised by layer names that start with `conv<N>_`
    (Keras's ResNets) or `stage<N>_` (`kerasdrop.transfer.small_resnet`).
    The top stage is the one with the largest `N`; its layers are returned
    together with every layer that follows them in the backbone (such as
    `post_bn` and `post_relu` of `ResNet50V2`).

    Args:
        backbone: A Functional `keras.Model`.

    Returns:
        A list of layers, in the backbone's order.

    Raises:
        ValueError: if no layer name has a stage prefix.

    Examples:
        >>> backbone = kerasdrop.transfer.small_resnet(input_shape=(16, 16, 1))
        >>> names = [layer.name for layer in top_stage_layers(backbone)]
        >>> names[0], names[-1]
        ('stage3_block1_1_conv', 'stage3_block1_out')
    """
    stages = {}
    for index, layer in enumerate(backbone.layers):
        match = _STAGE_PATTERN.match(layer.name)
        if match:
            stages.setdefault(int(match.group(1)), index)
    if not stages:
        raise ValueError(
            f"No layer of the model '{backbone.name}' has a stage prefix "
            "such as 'conv5_' or 'stage3_'. Pass the names of the layers to "
            "unfreeze with `layers=`."
        )
    return backbone.layers[stages[max(stages)] :]


def _chosen_layers(backbone, layers):
    """The layers of `backbone` named in `layers` (a name or a list of
    names or layers), or its top stage for `None`."""
    if layers is None:
        return top_stage_layers(backbone)
    if isinstance(layers, (str, keras.layers.Layer)):
        layers = [layers]
    try:
        entries = list(layers)
    except TypeError:
        entries = []
    if not entries:
        raise ValueError(
            "Invalid value received for argument `layers`. Expected a layer "
            "name or a non-empty list of names of the backbone's layers. "
            f"Received: layers={layers!r}"
        )
    chosen = []
    names = [layer.name for layer in backbone.layers]
    for entry in entries:
        if isinstance(entry, keras.layers.Layer):
            entry = entry.name
        if not isinstance(entry, str):
            raise TypeError(
                "Invalid type received for argument `layers`. Expected "
                "names of layers of the backbone. Received: an entry "
                f"{entry!r} of type {type(entry).__name__}"
            )
        if entry not in names:
            raise ValueError(
                f"No layer named '{entry}' in the backbone "
                f"'{backbone.name}'. Its layers are: {names}"
            )
        chosen.append(backbone.get_layer(entry))
    return chosen


def unfreeze_top_stage(
    model, optimizer=None, layers=None, train_batchnorm=False
):
    """Makes the top stage of the backbone trainable, then recompiles.

    Every layer of the backbone outside the top stage (see
    `top_stage_layers`) stays frozen. The top stage's BatchNorm layers stay
    frozen as well unless `train_batchnorm=True`: a frozen BatchNorm layer
    is in inference mode, which is what keeps it there during `fit` (Keras
    3 passes the outer call's `training=True` down to the backbone even
    though `build_classifier` calls it with `training=False`).

    Keras fixes the trainable weights when a model is compiled, so a
    compiled `model` is compiled again, with the same loss and metrics and a
    fresh optimizer: `optimizer` if given (a lower learning rate is usual),
    otherwise a new one with the old one's config.

    Args:
        model: A model made by `build_classifier` (or any model with one
            nested backbone).
        optimizer: Optimizer (or its name, or its config) for fine-tuning;
            used when `model` is compiled.
        layers: Name of a backbone layer, or a list of them, to unfreeze
            instead of the top stage.
        train_batchnorm: Also train the BatchNorm layers of the top stage,
            which puts them in training mode during `fit`: they then
            normalize with batch statistics and update their moving ones.

    Returns:
        The names of the layers that now have trainable weights.

    Raises:
        ValueError: for an unknown optimizer or layer name, before anything
            changes. If recompiling fails, the trainable flags are put back.

    Examples:
        >>> backbone = kerasdrop.transfer.small_resnet(input_shape=(16, 16, 1))
        >>> model = kerasdrop.transfer.build_classifier(backbone, 3)
        >>> sorted(kerasdrop.transfer.unfreeze_top_stage(model))
        ['stage3_block1_0_conv', 'stage3_block1_1_conv', 'stage3_block1_2_conv']
    """
    # Everything is checked before anything changes.
    backbone = find_backbone(model)
    chosen = {id(layer) for layer in _chosen_layers(backbone, layers)}
    config = model.get_compile_config() if model.compiled else None
    if optimizer is not None:
        optimizer = keras.optimizers.get(optimizer)
        if config is not None:
            config["optimizer"] = keras.saving.serialize_keras_object(optimizer)
    flags = [(layer, layer.trainable) for layer in [backbone, *backbone.layers]]
    try:
        # Setting the backbone trainable sets every layer in it; refreeze.
        backbone.trainable = True
        unfrozen = []
        for layer in backbone.layers:
            frozen_batchnorm = not train_batchnorm and isinstance(
                layer, keras.layers.BatchNormalization
            )
            layer.trainable = id(layer) in chosen and not frozen_batchnorm
            if layer.trainable and layer.trainable_weights:
                unfrozen.append(layer.name)
        if config is not None:
            model.compile_from_config(config)
    except Exception:
        for layer, trainable in flags:
            layer.trainable = trainable
        raise
    return unfrozen


def residual_branch_ends(backbone, layers=None):
    """Returns the last layer of each residual branch of the top stage.

    In every `Add` layer of the chosen layers (the top stage by default),
    the last input is taken to be the residual branch and the others the
    shortcut, as in `keras.applications.ResNet50`, `ResNet50V2` and
    `kerasdrop.transfer.small_resnet`.

    Args:
        backbone: A Functional `keras.Model`.
        layers: Names of the layers to search instead of the top stage.

    Returns:
        A list of layers, one per residual block.
    """
    producers = {id(layer.output): layer for layer in backbone.layers}
    ends = []
    for layer in _chosen_layers(backbone, layers):
        if isinstance(layer, keras.layers.Add):
            ends.append(producers[id(layer.input[-1])])
    if not ends:
        raise ValueError(
            f"No residual addition (an `Add` layer) found in the top stage "
            f"of the model '{backbone.name}'."
        )
    return ends


def insert_drop_path(model, rate=0.1, seed=None, layers=None):
    """Returns a copy of `model` with DropPath on the top stage's branches.

    A `kerasdrop.layers.DropPath` layer (stochastic depth) goes at the end
    of every residual branch of the backbone's top stage (see
    `residual_branch_ends`), before the shortcut is added; drive its rate
    with `kerasdrop.callbacks.DropoutScheduler`. The copy keeps every weight
    (see `insert_dropout`).

    DropPath only acts in training mode, so in the copy the backbone is no
    longer called with `training=False` (Keras versions that let a recorded
    `training=False` win over the outer call would otherwise switch DropPath
    off); every BatchNorm layer of the backbone is frozen instead, which
    keeps them in inference mode (a frozen BatchNorm layer always uses its
    moving statistics).

    Args:
        model: A model made by `build_classifier`, or a backbone itself.
        rate: Initial DropPath rate.
        seed: Integer seed; the `i`-th DropPath layer gets `seed + i`.
        layers: Names of the backbone layers to search for residual blocks
            instead of the top stage.

    Returns:
        The new `keras.Model`.

    Examples:
        >>> backbone = kerasdrop.transfer.small_resnet(input_shape=(16, 16, 1))
        >>> model = kerasdrop.transfer.build_classifier(backbone, 3)
        >>> copy = kerasdrop.transfer.insert_drop_path(model, rate=0.2)
        >>> kerasdrop.find_rates(copy)
        {'stage3_block1_2_bn_drop_path/rate': 0.2, 'head_dropout/rate': 0.5}
    """
    validate_rate(rate, "rate")
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    backbone = find_backbone(model) if nested else model
    ends = {layer.name for layer in residual_branch_ends(backbone, layers)}
    inserted = []

    def make_drop_path(layer):
        layer_seed = None if seed is None else seed + len(inserted)
        drop_path = DropPath(
            rate, seed=layer_seed, name=f"{layer.name}_drop_path"
        )
        inserted.append(drop_path)
        return drop_path

    def adjust_call(layer, kwargs):
        # The backbone runs in the caller's mode so DropPath can act.
        if nested and layer.name == backbone.name:
            kwargs = {k: v for k, v in kwargs.items() if k != "training"}
        return kwargs

    copy = rebuild(
        model,
        lambda layer: layer.name in ends and not isinstance(layer, keras.Model),
        make_drop_path,
        adjust_call=adjust_call,
    )
    freeze_batchnorm(find_backbone(copy) if nested else copy)
    return copy
