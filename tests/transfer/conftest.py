"""Small backbones shared by the transfer-learning tests."""

import keras
import numpy as np
import pytest

from kerasdrop import transfer


def randomize_batchnorm(model, seed=0):
    """Gives every BatchNorm layer non-trivial moving statistics.

    A fresh BatchNorm layer has moving mean 0 and variance 1, which makes
    inference mode hard to tell from training mode on some inputs.
    """
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights(
                [
                    gamma,
                    beta,
                    rng.normal(0.0, 0.3, mean.shape).astype("float32"),
                    rng.uniform(0.5, 2.0, variance.shape).astype("float32"),
                ]
            )
    return model


@pytest.fixture
def tiny_backbone():
    """A small ResNet on 16x16 grey images with BatchNorm statistics."""
    backbone = transfer.small_resnet(
        input_shape=(16, 16, 1), filters=(4, 8, 8), seed=0
    )
    return randomize_batchnorm(backbone)


@pytest.fixture
def images():
    return np.random.default_rng(0).random((8, 16, 16, 1)).astype("float32")
