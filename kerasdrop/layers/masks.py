"""Masks for dropout whose rate is a variable.

`keras.random.dropout` only accepts a Python float rate. These functions take
the rate as a float, a tensor or a variable, so a compiled step that reads a
rate variable picks up every new value without being traced again. Kept units
are scaled by `1 / (1 - rate)` (inverted dropout) and a rate of 1 gives zeros,
not NaN.
"""

import numbers

import keras
from keras import ops


def dropout_mask(shape, rate, seed, dtype="float32"):
    """Draws an inverted-dropout mask: `0` or `1 / (1 - rate)` per entry.

    Args:
        shape: Shape of the mask (may hold symbolic dimensions).
        rate: Probability of dropping each entry: a float, a scalar tensor or
            a scalar variable.
        seed: A `keras.random.SeedGenerator` (or an integer seed).
        dtype: Dtype of the returned mask.

    Returns:
        A tensor of `shape` whose entries are `0` with probability `rate` and
        `1 / (1 - rate)` otherwise, so its expectation is 1.

    Examples:
        >>> import keras
        >>> mask = dropout_mask((2, 3), 0.0, keras.random.SeedGenerator(1))
        >>> print(keras.ops.convert_to_numpy(mask))
        [[1. 1. 1.]
         [1. 1. 1.]]
    """
    rate = ops.cast(rate, "float32")
    noise = keras.random.uniform(shape, seed=seed, dtype="float32")
    # noise lies in [0, 1): it is >= rate with probability 1 - rate, and never
    # when rate is 1. divide_no_nan makes the scale 0, not inf, at rate 1.
    keep = ops.cast(ops.greater_equal(noise, rate), "float32")
    mask = keep * ops.divide_no_nan(1.0, 1.0 - rate)
    return ops.cast(mask, dtype)


def concrete_noise_shape(inputs, noise_shape):
    """Fills the `None` entries of `noise_shape` from the shape of `inputs`.

    A fixed entry other than 1 must equal the input's size on its axis. When
    that size is only known at run time (an unknown batch size in a traced
    TensorFlow step), the check runs with the step, so a batch of another
    size fails with the same message instead of broadcasting.

    Raises:
        ValueError: if `noise_shape` has the wrong rank, or a fixed entry is
            neither 1 nor the input's size along that axis (at run time on
            TensorFlow, an `InvalidArgumentError` with the same message).
    """
    input_shape = ops.shape(inputs)
    if noise_shape is None:
        return input_shape
    if len(noise_shape) != len(input_shape):
        raise ValueError(
            "Invalid value received for argument `noise_shape`. Expected a "
            f"shape of rank {len(input_shape)} to match the inputs of shape "
            f"{tuple(inputs.shape)}. Received: noise_shape={noise_shape}"
        )
    shape = []
    for axis, (dim, size) in enumerate(zip(noise_shape, input_shape)):
        if dim is None:
            shape.append(size)
            continue
        if dim == 1:
            shape.append(dim)
            continue
        message = (
            "Invalid value received for argument `noise_shape`. Each "
            "entry must be None, 1 or the input's size on that axis; "
            f"axis {axis} has size {{}} in inputs of shape "
            f"{tuple(inputs.shape)}. Received: noise_shape={noise_shape}"
        )
        if isinstance(size, int):
            if dim != size:
                raise ValueError(message.format(size))
            shape.append(dim)
            continue
        # A size known only when the step runs: the mask takes it, after a
        # check that it is `dim` (broadcasting would hide a mismatch).
        message = message.format(f"other than {dim} at run time")
        shape.append(_checked_size(size, dim, message))
    return tuple(shape)


def _checked_size(size, expected, message):
    """`size` (a symbolic scalar), checked to equal `expected` at run time.

    Only TensorFlow traces with sizes unknown until run time; JAX traces
    with static shapes, which `concrete_noise_shape` checks directly.
    """
    if keras.backend.backend() != "tensorflow":
        return size
    import tensorflow as tf

    expected = tf.constant(expected, size.dtype)
    check = tf.debugging.assert_equal(size, expected, message=message)
    with tf.control_dependencies([check]):
        return tf.identity(size)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Inverted dropout with a rate that may be a variable.

    Args:
        inputs: Input tensor.
        rate: Probability of dropping each unit (float, tensor or variable).
        noise_shape: Shape of the mask, broadcast against `inputs`; `None`
            entries take the input's size. Defaults to the input's shape.
        seed: A `keras.random.SeedGenerator` (or an integer seed).

    Returns:
        `inputs * mask`, with the mask drawn by `dropout_mask`.

    Examples:
        >>> import keras
        >>> x = keras.ops.ones((4, 8))
        >>> y = dropout(x, 1.0, seed=keras.random.SeedGenerator(0))
        >>> float(keras.ops.sum(y))
        0.0
    """
    shape = concrete_noise_shape(inputs, noise_shape)
    # ops.multiply, not `*`: NumPy's `*` does not defer to a torch tensor.
    mask = dropout_mask(shape, rate, seed, dtype=inputs.dtype)
    return ops.multiply(inputs, mask)


def validate_noise_shape(noise_shape):
    """Returns `noise_shape` as a tuple of positive ints and `None`s.

    Raises:
        ValueError: if `noise_shape` is not such a sequence.
    """
    if noise_shape is None:
        return None
    message = (
        "Invalid value received for argument `noise_shape`. Expected a "
        "tuple of positive integers or None. "
        f"Received: noise_shape={noise_shape!r}"
    )
    if isinstance(noise_shape, (str, bytes)):
        raise ValueError(message)
    try:
        noise_shape = tuple(noise_shape)
    except TypeError:
        raise ValueError(message) from None
    for dim in noise_shape:
        if dim is None:
            continue
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            raise ValueError(message)
        if dim <= 0:
            raise ValueError(message)
    return tuple(None if dim is None else int(dim) for dim in noise_shape)
