"""add_stochastic_depth on keras.applications models (random weights, small
inputs, nothing downloaded) and on small Functional models built here."""

import re

import keras
import numpy as np
import pytest
from keras import ops

import kerasdrop
from kerasdrop import schedules
from kerasdrop import transfer
from kerasdrop.models import stochastic_depth

_SHAPE = (32, 32, 3)


def _numpy(x):
    return ops.convert_to_numpy(x)


def _count(model, pattern):
    """The layers of `model` whose names match `pattern`, counted from the
    names Keras gives the blocks, independently of the graph walk."""
    names = [operation.name for operation in model.operations]
    names += [layer.name for layer in model.layers]
    return len({name for name in names if re.fullmatch(pattern, name)})


# Each family: its constructor, and how many residual blocks its layer names
# say it has (ResNet50: 3 + 4 + 6 + 3 blocks, each ending in an `Add`
# named `..._add` (V1) or `..._out` (V2); EfficientNetB0: the 9 of its 16
# blocks that keep their shape, each ending in `..._add` after the
# per-sample `..._drop`; ConvNeXtTiny: 3 + 3 + 9 + 3 blocks, whose branch
# ends in `..._identity`; MobileNetV2: the 10 blocks named `block_N_add`).
FAMILIES = {
    "ResNet50": (keras.applications.ResNet50, r"conv\d_block\d+_add", 4),
    "ResNet50V2": (keras.applications.ResNet50V2, r"conv\d_block\d+_out", 4),
    "EfficientNetB0": (keras.applications.EfficientNetB0, r"block\w+_add", 5),
    "ConvNeXtTiny": (keras.applications.ConvNeXtTiny, r".*_identity", 4),
    "MobileNetV2": (keras.applications.MobileNetV2, r"block_\d+_add", 5),
}


# The graph walk and the copy are Keras's backend-independent graph code:
# the families, tens of millions of weights each, are checked on
# TensorFlow and on PyTorch (eager, about 30 s on two cores), not on JAX;
# the small models below check every backend, in `fit` too.
@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family(request):
    if keras.backend.backend() not in ("tensorflow", "torch"):
        pytest.skip(
            "keras.applications families are checked on TensorFlow and "
            "PyTorch: the graph walk does not depend on the backend"
        )
    constructor, pattern, stages = FAMILIES[request.param]
    keras.utils.set_random_seed(0)
    model = constructor(weights=None, input_shape=_SHAPE)
    copy = kerasdrop.add_stochastic_depth(model, rate=0.2, seed=0)
    return request.param, model, copy, pattern, stages


def _images(num, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (num,) + _SHAPE).astype("float32")


def test_every_residual_block_is_found(family):
    name, model, copy, pattern, stages = family
    blocks = stochastic_depth.find_residual_blocks(model)
    assert len(blocks.found) == _count(model, pattern)
    assert blocks.skipped == []
    assert blocks.found[-1].stage + 1 == stages
    assert len(kerasdrop.find_rates(copy)) == len(blocks.found)
    if name == "EfficientNetB0":
        # Its own per-sample dropout on every branch is kept, not doubled.
        assert all(block.existing for block in blocks.found)
        for block in blocks.found:
            assert isinstance(
                copy.get_layer(block.existing), kerasdrop.layers.DropPath
            )
    else:
        assert not any(block.existing for block in blocks.found)


def test_inference_outputs_are_unchanged_bit_for_bit(family):
    _, model, copy, _, _ = family
    x = _images(2)
    np.testing.assert_array_equal(_numpy(copy(x)), _numpy(model(x)))
    # Every layer's weights are copied onto the layer of the same name.
    for layer in model.layers:
        for original, copied in zip(
            layer.get_weights(), copy.get_layer(layer.name).get_weights()
        ):
            np.testing.assert_array_equal(copied, original)


def test_rates_rise_linearly_with_depth(family):
    _, model, copy, _, _ = family
    blocks = copy.stochastic_depth.found
    rates = list(kerasdrop.find_rates(copy).values())
    expected = kerasdrop.layers.depth_rates(0.2, len(blocks))
    # find_rates lists layers in graph order, which is depth order here.
    np.testing.assert_allclose(rates, expected, rtol=1e-6, atol=1e-7)


def _residual_model():
    """Three residual blocks on 8 features: identity shortcuts around dense
    branches, then a projection shortcut (a Dense of one layer against a
    branch of two)."""
    inputs = keras.Input((8,))
    x = inputs
    for index in range(2):
        branch = keras.layers.Dense(8, name=f"branch_{index}")(x)
        x = keras.layers.Add(name=f"add_{index}")([x, branch])
    shortcut = keras.layers.Dense(4, name="projection")(x)
    branch = keras.layers.Dense(6, activation="relu", name="wide")(x)
    branch = keras.layers.Dense(4, name="narrow")(branch)
    x = keras.layers.Add(name="add_2")([branch, shortcut])
    return keras.Model(inputs, keras.layers.Dense(1, name="out")(x))


def test_projection_shortcut_is_the_shorter_path():
    blocks = stochastic_depth.find_residual_blocks(_residual_model())
    assert [(b.add, b.branch_index) for b in blocks.found] == [
        ("add_0", 1),
        ("add_1", 1),
        ("add_2", 0),
    ]
    assert [b.stage for b in blocks.found] == [0, 0, 1]


def test_additions_that_are_not_branch_plus_shortcut_are_skipped():
    inputs = keras.Input((4,))
    other = keras.Input((4,))
    a = keras.layers.Dense(4, name="a")(inputs)
    b = keras.layers.Dense(4, name="b")(inputs)
    c = keras.layers.Dense(4, name="c")(inputs)
    three = keras.layers.Add(name="three")([a, b, c])
    equal = keras.layers.Add(name="equal")([a, b])
    unrelated = keras.layers.Add(name="unrelated")([three, other])
    residual = keras.layers.Add(name="residual")([unrelated, equal])
    model = keras.Model([inputs, other], [residual])
    blocks = stochastic_depth.find_residual_blocks(model)
    skipped = {item.add: item.reason for item in blocks.skipped}
    assert set(skipped) == {"three", "equal", "unrelated"}
    assert "3 tensors" in skipped["three"]
    assert "same length" in skipped["equal"]
    assert "common tensor" in skipped["unrelated"]
    # `residual` adds `equal`, computed from `inputs`, to `unrelated`,
    # computed from it too, by paths of 2 and 3 operations: the longer is
    # the branch.
    assert [(b.add, b.branch_index) for b in blocks.found] == [("residual", 0)]


def test_model_without_residual_blocks_raises_with_the_skipped_additions():
    inputs = keras.Input((4,))
    a = keras.layers.Dense(4, name="a")(inputs)
    b = keras.layers.Dense(4, name="b")(inputs)
    model = keras.Model(inputs, keras.layers.Add(name="plain")([a, b]))
    match = "(?s)No residual block.*'plain': .*same length"
    with pytest.raises(ValueError, match=match):
        kerasdrop.add_stochastic_depth(model)


@pytest.mark.parametrize(
    "profile, expected",
    [
        ("uniform", [0.3, 0.3, 0.3]),
        ("linear", [0.0, 0.15, 0.3]),
        ("stage", [0.15, 0.15, 0.3]),
        ([0.1, 0.0, 0.2], [0.1, 0.0, 0.2]),
    ],
)
def test_profiles_give_each_block_its_rate(profile, expected):
    copy = kerasdrop.add_stochastic_depth(
        _residual_model(), rate=0.3, profile=profile
    )
    rates = kerasdrop.find_rates(copy)
    assert list(rates) == [f"add_{i}_drop_path/rate" for i in range(3)]
    np.testing.assert_allclose(list(rates.values()), expected, atol=1e-7)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"profile": "cubic"}, "profile"),
        ({"profile": [0.1, 0.2]}, "2 rates, but the model has 3"),
        ({"rate": 1.5}, "rate"),
        ({"mode": "sample"}, "mode"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_invalid_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        kerasdrop.add_stochastic_depth(_residual_model(), **kwargs)


def test_subclassed_model_is_refused():
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, inputs):
            return inputs + self.dense(inputs)

    model = Subclassed()
    model(np.ones((1, 2)))
    with pytest.raises(ValueError, match="Functional"):
        kerasdrop.add_stochastic_depth(model)


def _branch_kept(copy, x):
    """Per training call, which samples kept each block's branch: read
    from the DropPath layers' outputs through a probe model."""
    layers = [copy.get_layer(f"add_{i}_drop_path") for i in range(2)]
    probe = keras.Model(copy.input, [layer.output for layer in layers])
    outputs = probe(x, training=True)
    return [np.any(_numpy(output) != 0, axis=1) for output in outputs]


def test_masks_in_compiled_fit_follow_a_relative_schedule():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,))
    x = inputs
    for index in range(2):
        branch = keras.layers.Dense(8, name=f"branch_{index}")(x)
        x = keras.layers.Add(name=f"add_{index}")([x, branch])
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    copy = kerasdrop.add_stochastic_depth(
        model, rate=0.8, profile=[0.4, 0.8], seed=3
    )
    copy.compile(optimizer="sgd", loss="mse")

    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 8)).astype("float32")
    y = rng.standard_normal((64, 1)).astype("float32")
    # Late stochastic depth: off for the first epoch, then at the profile.
    scheduler = kerasdrop.callbacks.DropoutScheduler(
        schedules.LateDropout(1.0, cutoff=1), relative=True
    )
    history = copy.fit(
        x,
        y,
        epochs=2,
        batch_size=16,
        callbacks=[scheduler],
        verbose=0,
    )
    assert history.history["add_0_drop_path/rate"] == pytest.approx([0, 0.4])
    assert history.history["add_1_drop_path/rate"] == pytest.approx([0, 0.8])
    # At the profile's rates the branches are dropped per sample at those
    # rates: 4,096 samples give a standard deviation below 0.008.
    big = np.repeat(x, 64, axis=0)
    dropped = [1 - np.mean(mask) for mask in _branch_kept(copy, big)]
    np.testing.assert_allclose(dropped, [0.4, 0.8], atol=0.04)


def test_frozen_backbone_runs_in_the_callers_mode_with_batchnorm_frozen():
    backbone = transfer.small_resnet(
        input_shape=(16, 16, 1), filters=(4, 8, 8), seed=0
    )
    model = transfer.build_classifier(backbone, 3)
    x = np.random.default_rng(2).random((4, 16, 16, 1)).astype("float32")
    copy = kerasdrop.add_stochastic_depth(model, rate=1.0, profile="uniform")
    np.testing.assert_array_equal(_numpy(copy(x)), _numpy(model(x)))
    inner = next(
        layer for layer in copy.layers if isinstance(layer, keras.Model)
    )
    batchnorm = [
        layer
        for layer in inner.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert batchnorm and not any(layer.trainable for layer in batchnorm)
    assert len(copy.stochastic_depth.found) == len(
        stochastic_depth.find_residual_blocks(backbone).found
    )
    drop_paths = [
        layer
        for layer in inner.layers
        if isinstance(layer, kerasdrop.layers.DropPath)
    ]
    assert len(drop_paths) == len(copy.stochastic_depth.found)
    # At rate 1 every branch is dropped in training: the backbone runs in
    # the caller's training mode, so its output differs from inference.
    assert not np.allclose(
        _numpy(copy(x, training=True)), _numpy(copy(x, training=False))
    )


def test_copy_saves_and_loads_with_its_rates(tmp_path):
    copy = kerasdrop.add_stochastic_depth(
        _residual_model(), rate=0.3, profile="linear"
    )
    path = str(tmp_path / "model.keras")
    copy.save(path)
    loaded = keras.saving.load_model(path)
    assert kerasdrop.find_rates(loaded) == pytest.approx(
        kerasdrop.find_rates(copy)
    )
    x = np.random.default_rng(3).standard_normal((5, 8)).astype("float32")
    np.testing.assert_array_equal(_numpy(loaded(x)), _numpy(copy(x)))


def test_batch_mode_drops_a_branch_for_the_whole_batch():
    copy = kerasdrop.add_stochastic_depth(
        _residual_model(), rate=0.5, profile="uniform", mode="batch", seed=1
    )
    layer = copy.get_layer("add_0_drop_path")
    assert layer.mode == "batch"
    x = np.ones((32, 8), "float32")
    kept = [_branch_kept(copy, x)[0] for _ in range(8)]
    # Every call keeps the branch for all samples or for none.
    assert all(mask.all() or not mask.any() for mask in kept)
