"""Multiplicative Gaussian noise with a schedulable rate.

Reference: Srivastava et al., 2014, "Dropout: A Simple Way to Prevent Neural
Networks from Overfitting" (section 10, Gaussian dropout).
"""

import keras
from keras import ops

from kerasdrop import _compat
from kerasdrop.layers._saving import RebuiltByOwnerState
from kerasdrop.layers.rates import Rate
from kerasdrop.layers.rates import RateMixin
from kerasdrop.layers.rates import validate_rate


def gaussian_dropout(inputs, rate, seed):
    """Multiplies `inputs` by Gaussian noise of mean 1 and variance
    `rate / (1 - rate)`, the variance of inverted dropout at that rate.

    Args:
        inputs: Input tensor.
        rate: Dropout rate: a float, a scalar tensor or a variable.
        seed: A `keras.random.SeedGenerator` (or an integer seed).

    Returns:
        The noisy tensor, of the dtype of `inputs`; zeros at rate 1.
    """
    rate = ops.cast(rate, "float32")
    # divide_no_nan keeps rate 1 finite; `where` then gives zeros there,
    # the limit of inverted dropout, instead of infinite noise.
    stddev = ops.sqrt(ops.divide_no_nan(rate, 1.0 - rate))
    noise = keras.random.normal(ops.shape(inputs), seed=seed, dtype="float32")
    factor = ops.where(ops.less(rate, 1.0), 1.0 + stddev * noise, 0.0)
    return ops.multiply(inputs, ops.cast(factor, inputs.dtype))


@keras.saving.register_keras_serializable(package="kerasdrop")
class ScheduledGaussianDropout(
    RebuiltByOwnerState, RateMixin, keras.layers.Layer
):
    """Multiplicative 1-centred Gaussian noise, with a schedulable rate.

    At a fixed rate this layer computes what `keras.layers.GaussianDropout`
    computes: during training it multiplies its input by noise drawn from a
    normal distribution of mean 1 and standard deviation
    `sqrt(rate / (1 - rate))` (the variance of inverted dropout at the same
    rate); at inference it returns its input untouched. The rate is a
    non-trainable variable, so `layer.rate = 0.2` or
    `kerasdrop.callbacks.DropoutScheduler` changes it inside an
    already-compiled `fit` without tracing again. At rate 0 the input goes
    through unchanged; at rate 1, where the noise would be infinite, the
    layer outputs zeros (the limit of inverted dropout), never NaN.

    Reference: Srivastava et al., 2014, "Dropout: A Simple Way to Prevent
    Neural Networks from Overfitting" (section 10).

    Args:
        rate: Float between 0 and 1: the drop probability of the dropout
            whose variance the noise has.
        seed: Python integer, the random seed.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: Input tensor (of any rank).
        training: Python boolean: add noise (`True`) or return the input
            unchanged (`False`, the default).

    Input shape:
        Arbitrary.

    Output shape:
        Same as the input.

    Examples:
        >>> layer = kerasdrop.ScheduledGaussianDropout(0.2, seed=0)
        >>> x = np.ones((2, 4), dtype="float32")
        >>> print(keras.ops.shape(layer(x, training=True)))
        (2, 4)
        >>> layer.rate = 0.0
        >>> print(keras.ops.convert_to_numpy(layer(x, training=True)))
        [[1. 1. 1. 1.]
         [1. 1. 1. 1.]]
    """

    rate = Rate("Current dropout rate, a float in [0, 1]; assignable.")

    def __init__(self, rate, seed=None, **kwargs):
        validate_rate(rate, "rate")
        super().__init__(**kwargs)
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        # Built at construction, like its Keras twin (`stateless_call` on a
        # fresh layer).
        _compat.build_at_init(self)

    def call(self, inputs, training=False):
        if not training:
            return inputs
        return gaussian_dropout(
            inputs, self.dropout_rates["rate"], self.seed_generator
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {"rate": self.rate, "seed": self.seed}
        return {**super().get_config(), **config}
