"""Pretrained backbones: Keras's ResNets and the offline small ResNet.

`load_backbone` gives every backbone the same shape: a model from images to
a feature map, without a classification top, plus the function that turns
images with values in [0, 255] into what the backbone expects.
"""

import os

import keras
import numpy as np

from kerasdrop.transfer.small_resnet import pretrained_small_resnet
from kerasdrop.transfer.small_resnet import small_resnet

BACKBONES = ("small_resnet", "resnet50", "resnet50_v2")
"""Names accepted by `load_backbone`."""

_APPLICATIONS = {
    "resnet50": (keras.applications.ResNet50, keras.applications.resnet),
    "resnet50_v2": (
        keras.applications.ResNet50V2,
        keras.applications.resnet_v2,
    ),
}


def load_backbone(
    name="small_resnet", weights="default", input_shape=None, cache_dir=None
):
    """Returns a pretrained backbone and its preprocessing function.

    - `"small_resnet"`: `kerasdrop.transfer.small_resnet`, pretrained offline
      on digits (see `pretrained_small_resnet`). `weights="default"` loads it
      from the cache folder, pretraining it first if the file is missing; a
      path loads that `.keras` file; `None` gives random weights.
    - `"resnet50"` / `"resnet50_v2"`: `keras.applications.ResNet50` /
      `ResNet50V2` without its top. `weights="default"` means `"imagenet"`
      (downloaded once by Keras, so it needs a network); a path loads a
      weights file; `None` gives random weights. The input shape defaults to
      `(224, 224, 3)`; at least 32x32 works.

    Args:
        name: One of `BACKBONES`.
        weights: `"default"`, `"imagenet"`, a file path, or `None`.
        input_shape: Shape of one image. Defaults to `(32, 32, 1)` for the
            small ResNet (which cannot change it when loaded from a file)
            and `(224, 224, 3)` for the others.
        cache_dir: Cache folder of the small ResNet.

    Returns:
        A tuple `(backbone, preprocess)`: a Functional `keras.Model` from
        images to a 4D feature map, and a function from float images with
        values in [0, 255] to the backbone's inputs.

    Examples:
        >>> backbone, preprocess = kerasdrop.transfer.load_backbone(
        ...     "resnet50", weights=None, input_shape=(32, 32, 3)
        ... )
        >>> backbone.output.shape
        (None, 1, 1, 2048)
    """
    if name not in BACKBONES:
        raise ValueError(
            "Invalid value received for argument `name`. Expected one of "
            f"{BACKBONES}. Received: name={name!r}"
        )
    if name == "small_resnet":
        return _small_resnet(weights, input_shape, cache_dir), _scale_to_unit
    constructor, module = _APPLICATIONS[name]
    if weights == "default":
        weights = "imagenet"
    if isinstance(weights, str) and weights != "imagenet":
        weights = os.path.expanduser(weights)
        if not os.path.exists(weights):
            raise FileNotFoundError(f"No weights file at {weights}.")
    backbone = constructor(
        include_top=False,
        weights=weights,
        input_shape=input_shape or (224, 224, 3),
        pooling=None,
    )
    return backbone, module.preprocess_input


def _small_resnet(weights, input_shape, cache_dir):
    if weights == "default":
        backbone = pretrained_small_resnet(cache_dir=cache_dir)
    elif weights is None:
        return small_resnet(input_shape or (32, 32, 1))
    elif weights == "imagenet":
        raise ValueError(
            "The small ResNet has no ImageNet weights. Use "
            "weights='default' (pretrained on digits), a .keras file path "
            "or None."
        )
    else:
        path = os.path.expanduser(weights)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No small ResNet file at {path}.")
        backbone = keras.saving.load_model(path, compile=False)
    expected = tuple(backbone.inputs[0].shape[1:])
    if input_shape is not None and tuple(input_shape) != expected:
        raise ValueError(
            f"The pretrained small ResNet takes inputs of shape {expected}. "
            f"Received: input_shape={tuple(input_shape)}"
        )
    return backbone


def _scale_to_unit(images):
    """Scales images with values in [0, 255] to [0, 1] (small ResNet)."""
    return np.asarray(images, dtype="float32") / 255.0
