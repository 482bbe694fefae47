import keras
import numpy as np
import pytest

import kerasdrop
from kerasdrop import transfer


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


def _weights_by_layer(backbone):
    return {
        layer.name: [w.copy() for w in layer.get_weights()]
        for layer in backbone.layers
        if layer.weights
    }


def test_top_stage_is_the_highest_numbered_stage(tiny_backbone):
    names = [layer.name for layer in transfer.top_stage_layers(tiny_backbone)]
    assert names and all(name.startswith("stage3_") for name in names)
    assert "stage3_block1_add" in names


def test_top_stage_needs_stage_names():
    inputs = keras.Input((4, 4, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs))
    with pytest.raises(ValueError, match="stage prefix"):
        transfer.top_stage_layers(model)


def test_unfreeze_top_stage_makes_only_its_non_batchnorm_layers_trainable(
    tiny_backbone,
):
    model = transfer.build_classifier(tiny_backbone, 3)
    unfrozen = transfer.unfreeze_top_stage(model)
    assert sorted(unfrozen) == [
        "stage3_block1_0_conv",
        "stage3_block1_1_conv",
        "stage3_block1_2_conv",
    ]
    for layer in tiny_backbone.layers:
        if layer.weights:
            assert layer.trainable == (layer.name in unfrozen), layer.name
    trainable = {v.path.split("/")[0] for v in model.trainable_weights}
    assert trainable == set(unfrozen) | {"head_output"}


def test_unfreeze_can_train_batchnorm_and_named_layers(tiny_backbone):
    model = transfer.build_classifier(tiny_backbone, 3)
    unfrozen = transfer.unfreeze_top_stage(
        model,
        layers=["stage3_block1_2_conv", "stage3_block1_2_bn"],
        train_batchnorm=True,
    )
    assert unfrozen == ["stage3_block1_2_conv", "stage3_block1_2_bn"]


def test_fine_tuning_after_unfreezing_trains_only_the_top_stage(
    tiny_backbone, images
):
    labels = np.arange(8) % 3
    model = transfer.build_classifier(tiny_backbone, 3, dropout_rate=0.2)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss="sparse_categorical_crossentropy",
    )
    model.fit(images, labels, epochs=1, verbose=0)
    before = _weights_by_layer(tiny_backbone)
    unfrozen = transfer.unfreeze_top_stage(
        model, optimizer=keras.optimizers.SGD(0.5)
    )
    # Recompiled with the new optimizer and the old loss.
    assert float(model.optimizer.learning_rate) == pytest.approx(0.5)
    assert model.loss == "sparse_categorical_crossentropy"
    model.fit(images, labels, epochs=2, verbose=0)
    after = _weights_by_layer(tiny_backbone)
    for name, weights in before.items():
        changed = any(
            not np.array_equal(a, b) for a, b in zip(weights, after[name])
        )
        assert changed == (name in unfrozen), name


def test_unfreeze_without_optimizer_recompiles_a_fresh_copy(tiny_backbone):
    model = transfer.build_classifier(tiny_backbone, 3)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    old_optimizer = model.optimizer
    transfer.unfreeze_top_stage(model)
    assert model.optimizer is not old_optimizer
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)


def _trainable_flags(model):
    backbone = transfer.find_backbone(model)
    return [backbone.trainable] + [layer.trainable for layer in backbone.layers]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"optimizer": "bogus"}, ValueError, "bogus"),
        ({"layers": ["stage3_block1_2_conv", "nope"]}, ValueError, "nope"),
        ({"layers": [3]}, TypeError, "layers"),
    ],
)
def test_unfreeze_with_invalid_arguments_changes_nothing(
    tiny_backbone, kwargs, error, match
):
    model = transfer.build_classifier(tiny_backbone, 3)
    model.compile(optimizer="adam", loss="mse")
    optimizer = model.optimizer
    flags = _trainable_flags(model)
    with pytest.raises(error, match=match):
        transfer.unfreeze_top_stage(model, **kwargs)
    assert _trainable_flags(model) == flags
    assert model.optimizer is optimizer


def test_unfreeze_accepts_a_single_layer_name(tiny_backbone):
    model = transfer.build_classifier(tiny_backbone, 3)
    unfrozen = transfer.unfreeze_top_stage(model, layers="stage3_block1_2_conv")
    assert unfrozen == ["stage3_block1_2_conv"]


def test_residual_branch_ends_are_the_last_inputs_of_the_additions(
    tiny_backbone,
):
    ends = transfer.residual_branch_ends(tiny_backbone)
    assert [layer.name for layer in ends] == ["stage3_block1_2_bn"]


def test_insert_drop_path_puts_it_on_each_residual_branch(
    tiny_backbone, images
):
    model = transfer.build_classifier(tiny_backbone, 3, dropout_rate=0.0)
    copy = transfer.insert_drop_path(model, rate=0.5, seed=3)
    backbone = transfer.find_backbone(copy)
    drop_path = backbone.get_layer("stage3_block1_2_bn_drop_path")
    assert isinstance(drop_path, kerasdrop.layers.DropPath)
    assert drop_path.seed == 3
    add = backbone.get_layer("stage3_block1_add")
    assert add.input[-1] is drop_path.output
    assert kerasdrop.find_rates(copy) == {
        f"{drop_path.name}/rate": 0.5,
        "head_dropout/rate": 0.0,
    }
    np.testing.assert_allclose(
        _numpy(copy(images)), _numpy(model(images)), atol=1e-6
    )


def test_drop_path_acts_in_fit_while_batchnorm_stays_in_inference_mode(
    tiny_backbone, images
):
    model = transfer.build_classifier(
        tiny_backbone, 3, hidden_units=4, dropout_rate=0.0
    )
    copy = transfer.insert_drop_path(model, rate=1.0)
    backbone = transfer.find_backbone(copy)
    # DropPath at rate 1 removes the residual branch, so the training-mode
    # output differs from inference...
    assert not np.allclose(
        _numpy(copy(images, training=True)),
        _numpy(copy(images, training=False)),
        atol=1e-4,
    )
    # ...and equals a model whose branch is zeroed by hand at inference,
    # which shows BatchNorm used its moving statistics in training mode.
    reference = transfer.insert_dropout(
        model, after="stage3_block1_2_bn", rate=0.0
    )
    branch_end = transfer.find_backbone(reference).get_layer(
        "stage3_block1_2_bn"
    )
    gamma, beta, mean, variance = branch_end.get_weights()
    branch_end.set_weights(
        [np.zeros_like(gamma), np.zeros_like(beta), mean, variance]
    )
    np.testing.assert_allclose(
        _numpy(copy(images, training=True)),
        _numpy(reference(images, training=False)),
        atol=1e-5,
    )
    statistics = _weights_by_layer(backbone)
    transfer.unfreeze_top_stage(copy)
    copy.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    copy.fit(images, np.arange(8) % 3, epochs=1, verbose=0)
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            for a, b in zip(statistics[layer.name], layer.get_weights()):
                np.testing.assert_array_equal(a, b)


def test_drop_path_rates_follow_a_schedule_in_fine_tuning(
    tiny_backbone, images
):
    model = transfer.insert_drop_path(
        transfer.build_classifier(tiny_backbone, 3), rate=0.0
    )
    transfer.unfreeze_top_stage(model)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    scheduler = kerasdrop.callbacks.DropoutScheduler(
        {"stage3_block1_2_bn_drop_path": kerasdrop.schedules.Linear(0, 0.2, 1)}
    )
    history = model.fit(
        images, np.arange(8) % 3, epochs=2, callbacks=[scheduler], verbose=0
    )
    assert history.history["stage3_block1_2_bn_drop_path/rate"] == (
        pytest.approx([0.0, 0.2])
    )


def test_insert_drop_path_into_a_bare_backbone(tiny_backbone, images):
    copy = transfer.insert_drop_path(tiny_backbone, rate=0.1)
    assert isinstance(
        copy.get_layer("stage3_block1_2_bn_drop_path"),
        kerasdrop.layers.DropPath,
    )
    np.testing.assert_allclose(
        _numpy(copy(images)), _numpy(tiny_backbone(images)), atol=1e-6
    )


def test_find_backbone_needs_exactly_one_nested_model():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(ValueError, match="one nested model"):
        transfer.find_backbone(model)
