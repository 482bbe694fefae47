"""DropBlock: drops contiguous blocks of convolutional feature maps.

Units of a convolutional feature map are spatially correlated, so dropping
them one by one (`Dropout`) lets the information through from their
neighbours. DropBlock drops square (or rectangular) blocks instead: it draws
block centres ("seeds") with probability `gamma` among the positions where a
whole block fits inside the map, and zeroes the block around each seed. The
kept units are scaled by the fraction of the units kept, so the expected sum
is unchanged.

References:
    - Ghiasi, Lin and Le, 2018, "DropBlock: A regularization method for
      convolutional networks".
    - timm's `drop_block_2d` (Wightman, pytorch-image-models), for the
      positions where a block may start and the normalisation.
"""

import numbers

import keras
from keras import ops

from kerasdrop.layers.rates import Rate
from kerasdrop.layers.rates import RateMixin
from kerasdrop.layers.rates import validate_rate
from kerasdrop.layers.scheduled_spatial_dropout import _standardize_data_format


def validate_block_size(block_size):
    """Returns `block_size` as a `(height, width)` pair of positive ints.

    Raises:
        ValueError: if `block_size` is not a positive int or a pair of them.
    """
    message = (
        "Invalid value received for argument `block_size`. Expected a "
        "positive integer or a tuple of two positive integers (height, "
        f"width). Received: block_size={block_size!r}"
    )
    if isinstance(block_size, numbers.Integral) and not isinstance(
        block_size, bool
    ):
        block_size = (block_size, block_size)
    try:
        block_size = tuple(block_size)
    except TypeError:
        raise ValueError(message) from None
    if len(block_size) != 2 or not all(
        isinstance(size, numbers.Integral)
        and not isinstance(size, bool)
        and size > 0
        for size in block_size
    ):
        raise ValueError(message)
    return tuple(int(size) for size in block_size)


def _clipped(size, extent):
    """`min(size, extent)` when the extent is known while tracing."""
    return min(size, extent) if isinstance(extent, int) else size


def drop_block_gamma(rate, height, width, block_height, block_width):
    """The probability of a seed, from the fraction of units to drop.

    Equation (1) of Ghiasi et al. (2018), for rectangular blocks and maps:
    `gamma = rate / (block_height * block_width) * height * width /
    ((height - block_height + 1) * (width - block_width + 1))`. Blocks of
    neighbouring seeds may overlap, so slightly fewer than `rate` of the
    units are dropped (see `DropBlock2D`).

    Args:
        rate: Fraction of the units to drop (float, tensor or variable).
        height: Height of the feature map.
        width: Width of the feature map.
        block_height: Height of a block, at most `height`.
        block_width: Width of a block, at most `width`.

    Returns:
        `gamma`, a float32 scalar tensor (0 when no block fits).

    Examples:
        >>> gamma = drop_block_gamma(0.1, 14, 14, 7, 7)
        >>> round(float(gamma), 5)
        0.00625
    """
    rate = ops.cast(rate, "float32")
    area = ops.cast(height * width, "float32")
    block_area = ops.cast(block_height * block_width, "float32")
    positions = ops.cast(
        ops.maximum(height - block_height + 1, 0)
        * ops.maximum(width - block_width + 1, 0),
        "float32",
    )
    return ops.divide_no_nan(rate * area, block_area * positions)


def drop_block_mask(shape, rate, block_size, seed, couple_channels=False):
    """Draws a DropBlock keep-mask for a channels-last feature map.

    Each sample and channel gets its own mask (each sample one mask for
    all its channels with `couple_channels=True`). Seeds are drawn with
    probability `drop_block_gamma(...)`, only where the whole block lies
    inside the map (as timm's `drop_block_2d`), and each seed zeroes the
    block of `block_size` units whose top-left corner is
    `block_size // 2` above and left of it. A block larger than the map is
    clipped to the map's height and width (when they are known while
    tracing; otherwise such a map is left whole).

    Args:
        shape: `(batch, height, width, channels)`.
        rate: Fraction of the units to drop (float, tensor or variable).
        block_size: Int or `(height, width)` of a block.
        seed: A `keras.random.SeedGenerator` (or an integer seed).
        couple_channels: If `True`, one mask per sample, the same for all
            its channels (`channels` in the result is 1): the random
            numbers and the pooling shrink by the channel count.

    Returns:
        A float32 tensor of `shape` (of `(batch, height, width, 1)` with
        `couple_channels=True`): 1 for kept units, 0 for dropped ones.

    Examples:
        >>> mask = drop_block_mask((1, 6, 6, 1), 0.0, 3, seed=0)
        >>> float(keras.ops.sum(mask))
        36.0
        >>> mask = drop_block_mask((1, 6, 6, 1), 1.0, 1, seed=0)
        >>> float(keras.ops.sum(mask))  # 1x1 blocks: gamma is the rate.
        0.0
        >>> mask = drop_block_mask((2, 6, 6, 8), 0.3, 3, 0, True)
        >>> print(tuple(mask.shape))
        (2, 6, 6, 1)
    """
    block_height, block_width = validate_block_size(block_size)
    batch, height, width, channels = shape
    if couple_channels:
        channels = 1
    block_height = _clipped(block_height, height)
    block_width = _clipped(block_width, width)
    gamma = drop_block_gamma(rate, height, width, block_height, block_width)
    # Positions where a whole block fits: the block of a seed at row i
    # spans rows i - block_height // 2 ... i + (block_height - 1) // 2.
    before = (block_height // 2, block_width // 2)
    after = ((block_height - 1) // 2, (block_width - 1) // 2)
    if isinstance(height, int) and isinstance(width, int):
        # Only those positions draw (a 5x5 block on a 32x32 map: 77% of
        # the numbers), and the seeds are padded with zeros to the map.
        noise = keras.random.uniform(
            (
                batch,
                height - before[0] - after[0],
                width - before[1] - after[1],
                channels,
            ),
            seed=seed,
            dtype="float32",
        )
        seeds = ops.cast(ops.less(noise, gamma), "float32")
        seeds = ops.pad(
            seeds,
            ((0, 0), (before[0], after[0]), (before[1], after[1]), (0, 0)),
        )
    else:
        # A size known only at run time: every position draws, and the
        # threshold is 0 where no block fits, which no draw in [0, 1) is
        # below (a map smaller than the block stays whole).
        rows = ops.arange(height)[:, None]
        columns = ops.arange(width)[None, :]
        valid = ops.logical_and(
            ops.logical_and(rows >= before[0], rows < height - after[0]),
            ops.logical_and(columns >= before[1], columns < width - after[1]),
        )
        threshold = ops.where(valid, gamma, 0.0)[None, :, :, None]
        noise = keras.random.uniform(
            (batch, height, width, channels), seed=seed, dtype="float32"
        )
        seeds = ops.cast(ops.less(noise, threshold), "float32")
    # A max over the block around each position spreads every seed over
    # its block; "same" padding puts (k - 1) // 2 before and k // 2 after,
    # which matches the span above for odd and even sizes. The max over a
    # rectangle is the max over its columns of the max over its rows: two
    # one-dimensional pools do block_height + block_width comparisons per
    # unit where one two-dimensional pool does their product.
    dropped = seeds
    for pool_size in ((block_height, 1), (1, block_width)):
        if pool_size != (1, 1):
            dropped = ops.max_pool(
                dropped,
                pool_size=pool_size,
                strides=1,
                padding="same",
                data_format="channels_last",
            )
    return 1.0 - dropped


def drop_block_2d(
    inputs, rate, block_size, seed, data_format=None, couple_channels=False
):
    """DropBlock on a batch of 2D feature maps.

    Args:
        inputs: A 4D tensor.
        rate: Fraction of the units to drop (float, tensor or variable).
        block_size: Int or `(height, width)` of a block.
        seed: A `keras.random.SeedGenerator` (or an integer seed).
        data_format: `"channels_last"` or `"channels_first"`; defaults to
            `keras.config.image_data_format()`.
        couple_channels: If `True`, each sample drops the same blocks in
            all its channels (see `DropBlock2D`).

    Returns:
        `inputs` with the dropped blocks zeroed and the rest scaled by
        `count / count_kept` over the whole batch (Ghiasi et al., 2018,
        Algorithm 1), so the expected sum is unchanged. Zeros if every unit
        is dropped.

    Examples:
        >>> x = keras.ops.ones((2, 8, 8, 3))
        >>> y = drop_block_2d(x, 0.2, 3, keras.random.SeedGenerator(0))
        >>> round(float(keras.ops.mean(y)), 4)
        1.0
    """
    data_format = _standardize_data_format(data_format)
    shape = ops.shape(inputs)
    if data_format == "channels_first":
        batch, channels, height, width = shape
        shape = (batch, height, width, channels)
    keep = drop_block_mask(shape, rate, block_size, seed, couple_channels)
    if data_format == "channels_first":
        keep = ops.transpose(keep, (0, 3, 1, 2))
    count = ops.cast(ops.size(keep), "float32")
    scale = ops.divide_no_nan(count, ops.sum(keep))
    return ops.multiply(inputs, ops.cast(keep * scale, inputs.dtype))


@keras.saving.register_keras_serializable(package="kerasdrop")
class DropBlock2D(RateMixin, keras.layers.Layer):
    """DropBlock: drops contiguous blocks of 2D feature maps, schedulably.

    During training, each sample and channel of the feature map loses
    square blocks of `block_size` units: block centres are drawn with the
    probability `gamma` of Ghiasi et al. (2018, Eq. 1), computed from
    `rate`, the fraction of units to drop, only where a whole block fits in
    the map (as in timm's `drop_block_2d`). The kept units are scaled by the
    fraction of the batch's units kept, so the expected sum is unchanged. At
    inference the layer returns its input.

    The rate is a variable, as in every kerasdrop layer: `layer.rate = 0.1`
    or `kerasdrop.callbacks.DropoutScheduler` changes it during `fit`
    without tracing again, which is how the paper trains (the rate rises
    linearly from 0). `kerasdrop.layers.depth_rates` gives rates that rise
    with depth for a stack of these layers.

    `rate` is the fraction the paper's `gamma` aims at. Blocks of nearby
    seeds may overlap, so the fraction actually dropped is a little lower:
    for example 0.093 at rate 0.1 and 0.243 at rate 0.3 for 7x7 blocks on
    14x14 maps (see the layer's tests), and even at rate 1 some units may
    stay. Units near the edges are covered by fewer possible blocks, so
    they are dropped less often than central ones. Non-square maps and
    blocks work: each side of the block is clipped to the map's side.

    Reference: Ghiasi, Lin and Le, 2018, "DropBlock: A regularization
    method for convolutional networks".

    Args:
        rate: Float between 0 and 1. Fraction of the units to drop.
        block_size: Int, or tuple of two ints `(height, width)`: the size
            of a dropped block. The paper uses 7 on ResNet-50's last two
            stages.
        seed: Python integer, the random seed.
        data_format: `"channels_last"` (`(batch, height, width, channels)`)
            or `"channels_first"` (`(batch, channels, height, width)`).
            Defaults to `keras.config.image_data_format()`.
        couple_channels: Boolean, default `False`: each channel of a
            sample draws its own blocks, as in the paper. With `True`,
            each sample draws one set of blocks and drops it in all its
            channels (timm's `couple_channels`): whole regions of the
            image vanish from every feature map at once, a stronger
            regularizer at the same rate, for a channel-count fraction of
            the random numbers and pooling.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A 4D tensor.
        training: Python boolean: drop blocks (`True`) or return the input
            unchanged (`False`, the default).

    Input shape:
        4D tensor.

    Output shape:
        Same as the input.

    Examples:
        >>> layer = kerasdrop.DropBlock2D(0.2, block_size=3, seed=0)
        >>> x = np.ones((2, 6, 6, 4), dtype="float32")
        >>> y = keras.ops.convert_to_numpy(layer(x, training=True))
        >>> print(y.shape)
        (2, 6, 6, 4)
        >>> # Kept units are scaled by the inverse of the kept fraction.
        >>> bool(np.allclose(y.mean(), 1.0))
        True
        >>> bool(keras.ops.all(layer(x) == x))  # inference: the input
        True
        >>> layer.rate = 0.0
        >>> bool(keras.ops.all(layer(x, training=True) == x))
        True
    """

    rate = Rate("Current fraction of units to drop, in [0, 1]; assignable.")

    def __init__(
        self,
        rate,
        block_size=7,
        seed=None,
        data_format=None,
        couple_channels=False,
        **kwargs,
    ):
        validate_rate(rate, "rate")
        block_size = validate_block_size(block_size)
        data_format = _standardize_data_format(data_format)
        super().__init__(**kwargs)
        self.rate = rate
        self.block_size = block_size
        self.seed = seed
        self.data_format = data_format
        self.couple_channels = bool(couple_channels)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def call(self, inputs, training=False):
        if not training:
            return inputs
        return drop_block_2d(
            inputs,
            self.dropout_rates["rate"],
            self.block_size,
            self.seed_generator,
            data_format=self.data_format,
            couple_channels=self.couple_channels,
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {
            "rate": self.rate,
            "block_size": self.block_size,
            "seed": self.seed,
            "data_format": self.data_format,
            "couple_channels": self.couple_channels,
        }
        return {**super().get_config(), **config}
