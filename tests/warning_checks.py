"""`no_warnings()`: a block that must warn nothing, on every backend."""

import contextlib
import warnings


@contextlib.contextmanager
def no_warnings():
    """Turns every warning raised in the block into an error.

    Except one that Keras's torch backend raises in any conversion of a
    tensor to NumPy (`keras.ops.convert_to_numpy` calls `np.array(tensor)`,
    and torch's `Tensor.__array__` takes no `copy` argument, which NumPy 2
    deprecates): a warning of Keras and torch, not of the code under test.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings(
            "ignore",
            message="__array__ implementation doesn't accept a copy keyword",
            category=DeprecationWarning,
        )
        yield
