"""The one walk of a model: which dropout it holds, where, under which keys.

Every feature asks the same questions of a model -- which rates a
`DropoutScheduler` drives and under which log keys, which layers
Monte-Carlo prediction switches on, which dropout a `CoAdaptationMonitor`
watches, what `make_schedulable` converts and what no kerasdrop rate
drives. Two walks that disagree give silent wrong numbers (a scheduler that
drives a rate Monte-Carlo sampling does not switch on), so they are all
answered here, from one traversal (`walk_layers`) and one table of
Keras's dropout kinds (`KERAS_DROPOUT`, from the table of kerasdrop twins
that `make_schedulable` converts them to).
"""

import collections
import re

import keras

from kerasdrop import _compat
from kerasdrop.layers import _in_place
from kerasdrop.layers.concrete_dropout import ConcreteDropout
from kerasdrop.layers.rates import read_rate
from kerasdrop.layers.scheduled_multi_head_attention import (
    ScheduledMultiHeadAttention,
)

# Keras's own dropout layers (subclasses included): the classes that
# `make_schedulable` converts to kerasdrop twins, `GaussianNoise` among them.
KERAS_DROPOUT = tuple(_in_place.TWINS)

# Layers whose inner dropout is their own: their sublayers are walked, but
# `make_schedulable` and `find_unschedulable_dropout` see them as one layer.
_OWNERS = (keras.layers.MultiHeadAttention, keras.layers.RNN)

# Layers that call what they hold inside a loop (over time steps, or over
# the slices of a `TimeDistributed`): a model's graph never reaches the
# activations of their sublayers.
_LOOPS = (keras.layers.RNN, keras.layers.TimeDistributed)


class Found(
    collections.namedtuple(
        "Found", ["layer", "names", "parent", "rebuilt", "owned", "in_loop"]
    )
):
    """A layer found by `walk_layers`.

    Attributes:
        layer: The layer.
        names: The layer names from the walked model (excluded) down to
            `layer` (included).
        parent: The layer that holds it.
        rebuilt: Whether loading the model re-creates it from an enclosing
            layer's own arguments (a KerasHub block, any subclassed layer),
            rather than from its own config.
        owned: Whether it sits inside a layer whose dropout is that layer's
            own (a kerasdrop layer, an attention or recurrent layer).
        in_loop: Whether it sits inside an RNN or a `TimeDistributed`.
    """

    __slots__ = ()

    @property
    def path(self):
        """`names` joined by "/"."""
        return "/".join(self.names)


def is_kerasdrop(layer):
    """Whether `layer` holds kerasdrop rates (or is kerasdrop's attention)."""
    return bool(getattr(layer, "dropout_rates", None)) or isinstance(
        layer, ScheduledMultiHeadAttention
    )


def is_keras_dropout(layer):
    """Whether `layer` is one of Keras's own dropout layers (a class of
    `KERAS_DROPOUT`, or a subclass) and not a kerasdrop layer."""
    return isinstance(layer, KERAS_DROPOUT) and not getattr(
        layer, "dropout_rates", None
    )


def is_dropout_layer(layer):
    """Whether `layer` is a dropout layer: kerasdrop's or Keras's own.

    A kerasdrop layer is any layer with a non-empty `dropout_rates` (so
    recurrent, zoneout and weight-drop layers count), and `ConcreteDropout`,
    whose rate is learned rather than a rate variable; of Keras's layers,
    `Dropout`, the `SpatialDropout` layers, `GaussianDropout`,
    `GaussianNoise` and `AlphaDropout` count (`KERAS_DROPOUT`).
    """
    return bool(getattr(layer, "dropout_rates", None)) or isinstance(
        layer, KERAS_DROPOUT + (ConcreteDropout,)
    )


def keeps_configs(layer):
    """Whether loading re-creates the sublayers of `layer` from their own
    configs (so a kerasdrop sublayer comes back as itself)."""
    return _compat.serializes_own_layers(layer) or isinstance(
        layer, keras.layers.TimeDistributed
    )


def walk_layers(model):
    """Yields a `Found` for every layer below `model`, each once.

    Depth first, in the order of each layer's sublayers: the layers of a
    Functional or Sequential model, nested models, the layers a subclassed
    layer holds in attributes and lists, the layer of a wrapper
    (`Bidirectional`, `TimeDistributed`), the cell of an RNN. A layer
    shared by several places is found once, at the first.

    Args:
        model: A Keras model or layer (not yielded itself).
    """
    seen = {id(model)}

    def visit(layer, names, rebuilt, owned, in_loop):
        rebuilt_below = rebuilt or not keeps_configs(layer)
        owned_below = owned or (
            layer is not model
            and (is_kerasdrop(layer) or isinstance(layer, _OWNERS))
        )
        loop_below = in_loop or isinstance(layer, _LOOPS)
        for child in _compat.child_layers(layer):
            if id(child) in seen:
                continue
            seen.add(id(child))
            child_names = names + (child.name,)
            yield Found(
                child,
                child_names,
                layer,
                rebuilt_below,
                owned_below,
                loop_below,
            )
            yield from visit(
                child, child_names, rebuilt_below, owned_below, loop_below
            )

    yield from visit(model, (), False, False, isinstance(model, _LOOPS))


def layers_of(model):
    """`model` and every layer below it, each once, in `walk_layers`'s order."""
    return [model] + [item.layer for item in walk_layers(model)]


# A layer holding rates, the path of layer names that leads to it from the
# model, and the unique name under which its rates are selected and logged.
RateHolder = collections.namedtuple(
    "RateHolder", ["key", "path", "layer", "rates"]
)


def rate_holders(model):
    """Every layer of `model` that holds rates, each rate variable once.

    Returns `RateHolder`s in `walk_layers`'s order (`model` itself first); see
    `find_rates` for the keys. A layer that wraps a kerasdrop cell or layer
    exposes the inner rates, so each rate is held by the outermost layer
    that exposes it.
    """
    return _rate_holders(model, list(walk_layers(model)))


def _rate_holders(model, items):
    """`rate_holders` from the `walk_layers(model)` items."""
    found = []  # (path, layer, rates)
    seen = set()
    nodes = [((model.name,), model)] + [
        ((model.name,) + item.names, item.layer) for item in items
    ]
    for path, layer in nodes:
        rates = getattr(layer, "dropout_rates", None) or {}
        fresh = {k: v for k, v in rates.items() if id(v) not in seen}
        seen.update(id(v) for v in rates.values())
        if fresh:
            found.append((path, layer, fresh))
    holders = []
    occurrences = collections.Counter()
    for path, layer, rates in found:
        others = [other for other, _, _ in found if other is not path]
        key = None
        for length in range(1, len(path) + 1):
            suffix = path[-length:]
            if not any(other[-length:] == suffix for other in others):
                key = "/".join(suffix)
                break
        if key is None:  # The same path twice: numbered in model order.
            occurrences[path] += 1
            key = f"{'/'.join(path)}#{occurrences[path]}"
        holders.append(RateHolder(key, path, layer, rates))
    return holders


def find_rates(model):
    """Lists the rates a `DropoutScheduler` can drive, with their values.

    Every schedulable rate variable in the model is listed once, under the
    key its value is logged under during `fit`: `"<layer>/<rate name>"`,
    such as `"dropout/rate"` or `"zoneout_lstm/cell_rate"`. The layer part
    is the layer's name, or, where several layers in the model share that
    name (two blocks that each hold a `"dropout"`, both directions of a
    `Bidirectional`), the shortest path of layer names that tells it apart,
    such as `"block_1/dropout/rate"`. That layer part is what the `layers`
    argument and the keys of a dict of schedules of `DropoutScheduler`
    accept. A layer that wraps a kerasdrop cell or layer exposes the inner
    rates, so each rate is listed under the outermost layer that exposes
    it.

    Keras's own dropout layers are not listed (a scheduler cannot drive
    them; `kerasdrop.make_schedulable` converts them), nor are learned
    rates (`ConcreteDropout`).

    Args:
        model: A Keras layer or model.

    Returns:
        A dict from key to the rate's current value as a Python float, in
        the order of `model`'s layers, read when called (the dict does not
        follow later changes). A value is the shortest decimal that is the
        stored float32 rate, so a rate set to 0.1 reads 0.1; the logs of
        `fit` hold the float32 number itself, 0.10000000149011612.

    Examples:
        >>> model = keras.Sequential([
        ...     keras.Input((5, 3)),
        ...     kerasdrop.ZoneoutLSTM(8, cell_rate=0.5, hidden_rate=0.05),
        ...     kerasdrop.ScheduledDropout(0.1, name="dropout"),
        ... ])
        >>> kerasdrop.find_rates(model)
        {'zoneout_lstm/hidden_rate': 0.05, 'zoneout_lstm/cell_rate': 0.5,
         'dropout/rate': 0.1}
    """
    return {
        f"{holder.key}/{name}": read_rate(variable)
        for holder in rate_holders(model)
        for name, variable in holder.rates.items()
    }


def selects(holder, selector):
    """Whether `selector` picks the holder.

    A layer object picks itself; a name, or a path of names such as
    `"block_1/dropout"`, picks the layers it names and every layer inside
    them.
    """
    if not isinstance(selector, str):
        return holder.layer is selector
    if holder.key == selector:
        return True
    parts = tuple(selector.split("/"))
    path = holder.path
    return any(
        path[i : i + len(parts)] == parts
        for i in range(len(path) - len(parts) + 1)
    )


def kerasdrop_dropout_layers(model):
    """kerasdrop's dropout layers of `model`, at any depth: every layer
    that holds rates (`rate_holders`), then every `ConcreteDropout`."""
    items = list(walk_layers(model))  # One walk serves both.
    return [holder.layer for holder in _rate_holders(model, items)] + [
        layer
        for layer in [model] + [item.layer for item in items]
        if isinstance(layer, ConcreteDropout)
    ]


def keras_dropout_layers(model):
    """Keras's own dropout layers of `model` (`is_keras_dropout`), at any
    depth, in `walk_layers`'s order."""
    return [layer for layer in layers_of(model) if is_keras_dropout(layer)]


def layer_matcher(selection, argument="after"):
    """Returns a function `layer -> bool` for a selection of layers.

    Args:
        selection: A regular expression that must match a layer's whole
            name, a list of them, a layer class (or tuple of classes), or a
            callable `layer -> bool`.
        argument: The argument name to use in error messages.

    Raises:
        ValueError: if `selection` is none of these.
    """
    if isinstance(selection, str):
        selection = [selection]
    if isinstance(selection, type) or (
        isinstance(selection, tuple)
        and all(isinstance(a, type) for a in selection)
    ):
        classes = selection
        return lambda layer: isinstance(layer, classes)
    if callable(selection):
        return lambda layer: bool(selection(layer))
    try:
        patterns = [re.compile(pattern) for pattern in selection]
    except (TypeError, re.error):
        raise ValueError(
            f"Invalid value received for argument `{argument}`. Expected a "
            "regular expression, a list of them, a layer class or a "
            f"callable `layer -> bool`. Received: {argument}={selection!r}"
        ) from None
    return lambda layer: any(p.fullmatch(layer.name) for p in patterns)


class UnschedulableDropout(
    collections.namedtuple("UnschedulableDropout", ["path", "layer", "rates"])
):
    """Dropout in a model that no kerasdrop rate drives.

    Attributes:
        path: Where it is: layer names from the model down, joined by "/".
        layer: The Keras layer that holds it (the dropout layer itself, or
            the attention or recurrent layer whose argument it is).
        rates: Dict from the Keras argument name (`"rate"`, `"dropout"`,
            `"recurrent_dropout"`, ...) to its fixed value.
    """

    __slots__ = ()

    def __str__(self):
        rates = ", ".join(f"{k}={v:g}" for k, v in self.rates.items())
        return f"{self.path} ({type(self.layer).__name__}, {rates})"


def attention_dropout(layer):
    """The inner dropout layer of a Keras attention layer, or None."""
    return getattr(layer, "_dropout_layer", None)


def fixed_rates(layer):
    """The fixed dropout arguments of a Keras layer, or `{}`."""
    if isinstance(layer, keras.layers.GaussianNoise):
        return {"stddev": float(layer.stddev)}
    if isinstance(layer, KERAS_DROPOUT):
        return {"rate": float(layer.rate)}
    if isinstance(layer, keras.layers.MultiHeadAttention):
        inner = attention_dropout(layer)
        if is_kerasdrop(inner) or not layer.dropout:
            return {}
        return {"dropout": float(layer.dropout)}
    # A recurrent layer's, or a bare recurrent cell's, dropout arguments.
    cell = layer.cell if isinstance(layer, keras.layers.RNN) else layer
    if hasattr(cell, "state_size"):
        rates = {
            name: float(getattr(cell, name))
            for name in ("dropout", "recurrent_dropout")
            if isinstance(getattr(cell, name, None), (int, float))
        }
        if any(rates.values()):
            return rates
    # Stochastic depth that is not kerasdrop's, found by its usual names
    # (keras.applications' ConvNeXt has a private `StochasticDepth`).
    name = type(layer).__name__
    if "StochasticDepth" in name or "DropPath" in name:
        rate = getattr(layer, "drop_path_rate", getattr(layer, "rate", None))
        if isinstance(rate, (int, float)):
            return {"rate": float(rate)}
    return {}


def find_unschedulable_dropout(model):
    """Lists the dropout a model holds that no kerasdrop rate drives.

    These are Keras's own dropout layers (`Dropout`,
    `SpatialDropout1D/2D/3D`, `GaussianDropout`, `GaussianNoise`,
    `AlphaDropout`, at any rate, rate 0 included) wherever they are --
    nested models and subclassed layers included -- and the dropout inside
    layers, when positive: the attention dropout of `MultiHeadAttention`
    (and its subclasses, such as KerasHub's), the `dropout` and
    `recurrent_dropout` of recurrent layers and cells, and stochastic depth
    layers other than kerasdrop's. `DropoutScheduler` cannot change any of
    them; `kerasdrop.make_schedulable` converts what it can.

    Args:
        model: A Keras model or layer.

    Returns:
        A list of `UnschedulableDropout` records `(path, layer, rates)`,
        in the model's order; `str()` of a record reads like
        `"encoder/mha (MultiHeadAttention, dropout=0.1)"`.

    Examples:
        >>> model = keras.Sequential([
        ...     keras.Input((4,)),
        ...     keras.layers.Dense(8, name="hidden"),
        ...     keras.layers.Dropout(0.5, name="dropout"),
        ...     kerasdrop.ScheduledDropout(0.2, name="scheduled"),
        ... ])
        >>> [str(item) for item in find_unschedulable_dropout(model)]
        ['dropout (Dropout, rate=0.5)']
    """
    found = []
    for item in walk_layers(model):
        if item.owned or is_kerasdrop(item.layer):
            continue
        rates = fixed_rates(item.layer)
        if rates:
            found.append(UnschedulableDropout(item.path, item.layer, rates))
    return found
