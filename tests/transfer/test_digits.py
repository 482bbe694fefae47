import numpy as np
import pytest

from kerasdrop import transfer


def test_images_are_upscaled_scaled_and_relabelled():
    images, labels = transfer.load_digits_images(classes=[7, 5], image_size=32)
    assert images.shape[1:] == (32, 32, 1) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.max() > 0.9
    # Digits in increasing order: 5 -> 0, 7 -> 1.
    assert sorted(set(labels.tolist())) == [0, 1]
    assert len(labels) == len(images)


def test_three_channels_repeat_the_grey_level():
    grey, _ = transfer.load_digits_images(classes=[1], image_size=8)
    rgb, _ = transfer.load_digits_images(classes=[1], image_size=8, channels=3)
    assert rgb.shape[-1] == 3
    np.testing.assert_array_equal(rgb[..., 2:], grey)


@pytest.mark.parametrize(
    "kwargs",
    [{"classes": [10]}, {"classes": []}, {"image_size": 4}, {"channels": 2}],
)
def test_invalid_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        transfer.load_digits_images(**kwargs)


def test_few_shot_split_draws_the_same_number_per_class():
    labels = np.repeat(np.arange(3), 10)
    train, validation = transfer.few_shot_split(labels, 4, seed=1)
    assert np.bincount(labels[train]).tolist() == [4, 4, 4]
    assert len(np.intersect1d(train, validation)) == 0
    assert len(train) + len(validation) == len(labels)
    again, _ = transfer.few_shot_split(labels, 4, seed=1)
    other, _ = transfer.few_shot_split(labels, 4, seed=2)
    np.testing.assert_array_equal(train, again)
    assert not np.array_equal(train, other)


@pytest.mark.parametrize("labels_per_class", [0, 10, 2.5])
def test_few_shot_split_needs_samples_left_for_validation(labels_per_class):
    with pytest.raises(ValueError, match="labels_per_class"):
        transfer.few_shot_split(np.repeat([0, 1], 10), labels_per_class)
