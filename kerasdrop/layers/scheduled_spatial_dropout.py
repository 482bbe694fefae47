"""Spatial (channel-wise) dropout with a schedulable rate.

Reference: Tompson et al., 2015, "Efficient Object Localization Using
Convolutional Networks".
"""

import keras

from kerasdrop.layers.scheduled_dropout import ScheduledDropout


def _standardize_data_format(data_format):
    if data_format is None:
        data_format = keras.config.image_data_format()
    data_format = str(data_format).lower()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            "Invalid value received for argument `data_format`. Expected "
            "'channels_last' or 'channels_first'. "
            f"Received: data_format={data_format}"
        )
    return data_format


class _ScheduledSpatialDropout(ScheduledDropout):
    """Drops whole channels: one mask entry per sample and channel."""

    rank = None
    _takes_noise_shape = False

    def __init__(self, rate, seed=None, data_format=None, **kwargs):
        data_format = _standardize_data_format(data_format)
        super().__init__(rate, seed=seed, **kwargs)
        self.data_format = data_format
        self.input_spec = keras.layers.InputSpec(ndim=self.rank + 2)

    def _get_noise_shape(self, inputs):
        # None takes the input's size: one mask entry per sample and channel.
        if self.data_format == "channels_last":
            return (None,) + (1,) * self.rank + (None,)
        return (None, None) + (1,) * self.rank

    def get_config(self):
        config = super().get_config()
        config.pop("noise_shape")
        return {**config, "data_format": self.data_format}


@keras.saving.register_keras_serializable(package="kerasdrop")
class ScheduledSpatialDropout1D(_ScheduledSpatialDropout):
    """Spatial 1D dropout with a schedulable rate: drops whole channels.

    Like `keras.layers.SpatialDropout1D`, but the rate is a variable that
    `layer.rate = ...` or `kerasdrop.callbacks.DropoutScheduler` changes
    during `fit` without tracing again. See `kerasdrop.ScheduledDropout`.

    Reference: Tompson et al., 2015, "Efficient Object Localization Using
    Convolutional Networks".

    Args:
        rate: Float between 0 and 1. Fraction of the channels to drop.
        seed: Python integer, the random seed.
        data_format: `"channels_last"` (`(batch, steps, channels)`) or
            `"channels_first"` (`(batch, channels, steps)`). Defaults to
            `keras.config.image_data_format()`.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: A 3D tensor.
        training: Python boolean: drop channels or return the input.

    Input shape:
        3D tensor.

    Output shape:
        Same as the input.

    Examples:
        >>> layer = kerasdrop.ScheduledSpatialDropout1D(0.5, seed=0)
        >>> y = layer(keras.ops.ones((2, 5, 3)), training=True)
        >>> print(keras.ops.shape(y))
        (2, 5, 3)
    """

    rank = 1


@keras.saving.register_keras_serializable(package="kerasdrop")
class ScheduledSpatialDropout2D(_ScheduledSpatialDropout):
    """Spatial 2D dropout with a schedulable rate: drops whole feature maps.

    Like `keras.layers.SpatialDropout2D`, but the rate is a variable that
    `layer.rate = ...` or `kerasdrop.callbacks.DropoutScheduler` changes
    during `fit` without tracing again. See `kerasdrop.ScheduledDropout`.

    Reference: Tompson et al., 2015, "Efficient Object Localization Using
    Convolutional Networks".

    Args:
        rate: Float between 0 and 1. Fraction of the channels to drop.
        seed: Python integer, the random seed.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `keras.config.image_data_format()`.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: A 4D tensor.
        training: Python boolean: drop channels or return the input.

    Input shape:
        4D tensor.

    Output shape:
        Same as the input.

    Examples:
        >>> layer = kerasdrop.ScheduledSpatialDropout2D(0.5, seed=0)
        >>> y = layer(keras.ops.ones((2, 4, 4, 3)), training=True)
        >>> print(keras.ops.shape(y))
        (2, 4, 4, 3)
    """

    rank = 2


@keras.saving.register_keras_serializable(package="kerasdrop")
class ScheduledSpatialDropout3D(_ScheduledSpatialDropout):
    """Spatial 3D dropout with a schedulable rate: drops whole feature maps.

    Like `keras.layers.SpatialDropout3D`, but the rate is a variable that
    `layer.rate = ...` or `kerasdrop.callbacks.DropoutScheduler` changes
    during `fit` without tracing again. See `kerasdrop.ScheduledDropout`.

    Reference: Tompson et al., 2015, "Efficient Object Localization Using
    Convolutional Networks".

    Args:
        rate: Float between 0 and 1. Fraction of the channels to drop.
        seed: Python integer, the random seed.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `keras.config.image_data_format()`.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: A 5D tensor.
        training: Python boolean: drop channels or return the input.

    Input shape:
        5D tensor.

    Output shape:
        Same as the input.

    Examples:
        >>> layer = kerasdrop.ScheduledSpatialDropout3D(0.5, seed=0)
        >>> y = layer(keras.ops.ones((2, 3, 3, 3, 4)), training=True)
        >>> print(keras.ops.shape(y))
        (2, 3, 3, 3, 4)
    """

    rank = 3
