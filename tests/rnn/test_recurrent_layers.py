"""What every recurrent layer of kerasdrop.rnn shares with Keras's LSTM/GRU."""

import keras
import numpy as np
import pytest
from keras import ops

import kerasdrop
from kerasdrop.callbacks import DropoutScheduler
from tests.fit_probes import EAGER_STEPS
from tests.fit_probes import TraceCounts
from tests.fit_probes import ZeroFraction
from tests.layer_testing import check_layer_contract
from tests.layer_testing import make_inputs

X = make_inputs((3, 6, 5))

# name -> (class, its rates at a training value, its Keras counterpart)
LAYERS = {
    "ZoneoutLSTM": (
        kerasdrop.ZoneoutLSTM,
        {"cell_rate": 0.5, "hidden_rate": 0.3},
        keras.layers.LSTM,
    ),
    "ZoneoutGRU": (
        kerasdrop.ZoneoutGRU,
        {"rate": 0.4},
        keras.layers.GRU,
    ),
    "VariationalLSTM": (
        kerasdrop.VariationalLSTM,
        {"input_rate": 0.3, "recurrent_rate": 0.3},
        keras.layers.LSTM,
    ),
    "VariationalGRU": (
        kerasdrop.VariationalGRU,
        {"input_rate": 0.3, "recurrent_rate": 0.3},
        keras.layers.GRU,
    ),
    "WeightDropLSTM": (
        kerasdrop.WeightDropLSTM,
        {"rate": 0.5},
        keras.layers.LSTM,
    ),
    "WeightDropGRU": (
        kerasdrop.WeightDropGRU,
        {"rate": 0.5},
        keras.layers.GRU,
    ),
}
NAMES = list(LAYERS)


def _numpy(x):
    return ops.convert_to_numpy(x)


def _layer(key, rates="train", **kwargs):
    cls, train, _ = LAYERS[key]
    if rates == "zero":
        train = dict.fromkeys(train, 0.0)
    return cls(4, **train, seed=1, **kwargs)


def _keras_twin(key, layer, **kwargs):
    """Keras's own layer with the weights of `layer` (built on X)."""
    twin = LAYERS[key][2](4, **kwargs)
    twin.build(X.shape)
    twin.set_weights(layer.get_weights())
    return twin


@pytest.mark.parametrize("name", NAMES)
def test_layer_contract(name, tmp_path):
    check_layer_contract(
        lambda **kw: _layer(name, return_sequences=True, **kw),
        X.shape,
        tmp_path,
        expected_output_shape=(3, 6, 4),
    )


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_rates_zero_match_keras_layer_with_same_weights(name, go_backwards):
    options = {
        "return_sequences": True,
        "return_state": True,
        "go_backwards": go_backwards,
    }
    layer = _layer(name, rates="zero", **options)
    layer(X)
    twin = _keras_twin(name, layer, **options)
    initial = [make_inputs((3, 4), seed=2) for _ in layer.state_size]
    for training in (True, False):
        got = layer(X, initial_state=initial, training=training)
        expected = twin(X, initial_state=initial, training=training)
        assert len(got) == len(expected) == 1 + len(layer.state_size)
        for a, b in zip(got, expected):
            np.testing.assert_allclose(_numpy(a), _numpy(b), atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_stateful_layer_carries_state_like_keras(name):
    layer = _layer(name, rates="zero", stateful=True)
    layer.build((3, 6, 5))
    twin = _keras_twin(name, layer, stateful=True)
    outputs = []
    for _ in range(2):  # The second call starts from the first's state.
        outputs.append(_numpy(layer(X, training=True)))
        np.testing.assert_allclose(outputs[-1], _numpy(twin(X)), atol=1e-6)
    assert np.abs(outputs[1] - outputs[0]).max() > 1e-3
    layer.reset_state()
    twin.reset_state()
    np.testing.assert_allclose(
        _numpy(layer(X, training=True)), _numpy(twin(X)), atol=1e-6
    )


@pytest.mark.parametrize("name", NAMES)
def test_weights_move_to_and_from_keras_layer(name):
    keras_layer = LAYERS[name][2](4)
    keras_layer(X)
    layer = _layer(name, rates="zero")
    layer(X)
    assert [w.shape for w in layer.weights] == [
        w.shape for w in keras_layer.weights
    ]
    layer.set_weights(keras_layer.get_weights())
    np.testing.assert_allclose(
        _numpy(layer(X, training=False)),
        _numpy(keras_layer(X, training=False)),
        atol=1e-6,
    )


@pytest.mark.parametrize("name", NAMES)
def test_masked_steps_match_keras_and_keep_the_state(name):
    x = X.copy()
    x[0, 4:] = 0.0  # The first sequence is padded after 4 steps.
    x[1, 2:] = 0.0
    inputs = keras.Input((6, 5))
    masked = keras.layers.Masking(0.0)(inputs)
    layer = _layer(name, rates="zero", return_sequences=True)
    model = keras.Model(inputs, layer(masked))
    twin = _keras_twin(name, layer, return_sequences=True)
    twin_model = keras.Model(inputs, twin(keras.layers.Masking(0.0)(inputs)))
    np.testing.assert_allclose(
        _numpy(model(x, training=True)),
        _numpy(twin_model(x, training=True)),
        atol=1e-6,
    )
    for rate_name in layer.dropout_rates:
        setattr(layer, rate_name, LAYERS[name][1][rate_name])
    y = _numpy(model(x, training=True))
    # Masked steps repeat the last unmasked output, as in Keras.
    np.testing.assert_array_equal(y[0, 4:], np.repeat(y[0, 3:4], 2, axis=0))
    np.testing.assert_array_equal(y[1, 2:], np.repeat(y[1, 1:2], 4, axis=0))


@pytest.mark.parametrize("name", NAMES)
def test_bidirectional_copies_expose_their_rates(name, tmp_path):
    inputs = keras.Input((6, 5))
    bidirectional = keras.layers.Bidirectional(_layer(name, name="rnn"))
    model = keras.Model(inputs, bidirectional(inputs))
    rate_names = sorted(LAYERS[name][1])
    assert sorted(kerasdrop.find_rates(model)) == [
        f"{direction}_rnn/{rate_name}"
        for direction in ("backward", "forward")
        for rate_name in rate_names
    ]
    # Changing a copy's rate reaches the variable the scheduler drives.
    forward = bidirectional.forward_layer
    setattr(forward, rate_names[0], 0.125)
    found = kerasdrop.find_rates(model)
    assert found[f"forward_rnn/{rate_names[0]}"] == 0.125
    path = tmp_path / "bidirectional.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        _numpy(loaded(X, training=False)),
        _numpy(model(X, training=False)),
        atol=1e-6,
    )
    loaded_forward = loaded.layers[-1].forward_layer
    assert getattr(loaded_forward, rate_names[0]) == 0.125
    assert _numpy(model(X, training=True)).shape == (3, 8)


@pytest.mark.parametrize("name", NAMES)
def test_rate_setters_validate(name):
    layer = _layer(name)
    rate_name = next(iter(LAYERS[name][1]))
    setattr(layer, rate_name, 0.75)
    assert getattr(layer, rate_name) == 0.75
    with pytest.raises(ValueError, match=f"argument `{rate_name}`"):
        setattr(layer, rate_name, 1.5)
    with pytest.raises(TypeError, match=f"argument `{rate_name}`"):
        setattr(layer, rate_name, "high")
    assert getattr(layer, rate_name) == 0.75


@pytest.mark.parametrize("name", NAMES)
def test_invalid_arguments_raise(name):
    cls, train, _ = LAYERS[name]
    rate_name = next(iter(train))
    with pytest.raises(ValueError, match=f"argument `{rate_name}`"):
        cls(4, **{rate_name: -0.1})
    with pytest.raises(ValueError, match="recurrent_dropout"):
        cls(4, recurrent_dropout=0.2)
    with pytest.raises(ValueError):
        _layer(name)(np.ones((3, 5), "float32"))  # Not a sequence.


@pytest.mark.parametrize(
    "name", ["ZoneoutLSTM", "VariationalLSTM", "WeightDropLSTM"]
)
def test_scheduler_changes_rates_inside_fit_without_retracing(name):
    layer = _layer(name, name="rnn")
    inputs = keras.Input((6, 5))
    probe = ZeroFraction()
    outputs = layer(inputs)
    # The zero term gives the weights (zero) gradients, so SGD can step.
    zero = 0.0 * ops.mean(outputs, axis=-1, keepdims=True)
    model = keras.Model(inputs, probe(outputs) + zero)
    model.compile(optimizer="sgd", loss="mae")
    traces = TraceCounts(probe)
    rate_names = sorted(LAYERS[name][1])
    schedule = kerasdrop.schedules.Piecewise([1, 2], [1.0, 0.0, 1.0])
    history = model.fit(
        X,
        np.zeros((3, 1), "float32"),
        batch_size=3,
        epochs=3,
        callbacks=[DropoutScheduler(schedule), traces],
        verbose=0,
    )
    for rate_name in rate_names:
        assert history.history[f"rnn/{rate_name}"] == [1.0, 0.0, 1.0]
    if EAGER_STEPS:  # One call at the one step of each epoch, no trace.
        assert traces.calls_per_epoch() == [1, 1]
    else:
        assert traces.counts == [traces.counts[0]] * 3
    if name != "WeightDropLSTM":
        # At rate 1 the output stays at the zero initial state (zoneout) or
        # sees only zeros (variational): the loss, the fraction of zero
        # outputs, shows the rate the compiled step used.
        loss = history.history["loss"]
        assert loss[0] == loss[2] == 1.0
        assert loss[1] < 0.5


def test_fit_with_an_unknown_batch_size():
    # A smaller last batch makes fit retrace with an unknown batch size, so
    # every mask is drawn with a symbolic batch dimension.
    layers = [kerasdrop.VariationalDropout(0.2, seed=0)]
    layers += [_layer(name, return_sequences=True) for name in NAMES]
    model = keras.Sequential(
        [keras.Input((6, 5)), *layers, keras.layers.Dense(1)]
    )
    model.compile(optimizer="sgd", loss="mse")
    x = make_inputs((10, 6, 5))
    history = model.fit(
        x, np.ones((10, 6, 1)), batch_size=4, epochs=2, verbose=0
    )
    assert np.all(np.isfinite(history.history["loss"]))


@pytest.mark.parametrize("name", NAMES)
def test_implementation_argument_is_accepted_like_keras(name):
    # A drop-in replacement for keras.layers.LSTM takes its arguments.
    layer = _layer(name, rates="zero", implementation=1)
    config = layer.get_config()
    assert config["implementation"] == 1
    restored = type(layer).from_config(config)
    assert restored.get_config()["implementation"] == 1
    layer(X)
    twin = _keras_twin(name, layer, implementation=1)
    np.testing.assert_allclose(
        _numpy(layer(X)), _numpy(twin(X)), rtol=1e-5, atol=1e-5
    )
    assert layer(X, training=True).shape == twin(X).shape
