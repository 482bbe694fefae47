"""A fixed probe batch, read from any of the data forms `fit` takes.

Measurements that compare the same rows from epoch to epoch (the
co-adaptation measures of `CoAdaptationMonitor`) need a probe: NumPy arrays
read once, of at most `max_samples` rows. `read_probe` takes what `fit` and
`validation_data` take — arrays or tensors (or lists or dicts of them), an
`(x, y)` or `(x, y, sample_weight)` tuple, a batched `tf.data.Dataset` or a
`keras.utils.PyDataset` — and refuses a generator or iterator, which
reading would use up. Every error names the caller and the argument.
"""

import collections.abc
import sys

import keras
import numpy as np
from keras import ops

from kerasdrop.analysis import _graph


def read_probe(x, y=None, max_samples=512, seed=0, caller="read_probe"):
    """The probe `(x, y)` as NumPy arrays of at most `max_samples` rows.

    Args:
        x: Probe inputs, in the forms `fit` takes (see the module).
        y: Probe targets, or `None` (taken from `x` when it is a tuple or
            a dataset).
        max_samples: If `x` has more rows, a fixed random subset of this
            many rows (the first rows of a dataset); `None` keeps every row.
        seed: Seed of the random subset.
        caller: The name that error messages start with.

    Returns:
        `(x, y)`: NumPy arrays (or lists or dicts of them, as `x` holds
        them), `y` `None` if no targets were given.

    Examples:
        >>> x, y = read_probe((np.ones((10, 3)), np.zeros(10)), max_samples=4)
        >>> x.shape, y.shape
        ((4, 3), (4,))
    """
    x, y = _read_probe(x, y, max_samples, caller)
    return _probe(x, y, max_samples, seed)


def check_probe_fits(model, x, caller="check_probe_fits"):
    """Raises a clear `ValueError` if probe `x` does not match the model's
    inputs (how many arrays, and the shape of each after its rows)."""
    _check_probe_fits(model, x, caller)


def describe(x):
    """The shapes of the arrays of probe `x`, for messages."""
    return _describe(x)


def _probe(x, y, max_samples, seed):
    """Keeps a fixed random subset of `max_samples` rows of `x` and `y`."""
    num_rows = _graph.count_rows(x)
    if max_samples is None or num_rows <= max_samples:
        return x, y
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(num_rows, max_samples, replace=False))

    def take(array):
        return ops.convert_to_numpy(ops.take(array, rows, axis=0))

    y = None if y is None else keras.tree.map_structure(take, y)
    return keras.tree.map_structure(take, x), y


_PROBE_FORMS = (
    "a NumPy array or tensor with rows first (or a list or dict of them, "
    "one per model input), an `(x, y)` or `(x, y, sample_weight)` tuple, a "
    "batched `tf.data.Dataset` or a `keras.utils.PyDataset`"
)


def _is_tf_dataset(data):
    # Only a program that imported TensorFlow can hold one of its datasets.
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(data, tf.data.Dataset)


def _read_probe(x, y, max_samples, caller):
    """Probe `(x, y)` as NumPy arrays, from the data forms `fit` takes.

    Datasets give their first `max_samples` rows; `(x, y[, w])` tuples are
    unpacked. Every error names the monitor and the argument.
    """
    if _is_tf_dataset(x) or isinstance(x, keras.utils.PyDataset):
        if y is not None:
            raise ValueError(
                f"{caller}: `y` must not be given with a dataset "
                "`x`: the dataset's `(x, y)` elements hold the targets."
            )
        x, y = _take_rows(x, max_samples, caller)
    elif isinstance(x, tuple) and y is None and len(x) in (2, 3):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(x)
    x = _as_arrays(x, "x", caller)
    y = None if y is None else _as_arrays(y, "y", caller)
    rows = {
        f"{name}{_path(path)}": array.shape[0]
        for name, data in (("x", x), ("y", y))
        if data is not None
        for path, array in _flatten_with_paths(data)
    }
    if len(set(rows.values())) > 1:
        raise ValueError(
            f"{caller}: every array of the probe `x` (and `y`) "
            f"must have the same number of rows. Received rows: {rows}"
        )
    num_rows = next(iter(rows.values()))
    if num_rows < 2:
        raise ValueError(
            f"{caller}: invalid value received for argument `x`. "
            "Expected probe data with at least 2 rows, since the measures "
            f"compare samples. Received: {num_rows} rows"
        )
    return x, y


def _take_rows(dataset, max_samples, caller):
    """The first `max_samples` rows of a batched dataset, as `(x, y)`."""
    if _is_tf_dataset(dataset):
        import tensorflow as tf

        endless = dataset.cardinality() == tf.data.INFINITE_CARDINALITY
        batches = dataset.as_numpy_iterator()
    else:
        endless = dataset.num_batches is None
        count = dataset.num_batches
        batches = (
            dataset[index]
            for index in (
                range(count) if count is not None else _count_forever()
            )
        )
    if endless and max_samples is None:
        raise ValueError(
            f"{caller}: the dataset `x` is endless (repeated), "
            "so `max_samples=None` (every row) cannot be read. Pass "
            "`max_samples`."
        )
    xs, ys, rows = [], [], 0
    for batch in batches:
        batch_x, batch_y, _ = keras.utils.unpack_x_y_sample_weight(batch)
        xs.append(_as_arrays(batch_x, "x", caller))
        ys.append(None if batch_y is None else _as_arrays(batch_y, "y", caller))
        rows += _graph.count_rows(xs[-1])
        if max_samples is not None and rows >= max_samples:
            break
    if not xs:
        raise ValueError(f"{caller}: the dataset `x` is empty.")
    limit = rows if max_samples is None else max_samples

    def join(*parts):
        return np.concatenate(parts)[:limit]

    x = keras.tree.map_structure(join, *xs)
    y = None if ys[0] is None else keras.tree.map_structure(join, *ys)
    return x, y


def _count_forever():
    index = 0
    while True:
        yield index
        index += 1


def _as_arrays(data, name, caller):
    """`data` (an array, tensor, or a list or dict of them) as NumPy."""
    if isinstance(data, (str, bytes)) or data is None:
        raise TypeError(
            f"{caller}: invalid type received for argument "
            f"`{name}`. Expected {_PROBE_FORMS}. Received: {name} of type "
            f"{type(data).__name__}"
        )
    if isinstance(data, collections.abc.Iterator):
        raise TypeError(
            f"{caller}: `{name}` is a generator or iterator, "
            "which reading the probe would use up. Pass "
            f"{_PROBE_FORMS}."
        )
    if isinstance(data, dict):
        return {
            key: _as_array(value, name, caller) for key, value in data.items()
        }
    if isinstance(data, (list, tuple)):
        leaves = keras.tree.flatten(data)
        if leaves and all(
            isinstance(leaf, (int, float, np.number)) for leaf in leaves
        ):
            return _as_array(np.asarray(data), name, caller)  # Rows of numbers.
        arrays = [_as_array(item, name, caller) for item in data]
        return arrays[0] if len(arrays) == 1 else arrays
    return _as_array(data, name, caller)


def _as_array(data, name, caller):
    if isinstance(data, (np.ndarray, np.generic)) or hasattr(data, "__array__"):
        array = np.asarray(data)
    else:
        try:
            array = np.asarray(ops.convert_to_numpy(data))
        except Exception:
            raise TypeError(
                f"{caller}: invalid type received for argument "
                f"`{name}`. Expected {_PROBE_FORMS}. Received: an entry "
                f"of type {type(data).__name__}"
            ) from None
    if array.ndim == 0 or array.dtype.kind not in "biuf":
        raise ValueError(
            f"{caller}: invalid value received for argument "
            f"`{name}`. Expected numeric arrays with rows first. Received: "
            f"an array of shape {array.shape} and dtype {array.dtype}"
        )
    return array


def _flatten_with_paths(data):
    if isinstance(data, dict):
        return [((key,), value) for key, value in data.items()]
    if isinstance(data, (list, tuple)):
        return [((index,), value) for index, value in enumerate(data)]
    return [((), data)]


def _path(path):
    return "".join(f"[{key!r}]" for key in path)


def _describe(x):
    shapes = [
        f"{_path(path) or 'x'}: shape {tuple(array.shape)}"
        for path, array in _flatten_with_paths(x)
    ]
    return ", ".join(shapes)


def _check_probe_fits(model, x, caller):
    """Raises a clear error if the probe does not match the model's inputs."""
    model_input = _graph.model_input(model)
    expected = keras.tree.flatten(model_input)
    given = _flatten_with_paths(x)
    if isinstance(x, dict) and not isinstance(model_input, dict):
        by_name = {tensor.name: tensor for tensor in expected}
        pairs = [
            (path, array, by_name[path[0]])
            for path, array in given
            if path[0] in by_name
        ]
    elif len(given) != len(expected):
        raise ValueError(
            f"{caller}: the probe `x` holds {len(given)} arrays "
            f"({_describe(x)}), but the model '{model.name}' has "
            f"{len(expected)} input(s), of shapes "
            f"{[tuple(tensor.shape) for tensor in expected]}."
        )
    else:
        if isinstance(x, dict):
            given = sorted(given)
        pairs = [
            (path, array, tensor)
            for (path, array), tensor in zip(given, expected)
        ]
    for path, array, tensor in pairs:
        shape, wanted = tuple(array.shape), tuple(tensor.shape)
        if len(shape) != len(wanted) or any(
            size is not None and size != actual
            for actual, size in zip(shape[1:], wanted[1:])
        ):
            raise ValueError(
                f"{caller}: the probe `x{_path(path)}` has shape "
                f"{shape}, but the model '{model.name}' expects inputs of "
                f"shape {wanted}."
            )
