import sys

import keras
import numpy as np
import pytest

from kerasdrop import transfer
from tests.applications import not_on_jax


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


@not_on_jax
@pytest.mark.parametrize(
    "name, branch_end, extra_top_layers",
    [
        ("resnet50", "conv5_block{}_3_bn", []),
        ("resnet50_v2", "conv5_block{}_3_conv", ["post_bn", "post_relu"]),
    ],
)
def test_keras_resnet_code_path_without_downloading_weights(
    name, branch_end, extra_top_layers
):
    backbone, preprocess = transfer.load_backbone(
        name, weights=None, input_shape=(32, 32, 3)
    )
    assert backbone.output.shape == (None, 1, 1, 2048)
    top = [layer.name for layer in transfer.top_stage_layers(backbone)]
    assert top[0].startswith("conv5_block1_")
    stage = [n for n in top if n.startswith("conv5_")]
    assert top == stage + extra_top_layers
    ends = transfer.residual_branch_ends(backbone)
    assert [layer.name for layer in ends] == [
        branch_end.format(block) for block in (1, 2, 3)
    ]

    model = transfer.build_classifier(backbone, 4, hidden_units=8)
    assert not backbone.trainable_weights
    images = preprocess(
        np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3))
    )
    assert _numpy(model(images)).shape == (2, 4)
    unfrozen = transfer.unfreeze_top_stage(model)
    assert unfrozen and all(n.startswith("conv5_") for n in unfrozen)
    assert not any("_bn" in n for n in unfrozen)


def test_applications_get_the_weights_file_path(monkeypatch, tmp_path):
    # A real ResNet50 weights file is about 100 MB; the path is all that
    # kerasdrop handles, so check what reaches Keras.
    received = {}

    def fake_resnet50(**kwargs):
        received.update(kwargs)
        return "backbone"

    monkeypatch.setitem(
        sys.modules["kerasdrop.transfer.backbones"]._APPLICATIONS,
        "resnet50",
        (fake_resnet50, keras.applications.resnet),
    )
    path = tmp_path / "resnet50.weights.h5"
    path.write_bytes(b"")
    backbone, preprocess = transfer.load_backbone(
        "resnet50", weights=str(path), input_shape=(64, 64, 3)
    )
    assert backbone == "backbone"
    assert preprocess is keras.applications.resnet.preprocess_input
    assert received == {
        "include_top": False,
        "weights": str(path),
        "input_shape": (64, 64, 3),
        "pooling": None,
    }


def test_small_resnet_from_file_and_with_random_weights(tmp_path):
    backbone, preprocess = transfer.load_backbone("small_resnet", weights=None)
    assert backbone.inputs[0].shape == (None, 32, 32, 1)
    np.testing.assert_allclose(preprocess(np.array([0.0, 255.0])), [0, 1])
    path = str(tmp_path / "backbone.keras")
    backbone.save(path)
    loaded, _ = transfer.load_backbone("small_resnet", weights=path)
    for a, b in zip(loaded.get_weights(), backbone.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="takes inputs of shape"):
        transfer.load_backbone(
            "small_resnet", weights=path, input_shape=(16, 16, 1)
        )


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"name": "vgg16"}, ValueError),
        (
            {"name": "resnet50", "weights": "/no/such/file.h5"},
            FileNotFoundError,
        ),
        (
            {"name": "small_resnet", "weights": "/no/such.keras"},
            FileNotFoundError,
        ),
        ({"name": "small_resnet", "weights": "imagenet"}, ValueError),
    ],
)
def test_invalid_backbones_raise(kwargs, error):
    with pytest.raises(error):
        transfer.load_backbone(**kwargs)
