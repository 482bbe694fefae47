import keras
import numpy as np
import pytest

import kerasdrop
from kerasdrop import transfer


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


def _functional():
    inputs = keras.Input((6,))
    x = keras.layers.Dense(8, activation="relu", name="dense_a")(inputs)
    x = keras.layers.BatchNormalization(name="norm")(x)
    skip = keras.layers.Dense(8, name="dense_b")(x)
    x = keras.layers.Add(name="add")([x, skip])
    outputs = keras.layers.Dense(3, name="output")(x)
    return keras.Model(inputs, outputs, name="functional")


def _sequential():
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="relu", name="dense_a"),
            keras.layers.Dense(8, activation="relu", name="dense_b"),
            keras.layers.Dense(3, name="output"),
        ],
        name="sequential",
    )


@pytest.fixture
def x():
    return np.random.default_rng(0).normal(size=(5, 6)).astype("float32")


def _train_a_little(model, x):
    """Changes weights and BatchNorm statistics away from their init."""
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, np.ones((len(x), 3)), epochs=2, verbose=0)


@pytest.mark.parametrize("factory", [_functional, _sequential])
def test_weights_kept_and_inference_outputs_unchanged(factory, x):
    model = factory()
    _train_a_little(model, x)
    copy = transfer.insert_dropout(model, after="dense_.*", rate=0.5, seed=1)
    for layer in model.layers:
        twin = copy.get_layer(layer.name)
        assert twin is not layer
        for a, b in zip(layer.get_weights(), twin.get_weights()):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(
        _numpy(copy(x, training=False)), _numpy(model(x)), atol=1e-6
    )
    assert not np.allclose(
        _numpy(copy(x, training=True)), _numpy(model(x)), atol=1e-3
    )


@pytest.mark.parametrize("factory", [_functional, _sequential])
def test_dropout_follows_each_matching_layer(factory):
    copy = transfer.insert_dropout(factory(), after=["dense_a", "dense_b"])
    names = [layer.name for layer in copy.layers]
    for name in ("dense_a", "dense_b"):
        dropout = copy.get_layer(f"{name}_dropout")
        assert isinstance(dropout, kerasdrop.ScheduledDropout)
        assert names.index(f"{name}_dropout") > names.index(name)
    assert "output_dropout" not in names


def test_dropout_output_feeds_every_consumer_of_the_layer():
    copy = transfer.insert_dropout(_functional(), after="norm", rate=1.0)
    # Both branches into the addition read the dropped tensor, so rate 1
    # zeroes the input of the output layer.
    add = copy.get_layer("add")
    dropout = copy.get_layer("norm_dropout")
    assert add.input[0] is dropout.output
    probe = keras.Model(copy.input, add.output)
    x = np.ones((2, 6), dtype="float32")
    np.testing.assert_array_equal(_numpy(probe(x, training=True)), 0.0)


def test_original_model_is_not_modified(x):
    model = _functional()
    before = [layer.name for layer in model.layers]
    transfer.insert_dropout(model, after="dense_a")
    assert [layer.name for layer in model.layers] == before


@pytest.mark.parametrize(
    "after",
    [
        keras.layers.Dense,
        (keras.layers.Dense,),
        lambda layer: layer.name.startswith("dense"),
        "dense_[ab]",
    ],
    ids=["class", "classes", "callable", "regex"],
)
def test_after_accepts_classes_callables_and_patterns(after):
    copy = transfer.insert_dropout(_sequential(), after=after)
    inserted = [
        layer.name
        for layer in copy.layers
        if isinstance(layer, kerasdrop.ScheduledDropout)
    ]
    assert set(inserted) == {"dense_a_dropout", "dense_b_dropout"}


def test_regex_must_match_the_whole_name():
    with pytest.raises(ValueError, match="No layer .* matches"):
        transfer.insert_dropout(_sequential(), after="dense")


def test_rate_seed_and_class_reach_the_inserted_layers():
    copy = transfer.insert_dropout(
        _sequential(),
        after="dense_.",
        rate=0.3,
        seed=10,
        dropout_class=kerasdrop.layers.DropPath,
    )
    first = copy.get_layer("dense_a_drop_path")
    second = copy.get_layer("dense_b_drop_path")
    assert isinstance(first, kerasdrop.layers.DropPath)
    assert first.rate == pytest.approx(0.3)
    assert (first.seed, second.seed) == (10, 11)


def test_inserted_rates_are_driven_by_dropout_scheduler(x):
    copy = transfer.insert_dropout(_functional(), after="dense_a", rate=0.0)
    copy.compile(optimizer="sgd", loss="mse")
    scheduler = kerasdrop.callbacks.DropoutScheduler(
        kerasdrop.schedules.Linear(0.0, 0.2, duration=1)
    )
    history = copy.fit(
        x, np.ones((5, 3)), epochs=2, callbacks=[scheduler], verbose=0
    )
    assert history.history["dense_a_dropout/rate"] == pytest.approx([0.0, 0.2])


def test_layers_inside_a_nested_backbone_can_match(tiny_backbone, images):
    model = transfer.build_classifier(tiny_backbone, 3, dropout_rate=0.0)
    copy = transfer.insert_dropout(model, after="stage2_block1_out")
    backbone = transfer.find_backbone(copy)
    assert backbone is not tiny_backbone
    assert isinstance(
        backbone.get_layer("stage2_block1_out_dropout"),
        kerasdrop.ScheduledDropout,
    )
    assert not backbone.trainable_weights
    np.testing.assert_allclose(
        _numpy(copy(images)), _numpy(model(images)), atol=1e-6
    )


def test_copy_keeps_trainable_flags():
    model = _sequential()
    model.get_layer("dense_a").trainable = False
    copy = transfer.insert_dropout(model, after="dense_b")
    assert not copy.get_layer("dense_a").trainable
    assert copy.get_layer("dense_b").trainable


def test_names_of_inserted_layers_stay_unique():
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(2, name="dense"),
            keras.layers.Dense(2, name="dense_dropout"),
        ]
    )
    copy = transfer.insert_dropout(model, after="dense")
    names = [layer.name for layer in copy.layers]
    assert names == ["dense", "dense_dropout_2", "dense_dropout"]


def test_subclassed_models_are_refused():
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, inputs):
            return self.dense(inputs)

    model = Subclassed()
    model(np.ones((1, 3)))
    with pytest.raises(TypeError, match="subclassed"):
        transfer.insert_dropout(model, after="dense")


def test_sequential_model_must_have_an_input():
    model = keras.Sequential([keras.layers.Dense(2, name="dense")])
    with pytest.raises(ValueError, match="has no input yet"):
        transfer.insert_dropout(model, after="dense")


def test_nested_sequential_models_are_copied_too(x):
    inner = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(4, name="inner_dense")],
        name="inner",
    )
    model = keras.Sequential([keras.Input((6,)), inner, keras.layers.Dense(2)])
    copy = transfer.insert_dropout(model, after="inner_dense")
    names = [layer.name for layer in copy.get_layer("inner").layers]
    assert names == ["inner_dense", "inner_dense_dropout"]
    np.testing.assert_allclose(_numpy(copy(x)), _numpy(model(x)), atol=1e-6)


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="rate"):
        transfer.insert_dropout(_sequential(), after="dense_a", rate=2.0)
    with pytest.raises(ValueError, match="after"):
        transfer.insert_dropout(_sequential(), after=[3])
    with pytest.raises(TypeError, match="keras.Model"):
        transfer.insert_dropout(keras.layers.Dense(2), after="dense")


@pytest.mark.parametrize("factory", [_functional, _sequential])
def test_no_dropout_after_the_model_outputs(factory):
    # Dropout on the outputs would drop predictions, not features.
    copy = transfer.insert_dropout(factory(), after=keras.layers.Dense)
    names = [layer.name for layer in copy.layers]
    assert "dense_a_dropout" in names
    assert not any(name.startswith("output_dropout") for name in names)
    assert copy.layers[-1].name == "output"


def test_only_the_output_layer_matching_raises():
    with pytest.raises(ValueError, match="model's outputs"):
        transfer.insert_dropout(_sequential(), after="output")


def test_no_dropout_after_a_nested_model_that_ends_the_model():
    inner = _sequential()
    inputs = keras.Input((6,))
    model = keras.Model(inputs, inner(inputs))
    copy = transfer.insert_dropout(model, after=keras.layers.Dense)
    names = [layer.name for layer in copy.get_layer("sequential").layers]
    assert names == [
        "dense_a",
        "dense_a_dropout",
        "dense_b",
        "dense_b_dropout",
        "output",
    ]
