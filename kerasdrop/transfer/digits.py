"""Offline image data for the transfer-learning demo: scikit-learn's digits.

scikit-learn ships its 1,797 handwritten digits (8x8 pixels, 16 grey levels)
inside the package, so they load without a network. Upscaled to 32x32 they
make a small image task: the offline backbone is pretrained on the digits
0-4 and fine-tuned on the digits 5-9 with a few labels per class.

Reference: Alpaydin and Kaynak, 1998, "Optical Recognition of Handwritten
Digits" (UCI), as shipped by `sklearn.datasets.load_digits`.
"""

import numbers

import numpy as np
from keras import ops


def load_digits_images(classes=range(10), image_size=32, channels=1):
    """Loads scikit-learn's digits as float32 images in [0, 1].

    Args:
        classes: The digits to keep, for example `range(5)`. Labels are
            renumbered `0 .. len(classes) - 1` in increasing digit order.
        image_size: Side of the square output images; the 8x8 originals are
            upscaled with bilinear interpolation.
        channels: 1 for grey images, 3 to repeat the grey level into RGB
            channels (for backbones built for colour images).

    Returns:
        A tuple `(images, labels)`: images of shape
        `(num_samples, image_size, image_size, channels)` and int32 labels.

    Raises:
        ImportError: if scikit-learn is not installed.
        ValueError: if an argument is out of range.

    Examples:
        >>> images, labels = load_digits_images(classes=[5, 6], image_size=16)
        >>> images.shape, sorted(set(labels.tolist()))
        ((363, 16, 16, 1), [0, 1])
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError(
            "`load_digits_images` needs scikit-learn, which ships the "
            "digits data set. Install it with `pip install scikit-learn` "
            "(or `pip install kerasdrop[examples]`)."
        ) from error
    classes = sorted({int(digit) for digit in classes})
    if not classes or classes[0] < 0 or classes[-1] > 9:
        raise ValueError(
            "Invalid value received for argument `classes`. Expected digits "
            f"between 0 and 9. Received: classes={classes}"
        )
    if not isinstance(image_size, numbers.Integral) or image_size < 8:
        raise ValueError(
            "Invalid value received for argument `image_size`. Expected an "
            f"integer >= 8. Received: image_size={image_size}"
        )
    if channels not in (1, 3):
        raise ValueError(
            "Invalid value received for argument `channels`. Expected 1 or "
            f"3. Received: channels={channels}"
        )
    data = load_digits()
    keep = np.isin(data.target, classes)
    images = (data.images[keep] / 16.0).astype("float32")[..., None]
    if image_size != 8:
        resized = ops.image.resize(
            images, (image_size, image_size), interpolation="bilinear"
        )
        images = np.clip(ops.convert_to_numpy(resized), 0.0, 1.0)
    if channels == 3:
        images = np.repeat(images, 3, axis=-1)
    labels = np.searchsorted(classes, data.target[keep]).astype("int32")
    return images.astype("float32"), labels


def few_shot_split(labels, labels_per_class, seed=0):
    """Splits sample indices into a few labelled ones per class and the rest.

    Args:
        labels: Integer class labels, shape `(num_samples,)`.
        labels_per_class: Number of training samples drawn per class.
        seed: Seed of the draw; the same seed gives the same split.

    Returns:
        A tuple `(train_indices, validation_indices)` of sorted int arrays
        that together cover every sample once.

    Raises:
        ValueError: if a class has no more than `labels_per_class` samples.

    Examples:
        >>> labels = np.array([0, 0, 0, 1, 1, 1])
        >>> train, validation = few_shot_split(labels, labels_per_class=1)
        >>> len(train), len(validation)
        (2, 4)
    """
    labels = np.asarray(labels)
    if (
        isinstance(labels_per_class, bool)
        or not isinstance(labels_per_class, numbers.Integral)
        or labels_per_class < 1
    ):
        raise ValueError(
            "Invalid value received for argument `labels_per_class`. "
            "Expected a positive integer. "
            f"Received: labels_per_class={labels_per_class}"
        )
    rng = np.random.default_rng(seed)
    train = []
    for label in np.unique(labels):
        indices = np.flatnonzero(labels == label)
        if len(indices) <= labels_per_class:
            raise ValueError(
                f"Class {label} has {len(indices)} samples, so it cannot give "
                f"{labels_per_class} training labels and keep some for "
                f"validation. Received: labels_per_class={labels_per_class}"
            )
        train.append(rng.choice(indices, labels_per_class, replace=False))
    train = np.sort(np.concatenate(train))
    validation = np.setdiff1d(np.arange(len(labels)), train)
    return train, validation
