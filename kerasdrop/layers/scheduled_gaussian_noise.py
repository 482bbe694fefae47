"""Additive Gaussian noise with a schedulable standard deviation."""

import keras
from keras import ops

from kerasdrop import _compat
from kerasdrop.layers._saving import RebuiltByOwnerState
from kerasdrop.layers.rates import Rate
from kerasdrop.layers.rates import RateMixin
from kerasdrop.layers.rates import validate_rate


def gaussian_noise(inputs, stddev, seed):
    """Adds zero-centred Gaussian noise of standard deviation `stddev`.

    Args:
        inputs: Input tensor.
        stddev: Standard deviation: a float, a scalar tensor or a variable.
        seed: A `keras.random.SeedGenerator` (or an integer seed).

    Returns:
        The noisy tensor, of the dtype of `inputs`.
    """
    noise = keras.random.normal(ops.shape(inputs), seed=seed, dtype="float32")
    noise = ops.cast(stddev, "float32") * noise
    return ops.add(inputs, ops.cast(noise, inputs.dtype))


@keras.saving.register_keras_serializable(package="kerasdrop")
class ScheduledGaussianNoise(
    RebuiltByOwnerState, RateMixin, keras.layers.Layer
):
    """Additive zero-centred Gaussian noise, with a schedulable stddev.

    At a fixed `stddev` this layer computes what `keras.layers.GaussianNoise`
    computes: during training it adds noise drawn from a normal distribution
    of mean 0 and standard deviation `stddev`; at inference it returns its
    input untouched. The standard deviation is a non-trainable variable, so
    `layer.stddev = 0.05` or `kerasdrop.callbacks.DropoutScheduler` changes
    it inside an already-compiled `fit` without tracing again (the
    scheduler finds it under the name `"stddev"`). Like Keras's layer, it
    takes a `stddev` between 0 and 1.

    Args:
        stddev: Float between 0 and 1, the standard deviation of the noise.
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
        >>> layer = kerasdrop.ScheduledGaussianNoise(0.1, seed=0)
        >>> x = np.ones((2, 4), dtype="float32")
        >>> print(keras.ops.shape(layer(x, training=True)))
        (2, 4)
        >>> layer.stddev = 0.0
        >>> print(keras.ops.convert_to_numpy(layer(x, training=True)))
        [[1. 1. 1. 1.]
         [1. 1. 1. 1.]]
    """

    stddev = Rate("Standard deviation of the noise, in [0, 1]; assignable.")

    def __init__(self, stddev, seed=None, **kwargs):
        validate_rate(stddev, "stddev")
        super().__init__(**kwargs)
        self.stddev = stddev
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        # Built at construction, like its Keras twin (`stateless_call` on a
        # fresh layer).
        _compat.build_at_init(self)

    def call(self, inputs, training=False):
        if not training:
            return inputs
        return gaussian_noise(
            inputs, self.dropout_rates["stddev"], self.seed_generator
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {"stddev": self.stddev, "seed": self.seed}
        return {**super().get_config(), **config}
