"""A callback that logs co-adaptation measures of chosen layers during `fit`."""

import collections.abc
import math
import sys
import warnings
import weakref

import keras
import numpy as np
from keras import ops

from kerasdrop.analysis import _graph
from kerasdrop.analysis import coadaptation
from kerasdrop.layers.rates import recording
from kerasdrop.models import walk

_ABLATION_MEASURES = ("ablation_area", "interaction")
MEASURES = coadaptation.ACTIVATION_MEASURES + _ABLATION_MEASURES
"""Every measure `CoAdaptationMonitor` can log."""

# The compiled measurement of each model, by watched layers, measures and
# probe shape. Building and compiling one takes tens of milliseconds, as
# much as dozens of measurements, so a new monitor on a model reuses what an
# earlier one built. They share the model's layers (so they read its current
# weights) and go when the model goes.
_COMPILED = weakref.WeakKeyDictionary()


class CoAdaptationMonitor(keras.callbacks.Callback):
    """Logs co-adaptation measures of a model's layers during training.

    At the end of every `every`-th epoch the callback runs a fixed probe
    batch through the model in inference mode, reads the activations of the
    watched layers and writes each measure into `logs` under
    `"coadaptation/<layer name>/<measure>"` (for example
    `"coadaptation/dropout/correlation"`), so History, CSVLogger and
    TensorBoard record it. On the other epochs the keys hold NaN, so every
    epoch has the same keys and History's lists line up with the epochs. Put
    the monitor before `keras.callbacks.CSVLogger` or `TensorBoard` in the
    callback list, so they see its values.

    By default the watched layers are the model's dropout layers (kerasdrop's
    and Keras's among `model.layers`, and kerasdrop's at any depth: inside
    a nested backbone or a subclassed block, such as a converted KerasHub
    transformer, keyed as `DropoutScheduler` keys them), read at their
    *input*: the units that dropout acts on (a feed-forward dropout layer
    is read at its output, which is the same at inference). A layer named
    in `layers` (one of `model.layers`) is read the same way if it is a
    dropout layer, and at its output otherwise. A `UserWarning` names the
    dropout the default leaves out: Keras's nested in other layers
    (`kerasdrop.make_schedulable` converts it), and kerasdrop's run inside
    a loop (an RNN's cell, `TimeDistributed`) or, with an ablation measure,
    below `model.layers`.

    A sub-model that reads the activations of all watched layers and
    computes every measure from them (with `keras.ops`: the covariance, and
    the measures from it) is built and compiled in the first
    `on_train_begin`, and kept for the model: a later monitor on the same
    model, layers, measures and probe shape reuses it. Each measurement is
    then one direct call of the compiled function on the probe (a traced
    `tf.function` on TensorFlow, `jax.jit` on JAX, without
    `predict_on_batch`'s data handling), which returns one short vector of
    the measures. The cost grows as `probe rows × units²` per layer.

    Measures (see `kerasdrop.analysis.coadaptation`):

    - `"correlation"`: mean absolute correlation between distinct units;
    - `"decov"`: the DeCov loss of Cogswell et al. (2016);
    - `"effective_rank"` and `"participation_ratio"` of the covariance;
    - `"sparsity"`: fraction of activations at most 1e-6 in magnitude;
    - `"ablation_area"`: area under the accuracy-ablation curve (Morcos et
      al., 2018; 5 random orders, 11 fractions), needs `y`;
    - `"interaction"`: mean absolute pairwise ablation interaction of 50
      pairs of units, on the compiled loss, needs `y`.

    The default is `"correlation"`, `"decov"`, `"participation_ratio"` and
    `"sparsity"`, which need no eigendecomposition. `"effective_rank"` adds
    one per layer (of the covariance, or of the smaller Gram matrix) to the
    compiled call; the ablation measures run the part of the model after
    each layer on many ablated copies of the probe, so they cost the most.
    A measurement costs a fixed amount (about a millisecond for a hidden
    layer of 128 units on the default 512-row probe, on two CPU cores; the
    first one on a model tens of milliseconds more, as it compiles), so on
    very short epochs use `every` to keep the share of training time small.

    Args:
        x: Probe inputs, fixed for the whole run, in the forms `fit` takes:
            a NumPy array or tensor with rows first (or a list or dict of
            them, one per model input; a nested list of numbers is one
            array); an `(x, y)` or `(x, y, sample_weight)` tuple, as
            `validation_data` (the weights are not used); or a batched
            `tf.data.Dataset` or `keras.utils.PyDataset` whose elements are
            `x`, `(x, y)` or `(x, y, sample_weight)`, of which the first
            `max_samples` rows are read once, when the monitor is made. A
            generator or iterator is refused, since reading it would use it
            up. At most `max_samples` rows are used; the probe must match
            the model's inputs (checked at the start of training).
        y: Probe targets, needed by the ablation measures (taken from `x`
            when it is a tuple or a dataset).
        layers: Names of the layers to watch (or layers); `None` for every
            dropout layer of the model.
        measures: Names of the measures to log.
        every: Measure after every `every` epochs (epochs `every - 1`,
            `2 * every - 1`, ... counting from 0).
        max_samples: If `x` has more rows, a fixed random subset of this
            many rows is the probe (the first rows of a dataset); `None`
            keeps every row. At least 2, since the measures compare rows.
        seed: Seed of the probe subset and of the ablation orders and pairs.
        plot_path: If given, a figure of the measures over the epochs is
            saved there at the end of training (needs matplotlib).

    Attributes:
        history: Dict from `"epoch"` and each log key to the list of values
            at the measured epochs.

    Examples:
        >>> model = keras.Sequential([
        ...     keras.Input((8,)),
        ...     keras.layers.Dense(16, activation="relu"),
        ...     kerasdrop.ScheduledDropout(0.5, name="dropout"),
        ...     keras.layers.Dense(1),
        ... ])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> x, y = np.random.default_rng(0).random((32, 8)), np.ones((32, 1))
        >>> monitor = kerasdrop.callbacks.CoAdaptationMonitor(x[:16])
        >>> history = model.fit(x, y, epochs=2, callbacks=[monitor], verbose=0)
        >>> sorted(key for key in history.history if key.startswith("coad"))
        ['coadaptation/dropout/correlation', 'coadaptation/dropout/decov', 'coadaptation/dropout/participation_ratio', 'coadaptation/dropout/sparsity']
        >>> len(history.history["coadaptation/dropout/correlation"])
        2
    """  # noqa: E501

    def __init__(
        self,
        x,
        y=None,
        layers=None,
        measures=coadaptation.DEFAULT_MEASURES,
        every=1,
        max_samples=512,
        seed=0,
        plot_path=None,
    ):
        super().__init__()
        measures = coadaptation.validate_measures(measures, MEASURES)
        every = _graph.validate_positive_int(every, "every")
        max_samples = _graph.validate_positive_int(
            max_samples, "max_samples", allow_none=True
        )
        if max_samples is not None and max_samples < 2:
            raise ValueError(
                "Invalid value received for argument `max_samples`. "
                "Expected an integer >= 2 or None: the measures compare the "
                f"rows of the probe. Received: max_samples={max_samples}"
            )
        x, y = _read_probe(x, y, max_samples)
        needs_targets = [
            name for name in measures if name in _ABLATION_MEASURES
        ]
        if needs_targets and y is None:
            raise ValueError(
                f"CoAdaptationMonitor: the measures {needs_targets} need "
                "probe targets: pass `y` (or `x` as an `(x, y)` tuple or a "
                "dataset of `(x, y)` batches)."
            )
        if isinstance(layers, (str, keras.layers.Layer)):
            layers = [layers]
        self.layers = None if layers is None else list(layers)
        self.x, self.y = _probe(x, y, max_samples, seed)
        self.measures = measures
        self.every = every
        self.max_samples = max_samples
        self.seed = seed
        self.plot_path = plot_path
        self.history = {}
        self._watched = []
        self._names = []
        self._compiled_keys = []
        self._run = None
        self._probe_tensors = None
        self._built_for = None

    def _resolve_layers(self):
        """The watched layers, and the names their keys use."""
        if self.layers is not None:
            layers = [
                _graph.get_layer(self.model, name) for name in self.layers
            ]
            return layers, [layer.name for layer in layers]
        layers = [
            layer for layer in self.model.layers if walk.is_dropout_layer(layer)
        ]
        names = [layer.name for layer in layers]
        nested, unreachable = _nested_dropout(self.model)
        if nested and self._ablation_measures():
            unreachable += [name for _, name in nested]
            nested = []
        _warn_unwatched_dropout(self.model, unreachable)
        layers += [layer for layer, _ in nested]
        names += [name for _, name in nested]
        if not layers:
            raise ValueError(
                "CoAdaptationMonitor found no dropout layer in the model "
                f"'{self.model.name}' (kerasdrop's at any depth, or Keras's "
                "among its layers). Pass the layers to watch with "
                "`layers=`."
            )
        return layers, names

    def on_train_begin(self, logs=None):
        if self._built_for is not self.model:
            self._build()
        self.history = {"epoch": []}
        for key in self._keys():
            self.history[key] = []

    def _build(self):
        """Builds (or reuses) the compiled function of the measures."""
        _check_probe_fits(self.model, self.x)
        self._watched, self._names = self._resolve_layers()
        cheap = self._cheap_measures()
        self._probe_tensors = _graph.as_tensors(self.x)
        self._compiled_keys = [
            _key(name, measure) for name in self._names for measure in cheap
        ]
        self._run = None
        if cheap:
            key = (
                tuple(self._names),
                cheap,
                str(
                    keras.tree.map_structure(
                        lambda t: (tuple(t.shape), str(t.dtype)),
                        self._probe_tensors,
                    )
                ),
            )
            compiled = _COMPILED.setdefault(self.model, {})
            if key not in compiled:
                # The layers of the model's graph come first in `_watched`,
                # as their measures do in the compiled vector.
                top_level = {id(layer) for layer in self.model.layers}
                graph = [w for w in self._watched if id(w) in top_level]
                nested = [w for w in self._watched if id(w) not in top_level]
                tensors = [_graph.units_tensor(layer) for layer in graph]
                measures = _Measures(cheap)
                if nested:
                    measure_model = _RecordedMeasures(
                        keras.Model(
                            _graph.model_input(self.model),
                            tensors + list(self.model.outputs),
                        ),
                        len(tensors),
                        nested,
                        measures,
                        name="coadaptation_measures",
                    )
                else:
                    measure_model = keras.Model(
                        _graph.model_input(self.model), measures(tensors)
                    )
                try:
                    compiled[key] = _graph.compile_inference(
                        measure_model, self._probe_tensors
                    )
                except Exception as error:
                    raise ValueError(
                        "CoAdaptationMonitor could not run the model "
                        f"'{self.model.name}' on the probe `x` "
                        f"({_describe(self.x)}). Keras said: {error}"
                    ) from error
            self._run = compiled[key]
        self._built_for = self.model

    def _cheap_measures(self):
        return tuple(n for n in self.measures if n not in _ABLATION_MEASURES)

    def _ablation_measures(self):
        return tuple(n for n in self.measures if n in _ABLATION_MEASURES)

    def _keys(self):
        return [
            _key(name, measure)
            for name in self._names
            for measure in self.measures
        ]

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            values = dict.fromkeys(self._keys(), math.nan)
        else:
            values = self.measure()
            self.history["epoch"].append(epoch)
            for key, value in values.items():
                self.history[key].append(value)
        if logs is not None:
            logs.update(values)

    def measure(self):
        """Computes every measure of every watched layer on the probe.

        Returns:
            A dict from log key to a Python float (NaN for a layer whose
            activations are not finite).
        """
        values = {}
        if self._run is not None:
            # On JAX, reading `self.model` writes the trainer's state back
            # to the variables, which the compiled function reads.
            self.model  # noqa: B018
            # One compiled call gives every measure of every layer, as one
            # short vector: one transfer from the device.
            vector = self._run(self._probe_tensors)
            values.update(zip(self._compiled_keys, vector.tolist()))
        for layer, name in zip(self._watched, self._names):
            if "ablation_area" in self.measures:
                curve = coadaptation.ablation_curve(
                    self.model, layer, self.x, self.y, seed=self.seed
                )
                values[_key(name, "ablation_area")] = curve["area"]
            if "interaction" in self.measures:
                interaction = coadaptation.ablation_interaction(
                    self.model, layer, self.x, self.y, seed=self.seed
                )
                values[_key(name, "interaction")] = interaction[
                    "mean_absolute_interaction"
                ]
        return {key: values[key] for key in self._keys()}

    def on_train_end(self, logs=None):
        if self.plot_path is not None and self.history.get("epoch"):
            self.plot(self.plot_path)

    def plot(self, path):
        """Saves a figure of the measures over the epochs to `path`."""
        from matplotlib.figure import Figure

        figure = Figure(figsize=(4 * len(self.measures), 3.2))
        axes = figure.subplots(1, len(self.measures), squeeze=False)[0]
        for axis, measure in zip(axes, self.measures):
            for name in self._names:
                axis.plot(
                    self.history["epoch"],
                    self.history[_key(name, measure)],
                    marker="o",
                    markersize=3,
                    label=name,
                )
            axis.set_title(measure)
            axis.set_xlabel("epoch")
        axes[0].legend(fontsize="small")
        figure.tight_layout()
        figure.savefig(path, dpi=120)


class _Measures(keras.layers.Layer):
    """Computes the measures of each watched tensor, as one vector.

    For each input tensor in turn, the `measures` of
    `coadaptation.measure_tensors`, in their order.
    """

    def __init__(self, measures, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.measures = measures

    def call(self, tensors):
        values = []
        for activations in tensors:
            # Rows of the flattened activations, if the shape says.
            rows = activations.shape[:-1]
            rows = int(np.prod(rows)) if None not in rows else None
            measures = coadaptation.measure_tensors(
                activations, self.measures, num_samples=rows
            )
            values.extend(measures[name] for name in self.measures)
        return ops.stack(values)

    def compute_output_spec(self, tensors):
        # Given directly: tracing `call` symbolically costs tens of ms.
        size = len(tensors) * len(self.measures)
        return keras.KerasTensor((size,), dtype="float32")


class _RecordedMeasures(keras.layers.Layer):
    """The measures of layers in the graph and of layers inside others.

    Runs `graph_model` (the model's input to the units of the
    `num_graph_tensors` watched layers of its graph, then to its outputs,
    so that every layer runs)
    while `recording` reads what the `nested` kerasdrop layers are called
    on and return (their first call), and computes the measures of all of
    them, as `_Measures` does.
    """

    def __init__(
        self, graph_model, num_graph_tensors, nested, measures, **kwargs
    ):
        super().__init__(dtype="float32", **kwargs)
        self.graph_model = graph_model
        self.num_graph_tensors = num_graph_tensors
        self.measures = measures
        # Ids only: the layers are already tracked through `graph_model`.
        self._nested = _Untracked(nested)
        self.built = True

    def call(self, x, training=False):
        nested = self._nested.layers
        with recording(nested) as records:
            outputs = self.graph_model(x, training=False)
        # The units of the graph's watched layers, then the model's outputs.
        tensors = keras.tree.flatten(outputs)[: self.num_graph_tensors]
        for layer in nested:
            if not records[id(layer)]:
                raise ValueError(
                    f"The layer '{layer.name}' is not called when the model "
                    "runs, so it cannot be watched."
                )
            inputs, layer_outputs = records[id(layer)][0]
            tensors.append(
                inputs if _graph.reads_input(layer) else layer_outputs
            )
        return self.measures(tensors)


class _Untracked:
    """Holds layers where Keras does not track them as sublayers."""

    def __init__(self, layers):
        self.layers = list(layers)


def _nested_dropout(model):
    """kerasdrop's dropout layers below `model.layers`, by reach.

    Returns `(nested, unreachable)`: `[(layer, key)]` for the layers that
    `recording` can read in a call of the model (inside nested models and
    subclassed blocks), under the unique keys `DropoutScheduler` logs; and
    the keys of those called inside a loop (an RNN's cell, a layer inside
    `TimeDistributed`), whose activations stay inside the loop.
    """
    top_level = {id(layer) for layer in model.layers}
    in_loops = {
        id(item.layer) for item in walk.walk_layers(model) if item.in_loop
    }
    nested, unreachable = [], []
    for holder in walk.rate_holders(model):
        if id(holder.layer) in top_level:
            continue
        if id(holder.layer) in in_loops:
            unreachable.append(holder.key)
        else:
            nested.append((holder.layer, holder.key))
    return nested, unreachable


def _warn_unwatched_dropout(model, unreachable):
    """Warns about the dropout that the default selection does not watch:
    Keras's dropout nested in other layers (a backbone, a transformer
    block, an attention or recurrent layer), and kerasdrop's that cannot be
    read (`unreachable`)."""
    top_level = {id(layer) for layer in model.layers}
    missed = [
        str(item)
        for item in walk.find_unschedulable_dropout(model)
        if id(item.layer) not in top_level
    ]
    parts = []
    if missed:
        parts.append(
            "this Keras dropout, nested in other layers, is not watched: "
            f"{', '.join(missed)}. `kerasdrop.make_schedulable(model)` "
            "converts it into kerasdrop layers, which the monitor watches "
            "at any depth"
        )
    if unreachable:
        parts.append(
            "this kerasdrop dropout is not watched, since it runs inside a "
            "loop (an RNN's cell, TimeDistributed) or the ablation measures "
            f"need it in the model's graph: {', '.join(unreachable)}"
        )
    if parts:
        warnings.warn(
            "CoAdaptationMonitor watches the dropout layers among "
            "`model.layers` and kerasdrop's dropout at any depth by "
            "default; " + "; ".join(parts) + ". Pass the layers to watch "
            "with `layers=`.",
            stacklevel=3,
        )


def _key(name, measure):
    return f"coadaptation/{name}/{measure}"


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


def _read_probe(x, y, max_samples):
    """Probe `(x, y)` as NumPy arrays, from the data forms `fit` takes.

    Datasets give their first `max_samples` rows; `(x, y[, w])` tuples are
    unpacked. Every error names the monitor and the argument.
    """
    if _is_tf_dataset(x) or isinstance(x, keras.utils.PyDataset):
        if y is not None:
            raise ValueError(
                "CoAdaptationMonitor: `y` must not be given with a dataset "
                "`x`: the dataset's `(x, y)` elements hold the targets."
            )
        x, y = _take_rows(x, max_samples)
    elif isinstance(x, tuple) and y is None and len(x) in (2, 3):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(x)
    x = _as_arrays(x, "x")
    y = None if y is None else _as_arrays(y, "y")
    rows = {
        f"{name}{_path(path)}": array.shape[0]
        for name, data in (("x", x), ("y", y))
        if data is not None
        for path, array in _flatten_with_paths(data)
    }
    if len(set(rows.values())) > 1:
        raise ValueError(
            "CoAdaptationMonitor: every array of the probe `x` (and `y`) "
            f"must have the same number of rows. Received rows: {rows}"
        )
    num_rows = next(iter(rows.values()))
    if num_rows < 2:
        raise ValueError(
            "CoAdaptationMonitor: invalid value received for argument `x`. "
            "Expected probe data with at least 2 rows, since the measures "
            f"compare samples. Received: {num_rows} rows"
        )
    return x, y


def _take_rows(dataset, max_samples):
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
            "CoAdaptationMonitor: the dataset `x` is endless (repeated), "
            "so `max_samples=None` (every row) cannot be read. Pass "
            "`max_samples`."
        )
    xs, ys, rows = [], [], 0
    for batch in batches:
        batch_x, batch_y, _ = keras.utils.unpack_x_y_sample_weight(batch)
        xs.append(_as_arrays(batch_x, "x"))
        ys.append(None if batch_y is None else _as_arrays(batch_y, "y"))
        rows += _graph.count_rows(xs[-1])
        if max_samples is not None and rows >= max_samples:
            break
    if not xs:
        raise ValueError("CoAdaptationMonitor: the dataset `x` is empty.")
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


def _as_arrays(data, name):
    """`data` (an array, tensor, or a list or dict of them) as NumPy."""
    if isinstance(data, (str, bytes)) or data is None:
        raise TypeError(
            f"CoAdaptationMonitor: invalid type received for argument "
            f"`{name}`. Expected {_PROBE_FORMS}. Received: {name} of type "
            f"{type(data).__name__}"
        )
    if isinstance(data, collections.abc.Iterator):
        raise TypeError(
            f"CoAdaptationMonitor: `{name}` is a generator or iterator, "
            "which reading the probe would use up. Pass "
            f"{_PROBE_FORMS}."
        )
    if isinstance(data, dict):
        return {key: _as_array(value, name) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        leaves = keras.tree.flatten(data)
        if leaves and all(
            isinstance(leaf, (int, float, np.number)) for leaf in leaves
        ):
            return _as_array(np.asarray(data), name)  # Rows of numbers.
        arrays = [_as_array(item, name) for item in data]
        return arrays[0] if len(arrays) == 1 else arrays
    return _as_array(data, name)


def _as_array(data, name):
    if isinstance(data, (np.ndarray, np.generic)) or hasattr(data, "__array__"):
        array = np.asarray(data)
    else:
        try:
            array = np.asarray(ops.convert_to_numpy(data))
        except Exception:
            raise TypeError(
                f"CoAdaptationMonitor: invalid type received for argument "
                f"`{name}`. Expected {_PROBE_FORMS}. Received: an entry "
                f"of type {type(data).__name__}"
            ) from None
    if array.ndim == 0 or array.dtype.kind not in "biuf":
        raise ValueError(
            f"CoAdaptationMonitor: invalid value received for argument "
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


def _check_probe_fits(model, x):
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
            f"CoAdaptationMonitor: the probe `x` holds {len(given)} arrays "
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
                f"CoAdaptationMonitor: the probe `x{_path(path)}` has shape "
                f"{shape}, but the model '{model.name}' expects inputs of "
                f"shape {wanted}."
            )
