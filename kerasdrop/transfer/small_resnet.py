"""A small ResNet, pretrained offline on digits, as the default backbone.

Fine-tuning demonstrations usually start from an ImageNet ResNet, which needs
a download. This module builds a ResNet small enough to pretrain in well under
a minute on two CPU cores: a 3x3 stem and three stages of basic residual
blocks (two 3x3 convolutions with BatchNorm, a projection shortcut where the
shape changes), named `stage{s}_block{b}_...` like Keras's `conv{s}_block{b}`
so `kerasdrop.transfer.top_stage_layers` finds its last stage. It is
pretrained on a source task built from data that ships with scikit-learn:
the digits 0-4, upscaled to 32x32, each shown at four rotations, and the
label is the pair (digit, rotation), 20 classes. Predicting the rotation as
well as the digit keeps the features from collapsing onto the five source
classes, so they transfer better to digits never seen in pretraining. The
pretrained backbone is cached as a `.keras` file.

References:
    - He et al., 2016, "Deep Residual Learning for Image Recognition".
    - Gidaris, Singh and Komodakis, 2018, "Unsupervised Representation
      Learning by Predicting Image Rotations" (the rotation labels).
"""

import os

import keras
import numpy as np

from kerasdrop.transfer.digits import load_digits_images

SOURCE_CLASSES = (0, 1, 2, 3, 4)
"""Digits of the pretraining (source) task."""

TARGET_CLASSES = (5, 6, 7, 8, 9)
"""Digits of the fine-tuning (target) task: none seen in pretraining."""

CACHE_ENV_VARIABLE = "KERASDROP_CACHE_DIR"


def default_cache_dir():
    """Returns the folder where kerasdrop caches pretrained backbones.

    The environment variable `KERASDROP_CACHE_DIR` wins; otherwise
    `$XDG_CACHE_HOME/kerasdrop`, or `~/.cache/kerasdrop`.
    """
    folder = os.environ.get(CACHE_ENV_VARIABLE)
    if folder:
        return os.path.expanduser(folder)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return os.path.join(base, "kerasdrop")


def small_resnet(
    input_shape=(32, 32, 1),
    filters=(16, 32, 64),
    blocks_per_stage=1,
    seed=None,
    name="small_resnet",
):
    """Builds a small ResNet without a classification top.

    The stem is a 3x3 convolution with BatchNorm and ReLU. Stage `s` (from 1)
    has `blocks_per_stage` basic blocks with `filters[s - 1]` channels; every
    stage after the first halves the resolution in its first block. A block
    computes `relu(shortcut + bn2(conv2(relu(bn1(conv1(x))))))`, and its
    `Add` layer takes the shortcut first and the residual branch last, as in
    `keras.applications.ResNet50`.

    Args:
        input_shape: Shape of one image, channels last.
        filters: Channels of each stage; one entry per stage.
        blocks_per_stage: Residual blocks in each stage.
        seed: Integer seed of the kernel initializers, or `None`.
        name: Name of the model.

    Returns:
        A functional `keras.Model` from images to the last stage's feature
        map, of shape `(height / 2 ** (len(filters) - 1), ...,
        filters[-1])`.

    Examples:
        >>> backbone = kerasdrop.transfer.small_resnet(input_shape=(16, 16, 1))
        >>> backbone.output.shape
        (None, 4, 4, 64)
    """
    if not filters or any(int(f) < 1 for f in filters):
        raise ValueError(
            "Invalid value received for argument `filters`. Expected a "
            f"non-empty list of positive integers. Received: filters={filters}"
        )
    if int(blocks_per_stage) < 1:
        raise ValueError(
            "Invalid value received for argument `blocks_per_stage`. "
            "Expected a positive integer. "
            f"Received: blocks_per_stage={blocks_per_stage}"
        )
    counter = iter(range(10**6))

    def conv(x, channels, kernel_size, strides, layer_name):
        initializer = keras.initializers.HeNormal(
            seed=None if seed is None else seed + next(counter)
        )
        return keras.layers.Conv2D(
            channels,
            kernel_size,
            strides=strides,
            padding="same",
            use_bias=False,
            kernel_initializer=initializer,
            name=layer_name,
        )(x)

    def batch_norm(x, layer_name):
        return keras.layers.BatchNormalization(momentum=0.9, name=layer_name)(x)

    inputs = keras.Input(input_shape, name="image")
    x = conv(inputs, filters[0], 3, 1, "stem_conv")
    x = batch_norm(x, "stem_bn")
    x = keras.layers.ReLU(name="stem_relu")(x)
    for stage, channels in enumerate(filters, start=1):
        for block in range(1, int(blocks_per_stage) + 1):
            prefix = f"stage{stage}_block{block}_"
            strides = 2 if stage > 1 and block == 1 else 1
            shortcut = x
            if strides != 1 or x.shape[-1] != channels:
                shortcut = conv(x, channels, 1, strides, prefix + "0_conv")
                shortcut = batch_norm(shortcut, prefix + "0_bn")
            y = conv(x, channels, 3, strides, prefix + "1_conv")
            y = batch_norm(y, prefix + "1_bn")
            y = keras.layers.ReLU(name=prefix + "1_relu")(y)
            y = conv(y, channels, 3, 1, prefix + "2_conv")
            y = batch_norm(y, prefix + "2_bn")
            x = keras.layers.Add(name=prefix + "add")([shortcut, y])
            x = keras.layers.ReLU(name=prefix + "out")(x)
    return keras.Model(inputs, x, name=name)


def small_resnet_path(
    cache_dir=None, image_size=32, filters=(16, 32, 64), epochs=4, seed=0
):
    """Returns the cache path of the pretrained small ResNet for a setting.

    The file name holds every setting that changes the weights, so runs with
    different settings never overwrite each other.
    """
    cache_dir = default_cache_dir() if cache_dir is None else cache_dir
    widths = "-".join(str(int(f)) for f in filters)
    file_name = (
        f"small_resnet_digits0-4_rot4_{image_size}px_f{widths}_e{epochs}"
        f"_seed{seed}.keras"
    )
    return os.path.join(os.path.expanduser(cache_dir), file_name)


def source_task(image_size=32):
    """Returns the pretraining images and labels: digits 0-4 at 4 rotations.

    Every image appears rotated by 0, 90, 180 and 270 degrees; the label of
    digit `d` rotated `k` quarter turns is `4 * d + k`.

    Returns:
        A tuple `(images, labels, digit_index)`: `digit_index[i]` is the
        index of the original digit image, so a split by `digit_index`
        keeps every rotation of an image on the same side.
    """
    images, digits = load_digits_images(SOURCE_CLASSES, image_size)
    rotated = [np.rot90(images, turns, axes=(1, 2)) for turns in range(4)]
    labels = [digits * 4 + turns for turns in range(4)]
    index = np.tile(np.arange(len(digits)), 4)
    return (
        np.ascontiguousarray(np.concatenate(rotated)),
        np.concatenate(labels).astype("int32"),
        index,
    )


def random_shift(factor=0.1, seed=None, name="random_shift"):
    """Keras's `RandomTranslation` by up to `factor` of the image side,
    filled with zeros, compilable on JAX.

    Keras marks `RandomTranslation` as not XLA-compilable, as TensorFlow's
    XLA has no kernel for its image transform, and a model holding such a
    layer runs its whole train step eagerly on JAX: the small ResNet's
    pretraining on 8x8 images took 110 ms a step there, and 5 ms compiled
    (2 CPU cores; `pretrain_small_resnet(image_size=8, filters=(8, 8),
    epochs=3)` prints the time per step). On JAX its ops are `jax.numpy`
    and compile, so there the layer is marked compilable; on TensorFlow
    and PyTorch it is Keras's layer unchanged.

    Args:
        factor: Largest shift, as a fraction of the height and the width.
        seed: Integer seed of the shifts.
        name: Name of the layer.

    Returns:
        A `keras.layers.RandomTranslation`.
    """
    layer = keras.layers.RandomTranslation(
        factor, factor, fill_mode="constant", seed=seed, name=name
    )
    if keras.backend.backend() == "jax":
        layer.supports_jit = True
    return layer


def pretrain_small_resnet(
    image_size=32,
    filters=(16, 32, 64),
    epochs=4,
    batch_size=64,
    learning_rate=3e-3,
    seed=0,
    verbose=2,
):
    """Pretrains `small_resnet` on the source task (see `source_task`).

    The images are also shifted at random by up to 10% during training. One
    fifth of the source images (with all their rotations) is held out to
    report the source accuracy. With the same seed, two runs on the same
    machine give the same weights: `keras.utils.set_random_seed` fixes the
    initialization, the shuffling and the random shifts.

    Args:
        image_size: Side of the square input images.
        filters: Channels of each stage (see `small_resnet`).
        epochs: Training epochs.
        batch_size: Batch size.
        learning_rate: Adam learning rate.
        seed: Integer seed.
        verbose: Verbosity of `fit` (0 quiet, 1 progress bar, 2 one line
            per epoch).

    Returns:
        A tuple `(backbone, source_accuracy)`: the pretrained backbone (no
        top) and its accuracy on the held-out source images.
    """
    keras.utils.set_random_seed(seed)
    images, labels, index = source_task(image_size)
    num_originals = index.max() + 1
    held_out = np.random.default_rng(seed).permutation(num_originals)
    held_out = np.isin(index, held_out[: num_originals // 5])
    backbone = small_resnet(
        input_shape=images.shape[1:], filters=filters, seed=seed
    )
    inputs = keras.Input(images.shape[1:], name="image")
    x = random_shift(seed=seed)(inputs)
    x = backbone(x)
    x = keras.layers.GlobalAveragePooling2D(name="source_pooling")(x)
    outputs = keras.layers.Dense(
        int(labels.max()) + 1,
        activation="softmax",
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
        name="source_output",
    )(x)
    model = keras.Model(inputs, outputs, name="small_resnet_pretraining")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        images[~held_out],
        labels[~held_out],
        batch_size=batch_size,
        epochs=epochs,
        verbose=verbose,
    )
    _, accuracy = model.evaluate(
        images[held_out], labels[held_out], batch_size=256, verbose=0
    )
    return backbone, float(accuracy)


def pretrained_small_resnet(
    cache_dir=None,
    image_size=32,
    filters=(16, 32, 64),
    epochs=4,
    seed=0,
    verbose=2,
):
    """Returns the pretrained small ResNet, pretraining it if not cached.

    The backbone is loaded from `small_resnet_path(...)` in the cache folder
    (`default_cache_dir()` unless given). When the file is missing it is
    pretrained with `pretrain_small_resnet` and saved there; the file is
    written under a temporary name and renamed, so a concurrent reader never
    sees half a file.

    Args:
        cache_dir: Folder of the cached file; `None` for
            `default_cache_dir()`.
        image_size: Side of the square input images.
        filters: Channels of each stage.
        epochs: Pretraining epochs.
        seed: Pretraining seed.
        verbose: 0 for quiet; otherwise progress is printed (2: one line
            per pretraining epoch, 1: a progress bar).

    Returns:
        The pretrained backbone, a functional `keras.Model`.
    """
    path = small_resnet_path(cache_dir, image_size, filters, epochs, seed)
    if os.path.exists(path):
        if verbose:
            print(f"Loading the pretrained small ResNet from {path}")
        return keras.saving.load_model(path, compile=False)
    if verbose:
        print(
            f"No pretrained small ResNet at {path}: pretraining it on the "
            f"digits {SOURCE_CLASSES[0]}-{SOURCE_CLASSES[-1]} at four "
            f"rotations ({epochs} epochs)."
        )
    backbone, accuracy = pretrain_small_resnet(
        image_size=image_size,
        filters=filters,
        epochs=epochs,
        seed=seed,
        verbose=verbose,
    )
    if verbose:
        print(
            "Source-task accuracy (digit and rotation) on held-out images: "
            f"{accuracy:.3f}"
        )
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path[: -len('.keras')]}.{os.getpid()}.tmp.keras"
    backbone.save(temporary)
    os.replace(temporary, path)
    if verbose:
        print(f"Saved the pretrained small ResNet to {path}")
    return backbone
