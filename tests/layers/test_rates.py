"""Step schedules: rates computed from a step counter inside a layer's call."""

import warnings

import keras
import numpy as np
import pytest

import kerasdrop
from kerasdrop import schedules
from kerasdrop.layers.rates import read_rate

X = np.ones((8, 2000), dtype="float32")


def zero_fraction(layer):
    outputs = keras.ops.convert_to_numpy(layer(X, training=True))
    return float(np.mean(outputs == 0))


def test_training_calls_follow_the_bound_schedule():
    layer = kerasdrop.ScheduledDropout(0.0, seed=0)
    layer.set_step_schedules({"rate": schedules.Piecewise([2], [0.1, 0.7])}, 0)
    fractions = [zero_fraction(layer) for _ in range(4)]
    np.testing.assert_allclose(fractions, [0.1, 0.1, 0.7, 0.7], atol=0.02)
    assert int(keras.ops.convert_to_numpy(layer.schedule_step)) == 4
    assert layer.rate == pytest.approx(0.7)


def test_inference_calls_do_not_count_steps():
    layer = kerasdrop.ScheduledDropout(0.0, seed=0)
    layer.set_step_schedules({"rate": schedules.Linear(0.0, 1.0, 10)}, 3)
    np.testing.assert_array_equal(layer(X, training=False), X)
    assert int(keras.ops.convert_to_numpy(layer.schedule_step)) == 3
    assert layer.rate == 0.0


def test_a_negative_step_pauses_the_schedules():
    layer = kerasdrop.ScheduledDropout(0.3, seed=0)
    assert int(keras.ops.convert_to_numpy(layer.schedule_step)) == -1
    layer.set_step_schedules({"rate": schedules.Constant(0.9)})
    assert zero_fraction(layer) == pytest.approx(0.3, abs=0.02)
    assert layer.rate == pytest.approx(0.3)
    assert int(keras.ops.convert_to_numpy(layer.schedule_step)) == -1


def test_unbound_layer_ignores_its_step():
    layer = kerasdrop.ScheduledDropout(0.3, seed=0)
    layer.schedule_step.assign(5)
    assert zero_fraction(layer) == pytest.approx(0.3, abs=0.02)
    assert int(keras.ops.convert_to_numpy(layer.schedule_step)) == 5


def test_unknown_rate_name_raises():
    layer = kerasdrop.ScheduledDropout(0.3)
    with pytest.raises(ValueError, match=r"names \['cell_rate'\]"):
        layer.set_step_schedules({"cell_rate": schedules.Constant(0.1)})


def test_step_counter_is_state_not_a_weight():
    layer = kerasdrop.ScheduledDropout(0.3)
    layer.build((None, 4))
    assert layer.weights == []
    assert any(v is layer.schedule_step for v in layer.variables)


@pytest.mark.parametrize(
    "layer",
    [
        kerasdrop.VariationalLSTM(4, input_rate=0.0, recurrent_rate=0.0),
        kerasdrop.ZoneoutGRU(4, rate=0.0),
        kerasdrop.WeightDropLSTM(4, rate=0.0),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_recurrent_layer_counts_one_step_per_call(layer):
    # Five time steps per call: a count per time step would reach 0.5.
    name = sorted(layer.dropout_rates)[-1]
    layer.set_step_schedules({name: schedules.Linear(0.0, 1.0, 10)}, step=0)
    sequences = np.ones((2, 5, 3), dtype="float32")
    layer(sequences, training=True)
    layer(sequences, training=True)
    assert getattr(layer, name) == pytest.approx(0.1)
    assert int(keras.ops.convert_to_numpy(layer.schedule_step)) == 2


def test_read_rate_of_a_one_element_array_warns_nothing():
    variable = keras.Variable(np.array([0.1], dtype="float32"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_rate(variable) == 0.1
        assert read_rate(keras.Variable(np.float32(0.25))) == 0.25
