"""A callback that logs co-adaptation measures of chosen layers during `fit`."""

import math
import warnings

import keras

from kerasdrop.analysis import _graph
from kerasdrop.analysis import ablation
from kerasdrop.analysis import coadaptation
from kerasdrop.analysis import probe_data
from kerasdrop.analysis import probes
from kerasdrop.models import walk

_ABLATION_MEASURES = ("ablation_area", "interaction")
MEASURES = coadaptation.ACTIVATION_MEASURES + _ABLATION_MEASURES
"""Every measure `CoAdaptationMonitor` can log."""


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
        x, y = probe_data.read_probe(
            x, y, max_samples, seed, caller="CoAdaptationMonitor"
        )
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
        self.x, self.y = x, y
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
        probe_data.check_probe_fits(self.model, self.x, "CoAdaptationMonitor")
        self._watched, self._names = self._resolve_layers()
        cheap = self._cheap_measures()
        self._probe_tensors = _graph.as_tensors(self.x)
        self._compiled_keys = [
            _key(name, measure) for name in self._names for measure in cheap
        ]
        self._run = None
        if cheap:
            try:
                self._run = probes.compile_measures(
                    self.model,
                    self._watched,
                    self._names,
                    cheap,
                    self._probe_tensors,
                )
            except Exception as error:
                raise ValueError(
                    "CoAdaptationMonitor could not run the model "
                    f"'{self.model.name}' on the probe `x` "
                    f"({probe_data.describe(self.x)}). Keras said: {error}"
                ) from error
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
            table = self._run(self._probe_tensors)
            values.update(zip(self._compiled_keys, table.ravel().tolist()))
        for layer, name in zip(self._watched, self._names):
            if "ablation_area" in self.measures:
                curve = ablation.ablation_curve(
                    self.model, layer, self.x, self.y, seed=self.seed
                )
                values[_key(name, "ablation_area")] = curve["area"]
            if "interaction" in self.measures:
                interaction = ablation.ablation_interaction(
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
