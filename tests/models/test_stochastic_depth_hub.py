"""add_stochastic_depth on KerasHub transformer backbones (ViT, BERT) and on
KerasHub's TransformerEncoder, built from small configs with random weights
(nothing is downloaded)."""

import re

import keras
import numpy as np
import pytest
from keras import ops

import kerasdrop
from kerasdrop import schedules
from tests.fit_probes import ReadEachEpoch
from tests.fit_probes import record_zero_fraction
from tests.models import hub_models

keras_hub = pytest.importorskip("keras_hub")


def _numpy(x):
    return ops.convert_to_numpy(x)


def _vit(num_layers=3, dropout_rate=0.1):
    return hub_models.vit(num_layers, dropout_rate=dropout_rate)


def _bert(num_layers=3, dropout=0.1):
    return hub_models.bert(num_layers, dropout=dropout)


_images = hub_models.images
_tokens = hub_models.tokens


def _vit_blocks(backbone):
    """ViT's blocks, counted from its encoder's list of blocks."""
    return backbone.get_layer("vit_encoder").encoder_layers


def _bert_blocks(backbone):
    """BERT's blocks, counted from its layer names."""
    return [
        layer
        for layer in backbone.layers
        if re.fullmatch(r"transformer_layer_\d+", layer.name)
    ]


# Each family: the backbone, its inputs, its blocks counted independently
# of kerasdrop's walk, and the output compared (BERT returns a dict).
FAMILIES = {
    "ViT": (_vit, _images, _vit_blocks, lambda outputs: outputs),
    "BERT": (_bert, _tokens, _bert_blocks, lambda o: o["sequence_output"]),
}


@pytest.fixture(params=sorted(FAMILIES))
def family(request):
    build, inputs, blocks, output = FAMILIES[request.param]
    keras.utils.set_random_seed(0)
    backbone = build()
    copy = kerasdrop.add_stochastic_depth(backbone, rate=0.2, seed=0)
    return backbone, copy, inputs(4), blocks, output


def _drop_paths(model):
    return [
        layer
        for layer in kerasdrop.models.walk.layers_of(model)
        if isinstance(layer, kerasdrop.layers.DropPath)
    ]


def test_every_attention_and_mlp_branch_is_found(family):
    backbone, copy, _, blocks, _ = family
    # Two residual branches per block: the attention's and the MLP's.
    expected = 2 * len(blocks(backbone))
    found = kerasdrop.models.find_residual_blocks(backbone).found
    assert len(found) == expected == 6
    assert all(block.in_call for block in found)
    assert len(copy.stochastic_depth.found) == expected
    assert len(_drop_paths(copy)) == expected
    assert _drop_paths(backbone) == []


def test_copy_keeps_the_class_weights_and_inference_outputs(family):
    backbone, copy, x, _, output = family
    assert isinstance(copy, type(backbone))
    for before, after in zip(backbone.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(
        _numpy(output(copy(x))), _numpy(output(backbone(x)))
    )


def test_rates_rise_with_depth_per_profile(family):
    backbone, copy, _, _, _ = family
    rates = [layer.rate for layer in _drop_paths(copy)]
    assert rates == pytest.approx(kerasdrop.layers.depth_rates(0.2, 6))
    for profile, expected in [("uniform", [0.2] * 6), ("stage", [0.2] * 6)]:
        other = kerasdrop.add_stochastic_depth(backbone, 0.2, profile)
        assert [layer.rate for layer in _drop_paths(other)] == (
            pytest.approx(expected)
        )


def test_training_drops_branches(family):
    backbone, _, x, _, output = family
    # At rate 1 every block is the identity for every sample; the
    # backbone's own dropout is off, so inference and training differ only
    # by the dropped branches.
    copy = kerasdrop.add_stochastic_depth(backbone, 1.0, "uniform", seed=0)
    for layer in kerasdrop.models.walk.layers_of(copy):
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    trained = _numpy(output(copy(x, training=True)))
    assert not np.allclose(trained, _numpy(output(copy(x))))


def test_vit_mlp_branch_is_dropped_once_per_sample():
    # ViT's MLP calls one Dropout on its hidden units and on its output:
    # the drop path must hit the MLP's output only. With dropout off, each
    # sample's block output is then `h` (branch dropped) or `h + 2 mlp(h)`
    # (kept, scaled by 1 / (1 - 0.5)), where `h` is the output of the
    # attention's residual addition.
    copy = kerasdrop.add_stochastic_depth(
        _vit(num_layers=1, dropout_rate=0.0),
        profile=[0.0, 0.5],
        rate=0.5,
        seed=4,
    )
    block = _vit_blocks(copy)[0]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 5, 8)).astype("float32")
    normed = block.layer_norm_1(x)
    h = _numpy(block.dropout(block.mha(normed, normed))) + x
    branch = _numpy(block.mlp(block.layer_norm_2(h)))
    y = _numpy(block(x, training=True))
    dropped = np.all(np.isclose(y, h, atol=1e-6), axis=(1, 2))
    kept = np.all(np.isclose(y, h + 2 * branch, atol=1e-5), axis=(1, 2))
    assert np.all(dropped | kept)
    assert 10 < dropped.sum() < 54  # Half of 64 (4 standard deviations).


# The backbones' own dropout, at 0 here, stays Keras's; BERT's pooler is
# not trained on its sequence output.
@pytest.mark.filterwarnings("ignore:DropoutScheduler cannot change")
@pytest.mark.filterwarnings("ignore:Gradients do not exist")
@pytest.mark.parametrize("family_name", sorted(FAMILIES))
def test_compiled_fit_follows_a_relative_schedule(family_name):
    build, inputs, _, output = FAMILIES[family_name]
    keras.utils.set_random_seed(0)
    no_dropout = {"dropout_rate": 0.0} if family_name == "ViT" else {}
    backbone = build(num_layers=2, **(no_dropout or {"dropout": 0.0}))
    copy = kerasdrop.add_stochastic_depth(
        backbone, rate=0.5, profile="uniform", seed=1
    )
    last = _drop_paths(copy)[-1]
    zeros = record_zero_fraction(last)
    features = inputs(512, seed=1)
    outputs = keras.layers.Dense(1)(output(copy(copy.input)))
    model = keras.Model(copy.input, outputs)
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="mse")
    y = np.zeros_like(_numpy(model.predict(features, verbose=0)))
    reader = ReadEachEpoch({"zeros": zeros})
    # Late stochastic depth: off for the first epoch, then at the profile.
    scheduler = kerasdrop.callbacks.DropoutScheduler(
        schedules.LateDropout(1.0, cutoff=1), relative=True
    )
    history = model.fit(
        features,
        y,
        epochs=2,
        batch_size=512,
        callbacks=[scheduler, reader],
        verbose=0,
    )
    keys = [key for key in history.history if key.endswith("_drop_path/rate")]
    assert len(keys) == 4
    for key in keys:
        assert history.history[key] == pytest.approx([0.0, 0.5])
    # The fraction of the last step's samples whose branch was dropped
    # (512 samples: standard deviation 0.022).
    assert reader.values["zeros"][0] == 0.0
    assert reader.values["zeros"][1] == pytest.approx(0.5, abs=0.1)


@pytest.mark.parametrize("nested", [False, True], ids=["backbone", "nested"])
def test_saves_and_loads_with_its_drop_paths(family, nested, tmp_path):
    backbone, copy, x, _, output = family
    for layer in _drop_paths(copy):
        layer.rate = layer.rate + 0.1  # Rates moved since the copy.
    model = copy
    if nested:
        outputs = keras.layers.Dense(2)(output(copy(copy.input)))
        model = keras.Model(copy.input, outputs)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert kerasdrop.find_rates(loaded) == pytest.approx(
        kerasdrop.find_rates(model)
    )
    assert len(kerasdrop.find_rates(loaded)) == 6
    if nested:
        np.testing.assert_array_equal(_numpy(loaded(x)), _numpy(model(x)))
    else:
        assert isinstance(loaded, type(backbone))
        np.testing.assert_array_equal(
            _numpy(output(loaded(x))), _numpy(output(copy(x)))
        )


def test_transformer_encoder_in_a_functional_model_saves_and_loads(tmp_path):
    inputs = keras.Input((5, 8))
    x = inputs
    for index in range(2):
        x = keras_hub.layers.TransformerEncoder(
            16, 2, dropout=0.1, name=f"encoder_{index}"
        )(x)
    model = keras.Model(inputs, x)
    copy = kerasdrop.add_stochastic_depth(model, rate=0.3, seed=2)
    assert [block.add for block in copy.stochastic_depth.found] == [
        "self_attention_dropout",
        "feedforward_dropout",
    ] * 2
    x = np.random.default_rng(0).standard_normal((3, 5, 8)).astype("float32")
    np.testing.assert_array_equal(_numpy(copy(x)), _numpy(model(x)))
    path = str(tmp_path / "model.keras")
    copy.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert kerasdrop.find_rates(loaded) == pytest.approx(
        kerasdrop.find_rates(copy)
    )
    assert list(kerasdrop.find_rates(loaded).values()) == pytest.approx(
        [0.0, 0.1, 0.2, 0.3]
    )
    np.testing.assert_array_equal(_numpy(loaded(x)), _numpy(copy(x)))


def test_adding_again_changes_the_rates_without_doubling():
    copy = kerasdrop.add_stochastic_depth(_vit(), rate=0.2)
    again = kerasdrop.add_stochastic_depth(copy, rate=0.4, profile="uniform")
    assert all(block.existing for block in again.stochastic_depth.found)
    assert [layer.rate for layer in _drop_paths(again)] == (
        pytest.approx([0.4] * 6)
    )


def test_unknown_keras_hub_blocks_are_listed_not_guessed():
    inputs = keras.Input((5, 8))
    decoder = keras_hub.layers.TransformerDecoder(16, 2, name="decoder")
    model = keras.Model(inputs, decoder(inputs))
    blocks = kerasdrop.models.find_residual_blocks(model)
    assert blocks.found == []
    assert [item.add for item in blocks.skipped] == ["decoder"]
    assert "does not know" in blocks.skipped[0].reason
    with pytest.raises(ValueError, match="decoder.*does not know"):
        kerasdrop.add_stochastic_depth(model)


def test_make_schedulable_converts_the_branch_dropout_and_keeps_the_path():
    backbone = _bert(num_layers=1)
    copy = kerasdrop.add_stochastic_depth(backbone, rate=0.2)
    x = _tokens(2)
    with pytest.warns(UserWarning, match="build Keras's dropout again"):
        kerasdrop.make_schedulable(copy)
    # (The attention's inner dropout is another matter, left to
    # make_schedulable's own tests.)
    unschedulable = [
        item.path for item in kerasdrop.find_unschedulable_dropout(copy)
    ]
    assert not [path for path in unschedulable if path.endswith("_dropout")]
    block = _bert_blocks(copy)[0]
    for layer in (block._self_attention_dropout, block._feedforward_dropout):
        assert isinstance(layer, kerasdrop.ScheduledDropout)
        assert isinstance(layer.kerasdrop_drop_path, kerasdrop.layers.DropPath)
    assert len(_drop_paths(copy)) == 2
    np.testing.assert_array_equal(
        _numpy(copy(x)["sequence_output"]),
        _numpy(backbone(x)["sequence_output"]),
    )
