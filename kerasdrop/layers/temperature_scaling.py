"""Temperature scaling: the logits divided by one fitted number.

Guo et al. (2017) found modern networks overconfident and that dividing
the logits by a single temperature `T > 1`, fitted on held-out data,
calibrates them about as well as any richer method; it never changes which
class is predicted. `kerasdrop.analysis.fit_temperature` fits `T`;
`TemperatureScaling` applies it inside a model, so that it is saved with the
model.

Reference: Guo, Pleiss, Sun and Weinberger, 2017, "On Calibration of Modern
Neural Networks".
"""

import math

import keras
from keras import ops


def validate_temperature(temperature, name="temperature"):
    """`temperature` as a positive finite Python float, or a `ValueError`."""
    if isinstance(temperature, bool) or not isinstance(
        temperature, (int, float)
    ):
        try:
            temperature = float(temperature)
        except (TypeError, ValueError):
            temperature = None
    if (
        temperature is None
        or not math.isfinite(temperature)
        or temperature <= 0
    ):
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a "
            f"positive float. Received: {name}={temperature!r}"
        )
    return float(temperature)


@keras.saving.register_keras_serializable(package="kerasdrop")
class TemperatureScaling(keras.layers.Layer):
    """Divides its input (logits) by a temperature.

    Put it between a model's logits and its softmax. `T > 1` softens the
    probabilities (the usual cure for an overconfident network), `T < 1`
    sharpens them, `T = 1` changes nothing; the predicted class never
    changes. The temperature is a non-trainable variable: set it with
    `layer.temperature = value` (after `kerasdrop.analysis.fit_temperature`)
    and it is saved in `.keras` files with the model. It does the same in
    training and inference, so `mc_predict` of a model that ends with it
    gives Monte-Carlo dropout at that temperature.

    Reference: Guo, Pleiss, Sun and Weinberger, 2017, "On Calibration of
    Modern Neural Networks".

    Args:
        temperature: Positive float.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: Logits, of any shape.

    Input shape:
        Arbitrary.

    Output shape:
        Same as the input.

    Examples:
        >>> layer = kerasdrop.TemperatureScaling(2.0)
        >>> print(keras.ops.convert_to_numpy(layer(np.array([[2.0, -4.0]]))))
        [[ 1. -2.]]
        >>> layer.temperature = 4.0
        >>> layer.temperature
        4.0
    """

    def __init__(self, temperature=1.0, **kwargs):
        temperature = validate_temperature(temperature)
        super().__init__(**kwargs)
        # Kept in float32 whatever the compute dtype, like kerasdrop's rates.
        self._temperature = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(temperature),
            trainable=False,
            dtype="float32",
            name="temperature",
        )
        self.supports_masking = True
        self.built = True

    @property
    def temperature(self):
        """The current temperature, a Python float; assignable."""
        return float(ops.convert_to_numpy(self._temperature))

    @temperature.setter
    def temperature(self, value):
        self._temperature.assign(validate_temperature(value))

    def call(self, inputs):
        return inputs / ops.cast(self._temperature, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}
