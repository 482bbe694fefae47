"""Alpha dropout (for SELU networks) with a schedulable rate.

Reference: Klambauer et al., 2017, "Self-Normalizing Neural Networks".
"""

import keras
from keras import ops

from kerasdrop import _compat
from kerasdrop.layers._saving import RebuiltByOwnerState
from kerasdrop.layers.masks import concrete_noise_shape
from kerasdrop.layers.masks import validate_noise_shape
from kerasdrop.layers.rates import Rate
from kerasdrop.layers.rates import RateMixin
from kerasdrop.layers.rates import validate_rate

# SELU's constants; dropped units are set to SELU's negative saturation.
_ALPHA = 1.6732632423543772848170429916717
_SCALE = 1.0507009873554804934193349852946
_SATURATION = -_ALPHA * _SCALE


def alpha_dropout(inputs, rate, noise_shape=None, seed=None):
    """Alpha dropout with a rate that may be a variable.

    Sets each unit to SELU's negative saturation value with probability
    `rate`, then applies the affine map that restores zero mean and unit
    variance, as `keras.layers.AlphaDropout` does.

    Args:
        inputs: Input tensor.
        rate: Drop probability: a float, a scalar tensor or a variable.
        noise_shape: Shape of the mask, `None` entries taking the input's
            size. Defaults to the input's shape.
        seed: A `keras.random.SeedGenerator` (or an integer seed).

    Returns:
        The transformed tensor, of the dtype of `inputs`; zeros at rate 1
        (the limit of the affine map as the rate goes to 1).
    """
    rate = ops.cast(rate, "float32")
    shape = concrete_noise_shape(inputs, noise_shape)
    noise = keras.random.uniform(shape, seed=seed, dtype="float32")
    kept = ops.cast(ops.greater_equal(noise, rate), inputs.dtype)
    # a = ((1 - rate) * (1 + rate * saturation^2))^(-1/2), as in Keras; at
    # rate 1 divide_no_nan gives a = 0 (and b = 0) rather than inf.
    variance = (1.0 - rate) * (1.0 + rate * _SATURATION**2)
    a = ops.divide_no_nan(1.0, ops.sqrt(variance))
    b = -a * _SATURATION * rate
    x = ops.multiply(inputs, kept) + _SATURATION * (1 - kept)
    return ops.cast(a, inputs.dtype) * x + ops.cast(b, inputs.dtype)


@keras.saving.register_keras_serializable(package="kerasdrop")
class ScheduledAlphaDropout(RebuiltByOwnerState, RateMixin, keras.layers.Layer):
    """Alpha dropout for self-normalizing networks, with a schedulable rate.

    At a fixed rate this layer computes what `keras.layers.AlphaDropout`
    computes: during training it sets each input unit to the negative
    saturation value of SELU with probability `rate` and applies the affine
    map that keeps the mean and variance of its input, so that a SELU
    network stays self-normalizing; at inference it returns its input
    untouched. The rate is a non-trainable variable, so `layer.rate = 0.05`
    or `kerasdrop.callbacks.DropoutScheduler` changes it inside an
    already-compiled `fit` without tracing again. At rate 1 the layer
    outputs zeros (the limit of the affine map), never NaN.

    Reference: Klambauer et al., 2017, "Self-Normalizing Neural Networks".

    Args:
        rate: Float between 0 and 1. Fraction of the input units to drop.
        noise_shape: Tuple of ints or `None`s: the shape of the binary mask,
            `None` meaning the input's size.
        seed: Python integer, the random seed.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: Input tensor (of any rank).
        training: Python boolean: drop units (`True`) or return the input
            unchanged (`False`, the default).

    Input shape:
        Arbitrary.

    Output shape:
        Same as the input.

    Examples:
        >>> layer = kerasdrop.ScheduledAlphaDropout(0.1, seed=0)
        >>> x = np.ones((2, 4), dtype="float32")
        >>> print(keras.ops.shape(layer(x, training=True)))
        (2, 4)
        >>> layer.rate = 0.0
        >>> print(keras.ops.convert_to_numpy(layer(x, training=True)))
        [[1. 1. 1. 1.]
         [1. 1. 1. 1.]]
    """

    rate = Rate("Current dropout rate, a float in [0, 1]; assignable.")

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        validate_rate(rate, "rate")
        noise_shape = validate_noise_shape(noise_shape)
        super().__init__(**kwargs)
        self.rate = rate
        self.noise_shape = noise_shape
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        # Built at construction, like its Keras twin (`stateless_call` on a
        # fresh layer).
        _compat.build_at_init(self)

    def call(self, inputs, training=False):
        if not training:
            return inputs
        return alpha_dropout(
            inputs,
            self.dropout_rates["rate"],
            noise_shape=self.noise_shape,
            seed=self.seed_generator,
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {
            "rate": self.rate,
            "noise_shape": self.noise_shape,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}
