import keras
import numpy as np
import pytest

import kerasdrop
from kerasdrop import transfer


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_classifier_output_and_head_layer_shapes(tiny_backbone, images):
    model = transfer.build_classifier(tiny_backbone, 5, hidden_units=6)
    assert _numpy(model(images)).shape == (8, 5)
    assert model.get_layer("head_pooling").output.shape == (None, 8)
    assert model.get_layer("head_hidden").output.shape == (None, 6)
    assert isinstance(
        model.get_layer("head_dropout"), kerasdrop.ScheduledDropout
    )
    assert model.get_layer("head_output").output.shape == (None, 5)


def test_dropout_sits_right_before_the_output_layer(tiny_backbone):
    model = transfer.build_classifier(tiny_backbone, 3, dropout_rate=0.3)
    names = [layer.name for layer in model.layers]
    assert names[-2:] == ["head_dropout", "head_output"]
    assert model.get_layer("head_dropout").rate == pytest.approx(0.3)
    assert "head_hidden" not in names


def test_backbone_is_frozen_and_only_the_head_trains(tiny_backbone):
    model = transfer.build_classifier(tiny_backbone, 3, hidden_units=4)
    assert not tiny_backbone.trainable
    assert not tiny_backbone.trainable_weights
    trainable = {v.path.split("/")[0] for v in model.trainable_weights}
    assert trainable == {"head_hidden", "head_output"}


@pytest.mark.parametrize("freeze_backbone", [True, False])
def test_backbone_batchnorm_stays_in_inference_mode_in_training(
    tiny_backbone, images, freeze_backbone
):
    # Training mode would normalize with the batch statistics instead.
    assert not np.allclose(
        _numpy(tiny_backbone(images, training=True)),
        _numpy(tiny_backbone(images, training=False)),
        atol=1e-3,
    )
    model = transfer.build_classifier(
        tiny_backbone, 3, dropout_rate=0.0, freeze_backbone=freeze_backbone
    )
    batchnorms = [
        layer
        for layer in tiny_backbone.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert batchnorms and not any(layer.trainable for layer in batchnorms)
    np.testing.assert_allclose(
        _numpy(model(images, training=True)),
        _numpy(model(images, training=False)),
        atol=1e-6,
    )


def test_fit_leaves_backbone_weights_and_statistics_unchanged(
    tiny_backbone, images
):
    before = [w.copy() for w in tiny_backbone.get_weights()]
    model = transfer.build_classifier(tiny_backbone, 2, hidden_units=4)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(images, np.arange(8) % 2, epochs=2, batch_size=4, verbose=0)
    for old, new in zip(before, tiny_backbone.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_head_model_matches_classifier_head_for_same_seed(tiny_backbone):
    model = transfer.build_classifier(tiny_backbone, 3, hidden_units=4, seed=7)
    head = transfer.build_head(8, 3, hidden_units=4, seed=7)
    for name in ("head_hidden", "head_output"):
        for a, b in zip(
            head.get_layer(name).get_weights(),
            model.get_layer(name).get_weights(),
        ):
            np.testing.assert_array_equal(a, b)


def test_head_on_cached_features_equals_classifier_on_images(
    tiny_backbone, images
):
    model = transfer.build_classifier(tiny_backbone, 3, hidden_units=4)
    features = transfer.feature_extractor(model).predict(images, verbose=0)
    assert np.std(features) > 0
    head = transfer.build_head(features.shape[1], 3, hidden_units=4, seed=1)
    head.get_layer("head_dropout").rate = 0.25
    copied = transfer.copy_head_weights(head, model)
    assert copied == ["head_hidden", "head_dropout", "head_output"]
    assert model.get_layer("head_dropout").rate == pytest.approx(0.25)
    np.testing.assert_allclose(
        _numpy(model(images)), _numpy(head(features)), atol=1e-6
    )


def test_feature_extractor_shares_the_backbone(tiny_backbone):
    model = transfer.build_classifier(tiny_backbone, 3)
    extractor = transfer.feature_extractor(model)
    assert any(layer is tiny_backbone for layer in extractor.layers)
    with pytest.raises(ValueError, match="no layer 'other_pooling'"):
        transfer.feature_extractor(model, head_name="other")


def test_max_pooling_and_logits(tiny_backbone, images):
    # Seeded: with an unseeded head, whether some logit is negative depends
    # on which tests ran before in the same process.
    model = transfer.build_classifier(
        tiny_backbone, 3, pooling="max", output_activation=None, seed=1
    )
    assert isinstance(
        model.get_layer("head_pooling"), keras.layers.GlobalMaxPooling2D
    )
    assert np.any(_numpy(model(images)) < 0)


def test_dropout_scheduler_drives_the_head_dropout(tiny_backbone, images):
    model = transfer.build_classifier(tiny_backbone, 2, hidden_units=4)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    scheduler = kerasdrop.callbacks.DropoutScheduler(
        kerasdrop.schedules.Linear(0.4, 0.0, duration=2)
    )
    history = model.fit(
        images, np.arange(8) % 2, epochs=3, callbacks=[scheduler], verbose=0
    )
    assert history.history["head_dropout/rate"] == pytest.approx(
        [0.4, 0.2, 0.0]
    )


def test_classifier_saves_and_loads_without_custom_objects(
    tiny_backbone, images, tmp_path
):
    model = transfer.build_classifier(tiny_backbone, 3, hidden_units=4)
    path = str(tmp_path / "classifier.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        _numpy(loaded(images)), _numpy(model(images)), atol=1e-6
    )


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"num_classes": 0}, ValueError, "num_classes"),
        ({"num_classes": 3, "hidden_units": 0}, ValueError, "hidden_units"),
        ({"num_classes": 3, "pooling": "sum"}, ValueError, "pooling"),
        ({"num_classes": 3, "dropout_rate": 1.5}, ValueError, "rate"),
    ],
)
def test_invalid_arguments_raise(tiny_backbone, kwargs, error, message):
    with pytest.raises(error, match=message):
        transfer.build_classifier(tiny_backbone, **kwargs)


def test_backbone_must_be_a_model_with_a_feature_map():
    with pytest.raises(TypeError, match="backbone"):
        transfer.build_classifier(keras.layers.Dense(3), 2)
    inputs = keras.Input((4,))
    flat = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    with pytest.raises(ValueError, match="4D feature map"):
        transfer.build_classifier(flat, 2)


def test_copy_head_weights_needs_matching_layer_names(tiny_backbone):
    model = transfer.build_classifier(tiny_backbone, 3, hidden_units=4)
    head = transfer.build_head(8, 3, hidden_units=4, name="other")
    with pytest.raises(ValueError, match="no layer 'other_hidden'"):
        transfer.copy_head_weights(head, model)
