import keras
import numpy as np
import pytest
from keras import ops

import kerasdrop
from tests.fit_probes import EAGER_STEPS
from tests.fit_probes import TraceCounts
from tests.fit_probes import ZeroFraction
from tests.fit_probes import zero_fraction_model
from tests.layer_testing import check_layer_contract
from tests.layer_testing import make_inputs


def _numpy(x):
    return ops.convert_to_numpy(x)


@pytest.mark.parametrize(
    "factory, input_shape",
    [
        (lambda **kw: kerasdrop.ScheduledDropout(0.3, seed=1, **kw), (4, 6)),
        (
            lambda **kw: kerasdrop.ScheduledDropout(
                0.3, noise_shape=(None, 1, 5), seed=1, **kw
            ),
            (2, 3, 5),
        ),
        (
            lambda **kw: kerasdrop.ScheduledSpatialDropout1D(0.3, seed=1, **kw),
            (2, 4, 3),
        ),
        (
            lambda **kw: kerasdrop.ScheduledSpatialDropout2D(0.3, seed=1, **kw),
            (2, 4, 4, 3),
        ),
        (
            lambda **kw: kerasdrop.ScheduledSpatialDropout3D(0.3, seed=1, **kw),
            (2, 3, 3, 3, 2),
        ),
    ],
)
def test_layer_contract(factory, input_shape, tmp_path):
    check_layer_contract(factory, input_shape, tmp_path)


def test_input_unchanged_in_eval_mode():
    layer = kerasdrop.ScheduledDropout(0.9, seed=0)
    x = make_inputs((8, 16))
    np.testing.assert_array_equal(_numpy(layer(x)), x)
    np.testing.assert_array_equal(_numpy(layer(x, training=False)), x)


def test_zero_fraction_and_mean_match_rate():
    # 200k units: the zero fraction's standard deviation is about 0.0011.
    x = np.ones((200, 1000), dtype="float32")
    for rate in (0.1, 0.5, 0.8):
        layer = kerasdrop.ScheduledDropout(rate, seed=3)
        y = _numpy(layer(x, training=True))
        assert abs(np.mean(y == 0) - rate) < 0.006
        # Inverted scaling preserves the mean.
        assert abs(np.mean(y) - 1.0) < 0.03
        np.testing.assert_allclose(y[y != 0], 1.0 / (1.0 - rate), rtol=1e-6)


def test_rate_one_gives_zeros_not_nan():
    layer = kerasdrop.ScheduledDropout(1.0, seed=0)
    y = _numpy(layer(make_inputs((4, 8)), training=True))
    np.testing.assert_array_equal(y, np.zeros((4, 8)))


def test_rate_zero_keeps_input_in_training():
    layer = kerasdrop.ScheduledDropout(0.0, seed=0)
    x = make_inputs((4, 8))
    np.testing.assert_array_equal(_numpy(layer(x, training=True)), x)


def test_layer_built_at_zero_can_be_raised():
    layer = kerasdrop.ScheduledDropout(0.0, seed=0)
    x = np.ones((100, 100), dtype="float32")
    assert np.all(_numpy(layer(x, training=True)) == 1.0)
    layer.rate = 0.5
    assert layer.rate == 0.5
    assert abs(np.mean(_numpy(layer(x, training=True)) == 0) - 0.5) < 0.03


def test_same_seed_gives_same_masks():
    x = np.ones((16, 32), dtype="float32")
    first = kerasdrop.ScheduledDropout(0.5, seed=42)
    second = kerasdrop.ScheduledDropout(0.5, seed=42)
    for _ in range(2):
        np.testing.assert_array_equal(
            _numpy(first(x, training=True)), _numpy(second(x, training=True))
        )


def test_successive_calls_draw_new_masks():
    layer = kerasdrop.ScheduledDropout(0.5, seed=42)
    x = np.ones((16, 32), dtype="float32")
    assert not np.array_equal(
        _numpy(layer(x, training=True)), _numpy(layer(x, training=True))
    )


def test_noise_shape_shares_mask_along_broadcast_axis():
    layer = kerasdrop.ScheduledDropout(0.5, noise_shape=(None, 1, None), seed=0)
    y = _numpy(layer(np.ones((8, 5, 6), dtype="float32"), training=True))
    for step in range(1, 5):
        np.testing.assert_array_equal(y[:, step], y[:, 0])
    assert 0 < np.mean(y == 0) < 1


@pytest.mark.parametrize(
    "noise_shape, message",
    [((None, 1), "rank 3"), ((None, 2, None), "axis 1 has size 5")],
)
def test_noise_shape_mismatch_raises(noise_shape, message):
    layer = kerasdrop.ScheduledDropout(0.5, noise_shape=noise_shape)
    with pytest.raises(ValueError, match=message):
        layer(np.ones((8, 5, 6), dtype="float32"), training=True)


@pytest.mark.parametrize(
    "cls, shape, channel_axis",
    [
        (kerasdrop.ScheduledSpatialDropout1D, (6, 5, 8), -1),
        (kerasdrop.ScheduledSpatialDropout2D, (6, 4, 4, 8), -1),
        (kerasdrop.ScheduledSpatialDropout3D, (6, 3, 3, 3, 8), -1),
    ],
)
def test_spatial_dropout_drops_whole_channels(cls, shape, channel_axis):
    y = _numpy(cls(0.5, seed=5)(np.ones(shape, "float32"), training=True))
    flat = np.moveaxis(y, channel_axis, 1).reshape(shape[0], shape[-1], -1)
    # Every (sample, channel) slice is all zeros or all 2.0.
    assert np.all((flat == 0).all(-1) | (flat == 2.0).all(-1))
    assert 0 < np.mean(flat == 0) < 1


@pytest.mark.parametrize(
    "layer, shape",
    [
        (kerasdrop.ScheduledSpatialDropout1D(0.5, seed=1), (5, 3)),
        (kerasdrop.ScheduledSpatialDropout2D(0.5, seed=1), (4, 4, 3)),
        (kerasdrop.ScheduledSpatialDropout3D(0.5, seed=1), (3, 3, 3, 2)),
        (kerasdrop.ScheduledDropout(0.5, (None, 1, None), seed=1), (5, 3)),
    ],
)
def test_noise_shape_with_unknown_batch_size_in_fit(layer, shape):
    # A smaller last batch makes fit retrace with an unknown batch size.
    model = keras.Sequential(
        [
            keras.Input(shape),
            layer,
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((10, *shape), dtype="float32")
    history = model.fit(x, np.ones((10, 1)), batch_size=4, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_spatial_dropout_channels_first():
    layer = kerasdrop.ScheduledSpatialDropout2D(
        0.5, seed=5, data_format="channels_first"
    )
    y = _numpy(layer(np.ones((6, 8, 4, 4), "float32"), training=True))
    flat = y.reshape(6, 8, -1)
    assert np.all((flat == 0).all(-1) | (flat == 2.0).all(-1))
    assert layer.get_config()["data_format"] == "channels_first"


@pytest.mark.parametrize(
    "cls, shape",
    [
        (kerasdrop.ScheduledSpatialDropout1D, (2, 3)),
        (kerasdrop.ScheduledSpatialDropout2D, (2, 3, 3)),
        (kerasdrop.ScheduledSpatialDropout3D, (2, 3, 3, 3)),
    ],
)
def test_spatial_dropout_wrong_rank_raises(cls, shape):
    with pytest.raises(ValueError, match="ndim"):
        cls(0.5)(np.ones(shape, "float32"))


def test_supports_masking():
    inputs = keras.Input((3, 2))
    masked = keras.layers.Masking()(inputs)
    outputs = kerasdrop.ScheduledDropout(0.5)(masked)
    model = keras.Model(inputs, outputs)
    x = np.ones((1, 3, 2), dtype="float32")
    x[0, 2] = 0.0
    mask = model.layers[-1].compute_mask(x, _numpy(ops.any(x != 0, axis=-1)))
    np.testing.assert_array_equal(_numpy(mask), [[True, True, False]])


def test_rate_is_state_not_a_weight():
    def model(dropout):
        return keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(3), dropout]
        )

    ours = model(kerasdrop.ScheduledDropout(0.2))
    theirs = model(keras.layers.Dropout(0.2))
    assert [w.shape for w in ours.get_weights()] == [
        w.shape for w in theirs.get_weights()
    ]
    ours.set_weights(theirs.get_weights())
    rate = ours.layers[-1].dropout_rates["rate"]
    assert any(v is rate for v in ours.non_trainable_variables)
    assert rate.dtype == "float32" and not rate.trainable


def test_rate_setter_validates_and_keeps_old_rate():
    layer = kerasdrop.ScheduledDropout(0.3)
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match="rate"):
            layer.rate = bad
    with pytest.raises(TypeError, match="rate"):
        layer.rate = "0.2"
    assert layer.rate == pytest.approx(0.3)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"rate": 1.5}, ValueError),
        ({"rate": -0.5}, ValueError),
        ({"rate": float("nan")}, ValueError),
        ({"rate": "0.5"}, TypeError),
        ({"rate": None}, TypeError),
        ({"rate": 0.5, "noise_shape": "abc"}, ValueError),
        ({"rate": 0.5, "noise_shape": (2, 0)}, ValueError),
        ({"rate": 0.5, "noise_shape": (2.5,)}, ValueError),
    ],
)
def test_invalid_arguments_raise(kwargs, error):
    with pytest.raises(error, match="Received"):
        kerasdrop.ScheduledDropout(**kwargs)


def test_invalid_data_format_raises():
    with pytest.raises(ValueError, match="data_format"):
        kerasdrop.ScheduledSpatialDropout2D(0.5, data_format="nhwc")


def test_accepts_numpy_and_tensor_rates():
    layer = kerasdrop.ScheduledDropout(np.float32(0.25))
    assert layer.rate == 0.25
    layer.rate = ops.convert_to_tensor(0.5)
    assert layer.rate == 0.5


@pytest.mark.filterwarnings("ignore:The model does not have any trainable")
def test_rate_change_reaches_compiled_fit_without_retracing():
    dropout = kerasdrop.ScheduledDropout(0.5, seed=7, name="dropout")
    model, probe = zero_fraction_model(dropout)
    traces = TraceCounts(probe)
    x = np.ones((64, 4000), dtype="float32")
    y = np.zeros((64, 1), dtype="float32")

    class SetRate(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            dropout.rate = [0.5, 0.1, 0.9][epoch]

    history = model.fit(
        x, y, batch_size=16, epochs=3, callbacks=[SetRate(), traces], verbose=0
    )
    np.testing.assert_allclose(
        history.history["loss"], [0.5, 0.1, 0.9], atol=0.01
    )
    if EAGER_STEPS:  # One call at each of an epoch's 4 steps, no trace.
        assert traces.calls_per_epoch() == [4, 4]
    else:
        assert traces.counts[0] == traces.counts[-1]


class AlwaysDropping(keras.Model):
    """Keeps dropout on at inference, as Monte-Carlo dropout does."""

    def __init__(self, dropout, **kwargs):
        super().__init__(**kwargs)
        self.dropout = dropout
        self.probe = ZeroFraction()

    def call(self, inputs, training=False):
        return self.probe(self.dropout(inputs, training=True))


def test_rate_change_reaches_compiled_predict_function():
    dropout = kerasdrop.ScheduledDropout(0.0, seed=1)
    model = AlwaysDropping(dropout)
    x = np.ones((32, 500), dtype="float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), 0.0)
    traces = model.probe.num_traces
    dropout.rate = 0.6
    assert abs(np.mean(model.predict(x, verbose=0)) - 0.6) < 0.02
    # Eager steps: one call for the one batch of 32 rows, no trace.
    assert model.probe.num_traces == traces + (1 if EAGER_STEPS else 0)


FEED_FORWARD_LAYERS = [
    (lambda: kerasdrop.ScheduledDropout(0.5, seed=1), (16, 3, 6)),
    (lambda: kerasdrop.ScheduledDropout(0.5, (None, 1, 6), seed=1), (16, 3, 6)),
    (lambda: kerasdrop.ScheduledSpatialDropout1D(0.5, seed=1), (16, 3, 6)),
    (lambda: kerasdrop.ScheduledSpatialDropout2D(0.5, seed=1), (16, 2, 3, 6)),
    (lambda: kerasdrop.ScheduledSpatialDropout3D(0.5, seed=1), (8, 2, 2, 2, 6)),
    (lambda: kerasdrop.layers.DropPath(0.5, seed=1), (16, 3, 6)),
    (lambda: kerasdrop.VariationalDropout(0.5, seed=1), (16, 3, 6)),
]


@pytest.mark.parametrize(
    "factory, shape",
    FEED_FORWARD_LAYERS,
    ids=[
        "dropout",
        "dropout_noise_shape",
        "spatial1d",
        "spatial2d",
        "spatial3d",
        "drop_path",
        "variational",
    ],
)
def test_stateless_call_on_a_fresh_layer_returns_the_new_seed_state(
    factory, shape
):
    # Keras's Dropout is built when constructed; so are kerasdrop's layers.
    layer = factory()
    assert layer.built
    x = np.ones(shape, dtype="float32")
    state = [ops.convert_to_numpy(v) for v in layer.non_trainable_variables]
    values = [v.value for v in layer.non_trainable_variables]
    outputs, new_values = layer.stateless_call([], values, x, training=True)
    outputs = _numpy(outputs)
    assert outputs.shape == shape
    assert set(np.unique(outputs)) == {0.0, 2.0}
    new_state = [ops.convert_to_numpy(v) for v in new_values]
    seed_state = [
        i
        for i, v in enumerate(layer.non_trainable_variables)
        if v is layer.seed_generator.state
    ]
    assert len(seed_state) == 1
    for i, (old, new) in enumerate(zip(state, new_state)):
        # The seed moves on; the rate stays; the layer itself is untouched.
        assert np.array_equal(old, new) != (i in seed_state)
        np.testing.assert_array_equal(
            ops.convert_to_numpy(layer.non_trainable_variables[i]), old
        )
    again, _ = layer.stateless_call([], new_values, x, training=True)
    assert not np.array_equal(_numpy(again), outputs)
    inference, _ = layer.stateless_call([], values, x, training=False)
    np.testing.assert_array_equal(_numpy(inference), x)


@pytest.mark.parametrize(
    "factory, twin",
    [
        (
            lambda: kerasdrop.ScheduledGaussianDropout(0.5, seed=1),
            lambda: keras.layers.GaussianDropout(0.5, seed=1),
        ),
        (
            lambda: kerasdrop.ScheduledGaussianNoise(0.5, seed=1),
            lambda: keras.layers.GaussianNoise(0.5, seed=1),
        ),
        (
            lambda: kerasdrop.ScheduledAlphaDropout(0.5, seed=1),
            lambda: keras.layers.AlphaDropout(0.5, seed=1),
        ),
    ],
    ids=["gaussian_dropout", "gaussian_noise", "alpha_dropout"],
)
def test_noise_layers_are_built_at_construction_like_their_keras_twins(
    factory, twin
):
    layer = factory()
    assert twin().built
    assert layer.built
    x = np.ones((16, 6), dtype="float32")
    values = [v.value for v in layer.non_trainable_variables]
    outputs, new_values = layer.stateless_call([], values, x, training=True)
    assert _numpy(outputs).shape == x.shape
    assert not np.array_equal(_numpy(outputs), x)
    moved = [
        not np.array_equal(ops.convert_to_numpy(old), ops.convert_to_numpy(new))
        for old, new in zip(values, new_values)
    ]
    # Only the seed state moves on.
    assert sum(moved) == 1
    inference, _ = layer.stateless_call([], values, x, training=False)
    np.testing.assert_array_equal(_numpy(inference), x)


def test_subclass_that_overrides_build_is_built_by_its_build():
    # As Keras's Layer does: an overridden `build` runs on the first call,
    # so the state it creates exists there.
    class ScaledDropout(kerasdrop.ScheduledDropout):
        def build(self, input_shape):
            self.scale = self.add_weight(
                shape=(input_shape[-1],), initializer="ones", name="scale"
            )

        def call(self, inputs, training=False):
            return super().call(inputs * self.scale, training=training)

    layer = ScaledDropout(0.5, seed=1)
    assert not layer.built
    x = np.ones((16, 6), dtype="float32")
    outputs = _numpy(layer(x, training=True))
    assert layer.built
    assert set(np.unique(outputs)) == {0.0, 2.0}
    assert [v.name for v in layer.trainable_variables] == ["scale"]
    np.testing.assert_array_equal(_numpy(layer(x)), x)
    # Keras's Dropout, subclassed the same way, is not built either.
    assert not type("KerasScaled", (keras.layers.Dropout,), {
        "build": ScaledDropout.build
    })(0.5).built  # fmt: skip


@pytest.mark.parametrize(
    "cls",
    [
        kerasdrop.ScheduledSpatialDropout1D,
        kerasdrop.ScheduledSpatialDropout2D,
        kerasdrop.ScheduledSpatialDropout3D,
        kerasdrop.VariationalDropout,
    ],
)
def test_layers_with_a_fixed_mask_shape_reject_noise_shape(cls):
    with pytest.raises(TypeError, match=f"{cls.__name__}.*`noise_shape`"):
        cls(0.5, noise_shape=(None, 1, None))


@pytest.mark.parametrize("run_eagerly", [False, True])
@pytest.mark.parametrize("rows", [1, 4])
def test_fixed_noise_shape_entry_must_match_an_unknown_batch_size(
    rows, run_eagerly
):
    # noise_shape=(3, None) fixes the batch axis of the mask at 3: a batch
    # of another size is an error that names noise_shape, not a broadcast
    # (1 row silently becoming 3) or a backend error about shapes.
    model = keras.Sequential(
        [
            keras.Input((5,)),
            kerasdrop.ScheduledDropout(0.5, noise_shape=(3, None), seed=0),
        ]
    )
    model.compile(optimizer="sgd", loss="mse", run_eagerly=run_eagerly)
    x = np.ones((6 + rows, 5), dtype="float32")
    history = model.fit(x[:6], x[:6], batch_size=3, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    errors = (ValueError,)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # Raised when the traced step runs, the batch size unknown before.
        errors += (tf.errors.InvalidArgumentError,)
    # Two batches of 3, then one of `rows`, in one fit.
    with pytest.raises(errors, match=r"noise_shape=\(3, None\)"):
        model.fit(x, x, batch_size=3, shuffle=False, verbose=0)
