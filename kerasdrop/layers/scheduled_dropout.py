"""Dropout whose rate can change while a compiled model trains."""

import keras

from kerasdrop import _compat
from kerasdrop.layers._saving import RebuiltByOwnerState
from kerasdrop.layers.masks import dropout
from kerasdrop.layers.masks import validate_noise_shape
from kerasdrop.layers.rates import Rate
from kerasdrop.layers.rates import RateMixin
from kerasdrop.layers.rates import validate_rate


@keras.saving.register_keras_serializable(package="kerasdrop")
class ScheduledDropout(RebuiltByOwnerState, RateMixin, keras.layers.Layer):
    """Applies dropout to the input, with a rate that can change during `fit`.

    At a fixed rate this layer behaves like `keras.layers.Dropout`: during
    training it sets each input unit to 0 with probability `rate` and scales
    the others by `1 / (1 - rate)`; at inference it returns its input
    untouched. Unlike Keras's layer, the rate is a non-trainable variable, so
    `layer.rate = 0.2` (or `kerasdrop.callbacks.DropoutScheduler`) changes it
    inside an already-compiled `fit` or `predict` without tracing again. A
    layer created at rate 0 can be raised later, and rate 1 gives zeros.

    Reference: Srivastava et al., 2014, "Dropout: A Simple Way to Prevent
    Neural Networks from Overfitting".

    Args:
        rate: Float between 0 and 1. Fraction of the input units to drop.
        noise_shape: Tuple of ints or `None`s: the shape of the binary mask
            multiplied with the input, `None` meaning the input's size. For
            inputs of shape `(batch, timesteps, features)`, use
            `(None, 1, None)` for the same mask at every time step.
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
        >>> import numpy as np
        >>> layer = kerasdrop.ScheduledDropout(0.5, seed=0)
        >>> x = np.ones((2, 4), dtype="float32")
        >>> print(keras.ops.shape(layer(x, training=True)))
        (2, 4)
        >>> layer.rate = 0.0
        >>> print(keras.ops.convert_to_numpy(layer(x, training=True)))
        [[1. 1. 1. 1.]
         [1. 1. 1. 1.]]
    """

    rate = Rate("Current dropout rate, a float in [0, 1]; assignable.")
    # False in subclasses that set the shape of their mask themselves.
    _takes_noise_shape = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        validate_rate(rate, "rate")
        name = type(self).__name__
        if noise_shape is not None and not self._takes_noise_shape:
            raise TypeError(
                f"Invalid keyword argument for {name}: `noise_shape`. "
                f"{name} sets the shape of its mask itself. "
                f"Received: noise_shape={noise_shape!r}"
            )
        noise_shape = validate_noise_shape(noise_shape)
        super().__init__(**kwargs)
        self.rate = rate
        self.noise_shape = noise_shape
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        # Built at construction, like Keras's Dropout: there is nothing
        # shape-dependent to create, and `stateless_call` needs it.
        _compat.build_at_init(self)

    def _get_noise_shape(self, inputs):
        return self.noise_shape

    def call(self, inputs, training=False):
        if not training:
            return inputs
        return dropout(
            inputs,
            self.dropout_rates["rate"],
            noise_shape=self._get_noise_shape(inputs),
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
