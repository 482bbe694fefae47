import os
import sys

import keras
import numpy as np
import pytest

from kerasdrop import transfer

# `transfer.small_resnet` is the builder function; this is its module.
small_resnet_module = sys.modules["kerasdrop.transfer.small_resnet"]


def test_output_shape_and_stage_names():
    backbone = transfer.small_resnet(
        input_shape=(16, 16, 1), filters=(4, 8, 8, 16), blocks_per_stage=2
    )
    assert backbone.output.shape == (None, 2, 2, 16)
    names = [layer.name for layer in backbone.layers]
    for stage in range(1, 5):
        assert f"stage{stage}_block2_add" in names
    # The first block of a stage changes the shape: projection shortcut.
    assert "stage2_block1_0_conv" in names
    assert "stage2_block2_0_conv" not in names


def test_blocks_add_shortcut_first_and_residual_branch_last():
    backbone = transfer.small_resnet(input_shape=(8, 8, 1))
    add = backbone.get_layer("stage2_block1_add")
    assert add.input[0] is backbone.get_layer("stage2_block1_0_bn").output
    assert add.input[1] is backbone.get_layer("stage2_block1_2_bn").output


def test_seed_fixes_the_initial_weights():
    first = transfer.small_resnet(input_shape=(8, 8, 1), seed=3)
    second = transfer.small_resnet(input_shape=(8, 8, 1), seed=3)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs", [{"filters": ()}, {"filters": (4, 0)}, {"blocks_per_stage": 0}]
)
def test_invalid_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        transfer.small_resnet(**kwargs)


def test_source_task_has_four_rotations_per_digit():
    images, labels, index = transfer.source_task(image_size=8)
    num_originals = index.max() + 1
    assert images.shape == (4 * num_originals, 8, 8, 1)
    assert sorted(set(labels.tolist())) == list(range(20))
    # Label 4 * digit + turns; the quarter turn of image i is image i + n.
    first = np.flatnonzero(index == 0)
    assert labels[first].tolist() == [labels[first[0]] + k for k in range(4)]
    np.testing.assert_array_equal(
        images[first[1]], np.rot90(images[first[0]], 1, axes=(0, 1))
    )


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KERASDROP_CACHE_DIR", str(tmp_path))
    assert transfer.default_cache_dir() == str(tmp_path)
    monkeypatch.delenv("KERASDROP_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert transfer.default_cache_dir() == str(tmp_path / "xdg" / "kerasdrop")
    path = transfer.small_resnet_path(epochs=2, seed=5)
    assert path.startswith(str(tmp_path / "xdg" / "kerasdrop"))
    assert "e2" in os.path.basename(path) and "seed5" in path


def test_pretrained_small_resnet_pretrains_once_then_loads(
    monkeypatch, tmp_path
):
    calls = []

    def fake_pretrain(image_size, filters, epochs, seed, verbose):
        calls.append(epochs)
        backbone = transfer.small_resnet(
            (image_size, image_size, 1), (4, 4, 4), seed=seed
        )
        return backbone, 0.5

    monkeypatch.setattr(
        small_resnet_module, "pretrain_small_resnet", fake_pretrain
    )
    first = transfer.pretrained_small_resnet(
        cache_dir=str(tmp_path), image_size=8, epochs=1, verbose=0
    )
    path = transfer.small_resnet_path(str(tmp_path), image_size=8, epochs=1)
    assert os.path.exists(path)
    assert os.listdir(tmp_path) == [os.path.basename(path)]
    second = transfer.pretrained_small_resnet(
        cache_dir=str(tmp_path), image_size=8, epochs=1, verbose=0
    )
    assert calls == [1]
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_pretraining_is_deterministic_and_learns():
    # Two stages keep the traced graph, and so the test, small.
    kwargs = dict(image_size=8, filters=(8, 8), epochs=2, verbose=0)
    first, accuracy = transfer.pretrain_small_resnet(**kwargs)
    keras.backend.clear_session()
    second, again = transfer.pretrain_small_resnet(**kwargs)
    assert accuracy == again
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    # 20 classes: chance is 0.05.
    assert accuracy > 0.1


@pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="only JAX compiles a train step that holds RandomTranslation",
)
def test_pretraining_step_is_compiled_on_jax(monkeypatch):
    # Keras marks RandomTranslation as not XLA-compilable (TensorFlow's XLA
    # has no kernel for it), which made the whole pretraining step run
    # eagerly on JAX, 35 times slower, although its JAX ops compile.
    compiled = []

    class Stop(Exception):
        pass

    def fit(model, *args, **kwargs):
        compiled.append(model.jit_compile)
        raise Stop

    monkeypatch.setattr(keras.Model, "fit", fit)
    with pytest.raises(Stop):
        transfer.pretrain_small_resnet(image_size=8, filters=(8,), verbose=0)
    assert compiled == [True]
    assert transfer.random_shift(seed=0).supports_jit
