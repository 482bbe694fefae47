"""Classifiers on a frozen pretrained backbone, and their head alone.

`build_classifier` puts a head on a backbone: the backbone is frozen and
called with `training=False`, so its BatchNorm layers keep using their moving
statistics even while the head trains; global pooling turns the feature map
into a vector; an optional hidden `Dense` layer follows; and a kerasdrop
`ScheduledDropout` sits right before the output layer, so any schedule can
drive it through `kerasdrop.callbacks.DropoutScheduler`.

`build_head` builds the same head as a model of its own, from pooled
features to class probabilities. Both use one function to make the head's
layers, with the same names, so a head trained on cached backbone features
(one `predict` of the backbone instead of one per step) can be copied into
the full classifier with `copy_head_weights`, and it computes the same
function there.
"""

import keras

from kerasdrop import _compat
from kerasdrop.layers.rates import copy_layer_state
from kerasdrop.layers.scheduled_dropout import ScheduledDropout

_POOLING = {
    "avg": keras.layers.GlobalAveragePooling2D,
    "max": keras.layers.GlobalMaxPooling2D,
}


def _check_positive_int(value, name, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a "
            f"positive integer{' or None' if allow_none else ''}. "
            f"Received: {name}={value!r}"
        )
    return value


def _kernel_initializer(seed, offset):
    if seed is None:
        return "glorot_uniform"
    return keras.initializers.GlorotUniform(seed=seed + offset)


def head_layers(
    num_classes,
    hidden_units=None,
    dropout_rate=0.5,
    activation="relu",
    output_activation="softmax",
    seed=None,
    name="head",
):
    """Makes the layers of a classification head, in call order.

    The layers are `{name}_hidden` (a `Dense` with `hidden_units` units, only
    when `hidden_units` is set), `{name}_dropout` (a
    `kerasdrop.ScheduledDropout`) and `{name}_output` (a `Dense` with
    `num_classes` units). With an integer `seed`, the kernel initializers
    and the dropout masks are seeded, so two heads built with the same seed
    start with the same weights.

    Args:
        num_classes: Number of classes (units of the output layer).
        hidden_units: Units of the hidden layer, or `None` for none.
        dropout_rate: Initial rate of the dropout before the output layer.
        activation: Activation of the hidden layer.
        output_activation: Activation of the output layer; `None` gives
            logits.
        seed: Integer seed, or `None`.
        name: Prefix of the layer names.

    Returns:
        A list of Keras layers.
    """
    _check_positive_int(num_classes, "num_classes")
    _check_positive_int(hidden_units, "hidden_units", allow_none=True)
    layers = []
    if hidden_units is not None:
        layers.append(
            keras.layers.Dense(
                hidden_units,
                activation=activation,
                kernel_initializer=_kernel_initializer(seed, 1),
                name=f"{name}_hidden",
            )
        )
    layers.append(
        ScheduledDropout(dropout_rate, seed=seed, name=f"{name}_dropout")
    )
    layers.append(
        keras.layers.Dense(
            num_classes,
            activation=output_activation,
            kernel_initializer=_kernel_initializer(seed, 2),
            name=f"{name}_output",
        )
    )
    return layers


def build_head(
    num_features,
    num_classes,
    hidden_units=None,
    dropout_rate=0.5,
    activation="relu",
    output_activation="softmax",
    seed=None,
    name="head",
):
    """Builds a classification head as a model on pooled features.

    This is the part of `build_classifier`'s model after the pooling layer,
    made by the same code with the same layer names. Train it on features
    computed once by `feature_extractor`, then copy it into the classifier
    with `copy_head_weights`.

    Args:
        num_features: Length of the feature vector (channels of the
            backbone's output).
        num_classes: Number of classes.
        hidden_units: Units of an optional hidden `Dense` layer.
        dropout_rate: Initial rate of the dropout before the output layer.
        activation: Activation of the hidden layer.
        output_activation: Activation of the output layer.
        seed: Integer seed of the initializers and the dropout, or `None`.
        name: Name of the model and prefix of its layer names.

    Returns:
        A functional `keras.Model` from `(batch, num_features)` to
        `(batch, num_classes)`.

    Examples:
        >>> head = kerasdrop.transfer.build_head(64, 5, hidden_units=32)
        >>> print(" -> ".join(layer.name for layer in head.layers))
        head_features -> head_hidden -> head_dropout -> head_output
        >>> head.output.shape
        (None, 5)
    """
    _check_positive_int(num_features, "num_features")
    inputs = keras.Input((num_features,), name=f"{name}_features")
    x = inputs
    for layer in head_layers(
        num_classes,
        hidden_units,
        dropout_rate,
        activation,
        output_activation,
        seed,
        name,
    ):
        x = layer(x)
    return keras.Model(inputs, x, name=name)


def build_classifier(
    backbone,
    num_classes,
    hidden_units=None,
    dropout_rate=0.5,
    pooling="avg",
    activation="relu",
    output_activation="softmax",
    seed=None,
    freeze_backbone=True,
    name="classifier",
    head_name="head",
):
    """Builds a classifier: a frozen pretrained backbone and a new head.

    The backbone is frozen (`trainable = False`) and called with
    `training=False`, so its BatchNorm layers stay in inference mode while
    the head trains and after `unfreeze_top_stage` makes part of it
    trainable (Keras's recipe for fine-tuning). Keras 3 (checked with
    3.15.1) lets the `training` value of the outer call override the
    recorded `training=False`, so what keeps BatchNorm in inference mode
    during `fit` is that its layers are frozen: a frozen BatchNorm layer
    always normalizes with its moving statistics. The backbone's BatchNorm
    layers are therefore frozen even with `freeze_backbone=False`, and
    `unfreeze_top_stage` leaves them frozen.

    The feature map is pooled to a vector (`{head_name}_pooling`), then goes
    through the layers of `head_layers`: an optional hidden `Dense`, a
    kerasdrop `ScheduledDropout` and the output `Dense`. Drive the dropout
    rate with `kerasdrop.callbacks.DropoutScheduler` and any schedule.

    Args:
        backbone: A `keras.Model` from images to a 4D feature map
            (channels last), such as `kerasdrop.transfer.small_resnet` or
            `keras.applications.ResNet50(include_top=False)`.
        num_classes: Number of classes.
        hidden_units: Units of an optional hidden `Dense` layer.
        dropout_rate: Initial rate of the dropout before the output layer.
        pooling: `"avg"` or `"max"` global pooling.
        activation: Activation of the hidden layer.
        output_activation: Activation of the output layer.
        seed: Integer seed of the head's initializers and dropout, or `None`.
        freeze_backbone: Set `backbone.trainable = False` (the default).
        name: Name of the model.
        head_name: Prefix of the head's layer names.

    Returns:
        A functional `keras.Model` from images to class probabilities, with
        the backbone as a nested model.

    Examples:
        >>> backbone = kerasdrop.transfer.small_resnet(input_shape=(16, 16, 1))
        >>> model = kerasdrop.transfer.build_classifier(backbone, 3)
        >>> model.output.shape, backbone.trainable
        ((None, 3), False)
    """
    if not isinstance(backbone, keras.Model):
        raise TypeError(
            "Invalid type received for argument `backbone`. Expected a "
            f"keras.Model. Received: backbone={backbone!r} of type "
            f"{type(backbone).__name__}"
        )
    if pooling not in _POOLING:
        raise ValueError(
            "Invalid value received for argument `pooling`. Expected one of "
            f"{tuple(_POOLING)}. Received: pooling={pooling!r}"
        )
    if len(backbone.inputs) != 1 or len(backbone.outputs) != 1:
        raise ValueError(
            "Expected a backbone with one input and one output. Received a "
            f"model with {len(backbone.inputs)} inputs and "
            f"{len(backbone.outputs)} outputs."
        )
    if len(backbone.outputs[0].shape) != 4:
        raise ValueError(
            "Expected a backbone whose output is a 4D feature map "
            "(batch, height, width, channels). Received output shape "
            f"{backbone.outputs[0].shape}; build it without its top "
            "(`include_top=False`, `pooling=None`)."
        )
    if freeze_backbone:
        backbone.trainable = False
    freeze_batchnorm(backbone)
    inputs = keras.Input(backbone.inputs[0].shape[1:], name="image")
    # The backbone's own mode is inference; frozen BatchNorm layers keep it
    # even where Keras passes the outer call's training=True down.
    x = backbone(inputs, training=False)
    x = _POOLING[pooling](name=f"{head_name}_pooling")(x)
    for layer in head_layers(
        num_classes,
        hidden_units,
        dropout_rate,
        activation,
        output_activation,
        seed,
        head_name,
    ):
        x = layer(x)
    return keras.Model(inputs, x, name=name)


def freeze_batchnorm(model):
    """Freezes every BatchNorm layer in `model`, nested ones included.

    A frozen (`trainable = False`) BatchNorm layer normalizes with its
    moving statistics in training mode too, and never updates them.

    Returns:
        The number of BatchNorm layers frozen.
    """
    count = 0
    for layer in _compat.flatten_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
            count += 1
    return count


def feature_extractor(classifier, head_name="head"):
    """Returns the classifier's model from images to pooled features.

    It shares the classifier's backbone and pooling layers (no copy), so
    `feature_extractor(model).predict(images)` computes, once, the features
    on which `build_head`'s head can be trained.

    Args:
        classifier: A model made by `build_classifier`.
        head_name: The `head_name` given to `build_classifier`.

    Returns:
        A functional `keras.Model` from images to `(batch, channels)`.

    Examples:
        >>> backbone = kerasdrop.transfer.small_resnet(input_shape=(16, 16, 1))
        >>> model = kerasdrop.transfer.build_classifier(backbone, 3)
        >>> kerasdrop.transfer.feature_extractor(model).output.shape
        (None, 64)
    """
    pooling_name = f"{head_name}_pooling"
    try:
        pooling = classifier.get_layer(pooling_name)
    except ValueError:
        raise ValueError(
            f"The model '{classifier.name}' has no layer '{pooling_name}'. "
            "Expected a model made by `kerasdrop.transfer.build_classifier` "
            f"with head_name={head_name!r}."
        ) from None
    return keras.Model(
        classifier.inputs, pooling.output, name=f"{classifier.name}_features"
    )


def copy_head_weights(source, target):
    """Copies weights and dropout rates between models, by layer name.

    Every layer of `source` that is not a nested model and holds weights or
    kerasdrop rates is matched with the layer of the same name in `target`,
    which receives its weights and its current rates. Use it to put a head
    trained by `build_head` into `build_classifier`'s model, or back.

    Args:
        source: The model to copy from.
        target: The model to copy into.

    Returns:
        The names of the layers copied.

    Raises:
        ValueError: if a layer of `source` has no namesake in `target`.
    """
    copied = []
    for layer in source.layers:
        rates = getattr(layer, "dropout_rates", {})
        if isinstance(layer, keras.Model) or not (layer.weights or rates):
            continue
        try:
            twin = target.get_layer(layer.name)
        except ValueError:
            raise ValueError(
                f"The model '{target.name}' has no layer '{layer.name}' to "
                f"copy from '{source.name}'."
            ) from None
        copy_layer_state(layer, twin)
        copied.append(layer.name)
    return copied
