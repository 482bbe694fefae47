import keras
import numpy as np
import pytest
from keras import ops

import kerasdrop
from kerasdrop import _compat
from tests.layer_testing import check_config_round_trip
from tests.layer_testing import make_inputs


def _numpy(x):
    return ops.convert_to_numpy(x)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _reference_zoneout_lstm(x, weights, h, c, cell_rate, hidden_rate):
    """Zoneout's expectation, step by step in NumPy (Krueger et al.)."""
    kernel, recurrent_kernel, bias = weights
    outputs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent_kernel + bias
        i, f, g, o = np.split(z, 4, axis=-1)
        new_c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        new_h = _sigmoid(o) * np.tanh(new_c)  # From the un-zoned new c.
        c = cell_rate * c + (1 - cell_rate) * new_c
        h = hidden_rate * h + (1 - hidden_rate) * new_h
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c


def _copy_cell(units):
    """A SimpleRNN cell whose new state is its input: h' = x_t."""
    return keras.layers.SimpleRNNCell(
        units,
        activation=None,
        use_bias=False,
        kernel_initializer="identity",
        recurrent_initializer="zeros",
    )


X = make_inputs((3, 7, 5))
# A bare ZoneoutCell in keras.layers.RNN draws its masks inside the loop,
# which JAX's lax.scan cannot do; ZoneoutLSTM/GRU draw them before it.
in_loop_masks = pytest.mark.skipif(
    keras.backend.backend() == "jax", reason="Masks drawn in the loop."
)
H0 = make_inputs((3, 4), seed=1)
C0 = make_inputs((3, 4), seed=2)


@pytest.mark.parametrize(
    "cell_rate, hidden_rate", [(0.5, 0.05), (0.0, 0.3), (1.0, 0.0)]
)
def test_inference_is_the_expectation_on_a_hand_computed_sequence(
    cell_rate, hidden_rate
):
    layer = kerasdrop.ZoneoutLSTM(
        4,
        cell_rate=cell_rate,
        hidden_rate=hidden_rate,
        return_sequences=True,
        return_state=True,
    )
    outputs, h, c = layer(X, initial_state=[H0, C0], training=False)
    expected = _reference_zoneout_lstm(
        X, layer.get_weights(), H0, C0, cell_rate, hidden_rate
    )
    for got, want in zip((outputs, h, c), expected):
        np.testing.assert_allclose(_numpy(got), want, atol=1e-5)


@pytest.mark.parametrize("cell_rate, hidden_rate", [(1.0, 0.0), (0.0, 1.0)])
def test_lstm_rates_act_on_their_own_state(cell_rate, hidden_rate):
    # Rates 0 and 1 make training deterministic: it equals the expectation.
    layer = kerasdrop.ZoneoutLSTM(
        4, cell_rate=cell_rate, hidden_rate=hidden_rate, return_state=True
    )
    _, h, c = layer(X, initial_state=[H0, C0], training=True)
    _, want_h, want_c = _reference_zoneout_lstm(
        X, layer.get_weights(), H0, C0, cell_rate, hidden_rate
    )
    np.testing.assert_allclose(_numpy(h), want_h, atol=1e-5)
    np.testing.assert_allclose(_numpy(c), want_c, atol=1e-5)
    frozen, moving = (c, h) if cell_rate == 1.0 else (h, c)
    np.testing.assert_array_equal(_numpy(frozen), C0 if c is frozen else H0)
    assert np.abs(_numpy(moving) - (H0 if h is moving else C0)).max() > 0.01


@pytest.mark.parametrize("training", [True, False])
def test_rate_one_keeps_the_initial_state(training):
    lstm = kerasdrop.ZoneoutLSTM(
        4, cell_rate=1.0, hidden_rate=1.0, return_sequences=True,
        return_state=True,
    )  # fmt: skip
    outputs, h, c = lstm(X, initial_state=[H0, C0], training=training)
    np.testing.assert_array_equal(_numpy(outputs), np.stack([H0] * 7, 1))
    np.testing.assert_array_equal(_numpy(h), H0)
    np.testing.assert_array_equal(_numpy(c), C0)
    gru = kerasdrop.ZoneoutGRU(4, rate=1.0, return_state=True)
    output, state = gru(X, initial_state=[H0], training=training)
    np.testing.assert_array_equal(_numpy(output), H0)
    np.testing.assert_array_equal(_numpy(state), H0)


def test_single_state_inference_is_the_expectation():
    cell = kerasdrop.ZoneoutCell(keras.layers.SimpleRNNCell(4), rate=0.3)
    layer = keras.layers.RNN(cell, return_sequences=True)
    outputs = _numpy(layer(X, initial_state=[H0], training=False))
    kernel, recurrent_kernel, bias = layer.get_weights()
    h, expected = H0, []
    for t in range(X.shape[1]):
        new_h = np.tanh(X[:, t] @ kernel + h @ recurrent_kernel + bias)
        h = 0.3 * h + 0.7 * new_h
        expected.append(h)
    np.testing.assert_allclose(outputs, np.stack(expected, 1), atol=1e-5)


def _run_copy_cell(rate, seed=0):
    """Zoned outputs of a cell whose new state is x_t = t + 1."""
    units, timesteps = 32, 6
    cell = kerasdrop.ZoneoutCell(_copy_cell(units), rate=rate,
                                 seed=seed)  # fmt: skip
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    steps = np.arange(1, timesteps + 1, dtype="float32")
    x = np.broadcast_to(steps[None, :, None], (64, timesteps, units))
    outputs, state = layer(x, training=True)
    return _numpy(outputs), _numpy(state), steps


@in_loop_masks
def test_training_keeps_each_unit_with_probability_rate_at_every_step():
    outputs, state, steps = _run_copy_cell(0.3)
    previous = np.concatenate([np.zeros_like(outputs[:, :1]), outputs], 1)
    kept = outputs == previous[:, :-1]
    updated = outputs == steps[None, :, None]
    # Each unit either keeps its previous value or takes the new one.
    assert np.all(kept ^ updated)
    # 12288 draws: the kept fraction's standard deviation is about 0.004.
    assert abs(kept.mean() - 0.3) < 0.02
    # Masks are drawn anew at each step, not once per sequence.
    agreement = np.mean(kept[:, 1] == kept[:, 2])
    assert abs(agreement - (0.3**2 + 0.7**2)) < 0.05
    # The output is the zoned state, not the cell's un-zoned candidate.
    np.testing.assert_array_equal(outputs[:, -1], state)


def test_training_masks_differ_per_step_in_a_compiled_function():
    if keras.backend.backend() != "tensorflow":
        pytest.skip(
            "checks the masks of a loop traced by tf.function; torch runs "
            "the loop eagerly (the test above), and a bare cell refuses to "
            "draw in JAX's loop"
        )
    import tensorflow as tf

    cell = kerasdrop.ZoneoutCell(_copy_cell(32), rate=0.5, seed=3)
    layer = keras.layers.RNN(cell, return_sequences=True)
    x = np.broadcast_to(
        np.arange(1, 7, dtype="float32")[None, :, None], (16, 6, 32)
    )
    compiled = tf.function(lambda inputs: layer(inputs, training=True))
    outputs = _numpy(compiled(x))
    kept = outputs[:, 1:] == outputs[:, :-1]
    assert 0.4 < kept.mean() < 0.6
    assert 0.3 < np.mean(kept[:, 0] == kept[:, 1]) < 0.7
    assert not np.array_equal(outputs, _numpy(compiled(x)))


@in_loop_masks
@pytest.mark.parametrize(
    "make_inner",
    [
        lambda: kerasdrop.VariationalDropoutCell(
            _copy_cell(8), input_rate=0.5, seed=1
        ),
        lambda: keras.layers.SimpleRNNCell(
            8,
            activation=None,
            use_bias=False,
            kernel_initializer="identity",
            recurrent_initializer="zeros",
            dropout=0.5,  # Keras's own cell dropout.
            seed=1,
        ),
    ],
)
def test_wrapped_cell_masks_are_drawn_once_per_sequence(make_inner):
    # Zoneout forwards Keras's mask protocol to the cell it wraps: the inner
    # input mask is drawn before the loop and cleared after it.
    layer = keras.layers.RNN(
        kerasdrop.ZoneoutCell(make_inner(), rate=0.0), return_sequences=True
    )
    x = np.ones((16, 5, 8), "float32")
    first = _numpy(layer(x, training=True))
    np.testing.assert_array_equal(first, np.repeat(first[:, :1], 5, axis=1))
    assert 0.3 < np.mean(first == 0) < 0.7
    assert not np.array_equal(first, _numpy(layer(x, training=True)))


@pytest.mark.parametrize("compiled", [False, True])
def test_layers_draw_a_new_mask_for_every_step_before_the_loop(compiled):
    # h is zoned with hidden_rate; c (rate 0.9) must not leak into h's mask.
    layer = kerasdrop.ZoneoutLSTM(
        32, cell_rate=0.9, hidden_rate=0.3, return_sequences=True, seed=4
    )
    x = make_inputs((64, 8, 5), seed=3)
    run = lambda inputs: layer(inputs, training=True)  # noqa: E731
    if compiled and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        run = tf.function(run)
    outputs = _numpy(run(x))
    kept = outputs[:, 1:] == outputs[:, :-1]
    # 14336 draws: the kept fraction's standard deviation is about 0.004.
    assert abs(kept.mean() - 0.3) < 0.02
    agreement = np.mean(kept[:, 0] == kept[:, 1])
    assert abs(agreement - (0.3**2 + 0.7**2)) < 0.05
    assert not np.array_equal(outputs, _numpy(run(x)))


def test_gru_layer_keeps_units_with_probability_rate():
    layer = kerasdrop.ZoneoutGRU(32, rate=0.6, return_sequences=True, seed=5)
    outputs = _numpy(layer(make_inputs((64, 8, 5), seed=4), training=True))
    kept = outputs[:, 1:] == outputs[:, :-1]
    assert abs(kept.mean() - 0.6) < 0.02


@pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="only JAX's lax.scan cannot draw a new mask at each step",
)
def test_bare_cell_refuses_to_draw_in_a_jax_loop():
    layer = keras.layers.RNN(
        kerasdrop.ZoneoutCell(keras.layers.GRUCell(4), rate=0.5)
    )
    with pytest.raises(NotImplementedError, match="ZoneoutGRU"):
        layer(X, training=True)


def test_rates_are_named_after_the_states_of_the_cell():
    lstm = kerasdrop.ZoneoutCell(
        keras.layers.LSTMCell(4), cell_rate=0.5, hidden_rate=0.05
    )
    assert sorted(lstm.dropout_rates) == ["cell_rate", "hidden_rate"]
    assert lstm.cell_rate == 0.5
    gru = kerasdrop.ZoneoutCell(keras.layers.GRUCell(4))
    assert list(gru.dropout_rates) == ["rate"]
    assert gru.rate == 0.0
    for variable in lstm.dropout_rates.values():
        assert keras.backend.standardize_dtype(variable.dtype) == "float32"
        assert not variable.trainable
    assert lstm.weights == lstm.cell.weights  # Rates are not weights.


def test_rate_that_does_not_apply_raises():
    with pytest.raises(ValueError, match="Invalid argument `rate`"):
        kerasdrop.ZoneoutCell(keras.layers.LSTMCell(4), rate=0.1)
    with pytest.raises(ValueError, match="Invalid argument `cell_rate`"):
        kerasdrop.ZoneoutCell(keras.layers.GRUCell(4), cell_rate=0.1)
    lstm = kerasdrop.ZoneoutCell(keras.layers.LSTMCell(4))
    with pytest.raises(AttributeError, match="no `rate`"):
        lstm.rate = 0.2
    assert "rate" not in lstm.dropout_rates


def test_invalid_cells_and_values_raise():
    with pytest.raises(TypeError, match="Expected a Keras RNN cell"):
        kerasdrop.ZoneoutCell("lstm", rate=0.1)
    stacked = keras.layers.StackedRNNCells([keras.layers.GRUCell(2)] * 2)
    with pytest.raises(ValueError, match="Wrap each cell"):
        kerasdrop.ZoneoutCell(stacked, rate=0.1)
    with pytest.raises(ValueError, match="argument `hidden_rate`"):
        kerasdrop.ZoneoutCell(keras.layers.LSTMCell(4), hidden_rate=2.0)
    with pytest.raises(ValueError, match="Received: rate=nan"):
        kerasdrop.ZoneoutCell(keras.layers.GRUCell(4), rate=float("nan"))


def test_config_and_keras_file_round_trip(tmp_path):
    cell = kerasdrop.ZoneoutCell(
        keras.layers.LSTMCell(4), cell_rate=0.4, hidden_rate=0.1, seed=7
    )
    clone = check_config_round_trip(cell)
    assert (clone.cell_rate, clone.seed) == (cell.cell_rate, 7)
    inputs = keras.Input((7, 5))
    model = keras.Model(inputs, keras.layers.RNN(cell)(inputs))
    path = tmp_path / "zoneout.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(_numpy(loaded(X)), _numpy(model(X)), atol=1e-6)
    assert isinstance(loaded.layers[-1].cell, kerasdrop.ZoneoutCell)


def _lstm_step(weights, x_t, h, c):
    kernel, recurrent_kernel, bias = weights
    z = x_t @ kernel + h @ recurrent_kernel + bias
    i, f, g, o = np.split(z, 4, axis=-1)
    new_c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return [_sigmoid(o) * np.tanh(new_c), new_c]


def _gru_step(weights, x_t, h):
    kernel, recurrent_kernel, bias = weights  # Keras's reset_after=True.
    x_z, x_r, x_h = np.split(x_t @ kernel + bias[0], 3, axis=-1)
    h_z, h_r, h_h = np.split(h @ recurrent_kernel + bias[1], 3, axis=-1)
    z, r = _sigmoid(x_z + h_z), _sigmoid(x_r + h_r)
    return [z * h + (1 - z) * np.tanh(x_h + r * h_h)]


@pytest.mark.parametrize("unroll", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_training_zones_with_one_draw_for_all_steps(kind, go_backwards, unroll):
    # Unit j of state s keeps its previous value at input step t iff its
    # 16-bit uniform integer is below round(rate * 2**16); the integers of
    # one step are the low and high 16 bits of 32-bit words, side by side.
    # On TensorFlow each step draws its words of shape (batch, half the sum
    # of state sizes) from a seed of its own (one draw of all seeds per
    # call); elsewhere one draw of shape (timesteps, batch, ...) serves all
    # steps. Replayed here with a fresh seed generator. An unrolled loop
    # is fed the same draws.
    units, seed = 4, 9
    options = dict(
        seed=seed,
        return_sequences=True,
        return_state=True,
        go_backwards=go_backwards,
        unroll=unroll,
    )
    if kind == "lstm":
        layer = kerasdrop.ZoneoutLSTM(
            units, cell_rate=0.4, hidden_rate=0.3, **options
        )
        rates, step, states = [0.3, 0.4], _lstm_step, [H0, C0]
    else:
        layer = kerasdrop.ZoneoutGRU(units, rate=0.4, **options)
        rates, step, states = [0.4], _gru_step, [H0]
    layer.build(X.shape)
    seed_generator = keras.random.SeedGenerator(seed)
    half = -(-units * len(rates) // 2)
    if _compat.draws_masks_in_loop():
        seeds = _compat.step_seeds(7, seed_generator)
        halves = [
            _compat.random_uint16_pairs((3, half), seeds[t]) for t in range(7)
        ]
        halves = [np.stack([_numpy(h[i]) for h in halves]) for i in range(2)]
    else:
        halves = _compat.random_uint16_pairs((7, 3, half), seed_generator)
    uniforms = np.concatenate([_numpy(h) for h in halves], axis=-1)
    uniforms = uniforms[..., : units * len(rates)].transpose(1, 0, 2)
    thresholds = np.repeat(np.round(np.float32(rates) * 2**16), units)
    keep = np.split(uniforms < thresholds, len(rates), axis=-1)
    outputs, *final_states = layer(X, initial_state=states, training=True)

    weights, expected = layer.get_weights(), []
    for t in reversed(range(7)) if go_backwards else range(7):
        candidates = step(weights, X[:, t], *states)
        states = [
            np.where(mask[:, t], state, candidate)
            for mask, state, candidate in zip(keep, states, candidates)
        ]
        expected.append(states[0])
    np.testing.assert_allclose(
        _numpy(outputs), np.stack(expected, 1), atol=1e-5
    )
    for got, want in zip(final_states, states):
        np.testing.assert_allclose(_numpy(got), want, atol=1e-5)
    # Both outcomes occur, so the check above compares real draws.
    assert 0.1 < np.mean(keep[0]) < 0.6


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_unrolled_layer_zones_as_the_loop_does(kind, masked):
    # The same seed feeds the unrolled steps the draws of the loop, so both
    # compute the same sequence; with a padding mask too.
    def run(unroll):
        options = dict(seed=11, return_sequences=True, unroll=unroll)
        if kind == "lstm":
            layer = kerasdrop.ZoneoutLSTM(
                16, cell_rate=0.5, hidden_rate=0.3, **options
            )
        else:
            layer = kerasdrop.ZoneoutGRU(16, rate=0.4, **options)
        layer.build(X.shape)
        layer.set_weights(weights)
        return _numpy(layer(X, mask=mask, training=True))

    mask = np.arange(7)[None, :] < np.array([[7], [4], [2]])
    mask = mask if masked else None
    reference = (
        keras.layers.LSTM(16) if kind == "lstm" else keras.layers.GRU(16)
    )
    reference.build(X.shape)
    weights = reference.get_weights()
    looped, unrolled = run(False), run(True)
    # Float32 steps of one computation, fused differently: a few ulps.
    np.testing.assert_allclose(unrolled, looped, rtol=1e-5, atol=1e-6)
    kept = looped[:, 1:] == looped[:, :-1]
    if masked:
        kept = kept[0]  # The one sequence with no padded steps.
    # Both outcomes occur, so the comparison above compares real draws.
    assert 0.1 < kept.mean() < 0.6


def _mask_statistics(keep_h, keep_c):
    """Kept fractions and co-occurrences of (batch, steps, units) masks."""
    return {
        "h kept": keep_h.mean(),
        "c kept": keep_c.mean(),
        "h kept at t and t+1": np.mean(keep_h[:, 1:] & keep_h[:, :-1]),
        "h kept in units j and j+1": np.mean(
            keep_h[..., 1:] & keep_h[..., :-1]
        ),
        "h and c kept": np.mean(keep_h & keep_c),
    }


def test_masks_drawn_before_the_loop_have_the_per_step_statistics():
    cell_rate, hidden_rate, shape = 0.5, 0.2, (128, 20, 64)
    expected = {
        "h kept": hidden_rate,
        "c kept": cell_rate,
        "h kept at t and t+1": hidden_rate**2,
        "h kept in units j and j+1": hidden_rate**2,
        "h and c kept": hidden_rate * cell_rate,
    }
    layer = kerasdrop.ZoneoutLSTM(
        shape[-1], cell_rate=cell_rate, hidden_rate=hidden_rate, seed=3
    )
    drawn = layer.cell._draw_step_masks(*shape[:2])
    drawn = [_numpy(keep).transpose(1, 0, 2) for keep in drawn]
    measured = {"before the loop": _mask_statistics(*drawn)}
    if _compat.draws_masks_in_loop():
        # The layer's own path on TensorFlow: one seed per step.
        seeds = _compat.step_seeds(shape[1], layer.cell.seed_generator)
        steps = [
            layer.cell._keep_masks(shape[:1], seed=seeds[t])
            for t in range(shape[1])
        ]
        measured["one seed per step"] = _mask_statistics(
            *(
                np.stack([_numpy(masks[index]) for masks in steps], axis=1)
                for index in range(2)
            )
        )
    if keras.backend.backend() != "jax":
        # A bare cell draws inside the loop, one step at a time.
        cell = kerasdrop.ZoneoutCell(
            keras.layers.LSTMCell(shape[-1]),
            cell_rate=cell_rate,
            hidden_rate=hidden_rate,
            seed=3,
        )
        state = ops.zeros((shape[0], shape[-1]))
        steps = [cell._draw_keep([state, state]) for _ in range(shape[1])]
        keep_h, keep_c = (
            np.stack([_numpy(masks[index]) for masks in steps], axis=1)
            for index in range(2)
        )
        measured["one step at a time"] = _mask_statistics(keep_h, keep_c)
    # 163840 draws per state: a fraction's standard deviation is at most
    # 0.0013, so 0.006 is more than 4.5 of them.
    for statistics in measured.values():
        for name, value in statistics.items():
            assert abs(value - expected[name]) < 0.006, (name, value)


@pytest.mark.parametrize("units", [64, 7])
def test_keep_probability_is_the_rate_rounded_to_a_multiple_of_2_to_the_16(
    units,
):
    # 0.4 / 2**16 rounds to 0 and 1 - 0.4 / 2**16 to 1: no unit keeps its
    # value and every unit does, in over 200000 draws per state. A float
    # comparison would keep 1.4 (7 units) to 12.8 (64 units) on average in
    # the first case.
    small, large = 0.4 / 2**16, 1 - 0.4 / 2**16
    shape = (64, 512)  # (batch, timesteps)
    lstm = kerasdrop.ZoneoutLSTM(
        units, cell_rate=small, hidden_rate=large, seed=1
    )
    keep_h, keep_c = map(_numpy, lstm.cell._draw_step_masks(*shape))
    assert keep_h.shape == keep_c.shape == shape[::-1] + (units,)
    assert keep_h.all() and not keep_c.any()
    # Just above half a level the rate rounds up to one level, 2**-16:
    # 14 to 128 keeps expected in (256 x 512 x units) draws.
    gru = kerasdrop.ZoneoutGRU(units, rate=0.6 / 2**16, seed=2)
    (keep,) = map(_numpy, gru.cell._draw_step_masks(256, 512))
    assert keep.shape == (512, 256, units)
    assert 0 < keep.sum() < 3 * keep.size / 2**16


@pytest.mark.parametrize("rate", [0.05, 0.5, 0.9])
def test_gru_masks_of_an_odd_number_of_units_keep_with_the_rate(rate):
    # A one-state cell of 33 units takes its 33 integers from 17 words:
    # units 0-16 from their low halves, units 17-32 from the high halves of
    # the first 16; every unit keeps with the rate.
    layer = kerasdrop.ZoneoutGRU(33, rate=rate, seed=5)
    (keep,) = map(_numpy, layer.cell._draw_step_masks(256, 64))
    per_unit = keep.mean(axis=(0, 1))
    # 16384 draws per unit: a fraction's standard deviation is at most
    # 0.0039, so 0.018 is more than 4.5 of them.
    assert np.all(np.abs(per_unit - rate) < 0.018), per_unit
