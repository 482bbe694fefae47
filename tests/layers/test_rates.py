"""Rate variables: layers read them; nothing in a layer changes them."""

import keras
import numpy as np
import pytest

import kerasdrop
from kerasdrop.layers import Rate
from kerasdrop.layers import RateMixin
from kerasdrop.layers.rates import read_rate
from tests.warning_checks import no_warnings

X = np.ones((8, 2000), dtype="float32")


def zero_fraction(layer, inputs=X):
    outputs = keras.ops.convert_to_numpy(layer(inputs, training=True))
    return float(np.mean(outputs == 0))


def test_training_calls_use_the_variable_and_leave_it_alone():
    layer = kerasdrop.ScheduledDropout(0.3, seed=0)
    fractions = [zero_fraction(layer) for _ in range(4)]
    np.testing.assert_allclose(fractions, [0.3] * 4, atol=0.02)
    assert layer.rate == pytest.approx(0.3)
    layer.dropout_rates["rate"].assign(0.7)
    assert zero_fraction(layer) == pytest.approx(0.7, abs=0.02)


def test_rates_are_state_not_weights():
    layer = kerasdrop.ScheduledDropout(0.3)
    layer.build((None, 4))
    assert layer.weights == []
    rate = layer.dropout_rates["rate"]
    assert any(v is rate for v in layer.non_trainable_variables)


@pytest.mark.parametrize(
    "layer",
    [
        kerasdrop.VariationalLSTM(4, input_rate=0.2, recurrent_rate=0.2),
        kerasdrop.ZoneoutGRU(4, rate=0.2),
        kerasdrop.WeightDropLSTM(4, rate=0.2),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_recurrent_training_calls_leave_rates_alone(layer):
    before = {name: getattr(layer, name) for name in layer.dropout_rates}
    sequences = np.ones((2, 5, 3), dtype="float32")
    layer(sequences, training=True)
    layer(sequences, training=True)
    assert {name: getattr(layer, name) for name in before} == before


def test_setting_a_rate_validates_it():
    layer = kerasdrop.ScheduledDropout(0.3)
    with pytest.raises(ValueError, match="Received: rate=1.5"):
        layer.rate = 1.5
    assert layer.rate == pytest.approx(0.3)


def test_a_layer_declares_rates_with_rate_attributes():
    class TwoRates(RateMixin, keras.layers.Layer):
        cell_rate = Rate()
        hidden_rate = Rate()

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.cell_rate = 0.1
            self.hidden_rate = 0.2

    layer = TwoRates()
    assert sorted(layer.dropout_rates) == ["cell_rate", "hidden_rate"]
    assert (layer.cell_rate, layer.hidden_rate) == (0.1, 0.2)


def test_read_rate_of_a_one_element_array_warns_nothing():
    variable = keras.Variable(np.array([0.1], dtype="float32"))
    with no_warnings():
        assert read_rate(variable) == 0.1
        assert read_rate(keras.Variable(np.float32(0.25))) == 0.25
