"""Turning the dropout of any Keras model into schedulable kerasdrop rates.

Pretrained models are built from Keras's layers: `keras.applications`'
EfficientNets hold `Dropout` layers (their stochastic depth among them),
KerasHub's transformers hold `Dropout` layers inside their blocks and a
`dropout` inside every `MultiHeadAttention`, and `LSTM`/`GRU` take fixed
`dropout`/`recurrent_dropout`. Keras keeps those rates as Python floats,
frozen into the compiled step, so a schedule cannot move them.
`make_schedulable` converts each of them, in place, into the kerasdrop
equivalent whose rate is a variable; `find_unschedulable_dropout` lists what
no kerasdrop rate drives.

Reference: Liu et al., 2023, "Dropout Reduces Underfitting" (early dropout
and early stochastic depth when fine-tuning).
"""

import json
import warnings
import zipfile

import keras

from kerasdrop import _compat
from kerasdrop.layers import _in_place
from kerasdrop.layers._saving import ASSET_FILE
from kerasdrop.layers.scheduled_multi_head_attention import (
    ScheduledMultiHeadAttention,
)
from kerasdrop.models import walk
from kerasdrop.rnn.variational_dropout_cell import VariationalDropoutCell
from kerasdrop.rnn.variational_gru import VariationalGRU
from kerasdrop.rnn.variational_lstm import VariationalLSTM

_RECURRENT_TWINS = {
    keras.layers.LSTM: VariationalLSTM,
    keras.layers.GRU: VariationalGRU,
}


def _walk(model):
    """The layers `make_schedulable` sees: every layer below `model` but
    those inside a layer whose dropout is its own (`walk.Found.owned`)."""
    return [item for item in walk.walk_layers(model) if not item.owned]


def _kind(layer):
    """What `make_schedulable` can convert `layer` as, or None."""
    if _in_place.has_twin(layer):
        return "layer"
    if isinstance(layer, keras.layers.MultiHeadAttention) and not (
        isinstance(layer, ScheduledMultiHeadAttention)
        or walk.is_kerasdrop(walk.attention_dropout(layer))
    ):
        return "attention"
    if type(layer) in _RECURRENT_TWINS:
        return "recurrent"
    return None


def _saved_by_class(item):
    """Whether Keras saves the weights of `item.layer` under its class name.

    It does for a layer in a list (the layers of a Functional or Sequential
    model, a list attribute), and under the attribute's name for a layer
    held in an attribute of a subclassed layer.
    """
    parent = item.parent
    return (
        _compat.is_functional(parent)
        or isinstance(parent, keras.Sequential)
        or not any(
            value is item.layer for value in _compat.attribute_values(parent)
        )
    )


def _mark_rebuilt(layer, item, root):
    """Marks a converted layer that loading builds as Keras's again."""
    layer.rebuilt_by_owner_path = item.path
    layer.rebuilt_by_owner_root = root


def _convert_attention(item, root):
    layer = item.layer
    inner = walk.attention_dropout(layer)
    if type(layer) is keras.layers.MultiHeadAttention and not (
        # Loading builds Keras's class again and looks for its weights
        # under that class's name.
        item.rebuilt and _saved_by_class(item)
    ):
        # A subclass with the same state; its `_build_attention` makes the
        # inner dropout kerasdrop's when the layer is built later.
        layer.__class__ = ScheduledMultiHeadAttention
        rebuilt = item.rebuilt
    elif not layer.dropout:
        return (
            f"Keras skips the attention dropout of a {type(layer).__name__} "
            "built with dropout=0, so it cannot be raised; build the layer "
            "with a positive dropout"
        )
    elif inner is None:
        return "the layer is not built yet"
    else:
        # The subclass builds Keras's dropout again when loaded.
        rebuilt = True
    if inner is not None:
        _in_place.convert_in_place(inner)
        if rebuilt:
            _mark_rebuilt(inner, item, root)
    return None


def _convert_recurrent(item):
    layer = item.layer
    if item.rebuilt:
        return (
            f"it is inside {type(item.parent).__name__} "
            f"'{item.parent.name}', which builds it from its own arguments "
            "when loaded"
        )
    cell = layer.cell
    input_rate = float(cell.dropout)
    recurrent_rate = float(cell.recurrent_dropout)
    # The cell keeps its weights and its step (Keras's `implementation`);
    # the wrapper around it applies the dropout from now on.
    cell.dropout = 0.0
    cell.recurrent_dropout = 0.0
    cell.reset_dropout_mask()
    cell.reset_recurrent_dropout_mask()
    wrapper = VariationalDropoutCell(
        cell,
        input_rate=input_rate,
        recurrent_rate=recurrent_rate,
        seed=cell.seed,
        dtype=cell.dtype_policy,
        trainable=cell.trainable,
        name="variational_dropout_cell",
    )
    if cell.built:
        wrapper.build((None, cell.kernel.shape[0]))
    _compat.replace_sublayer(layer, "cell", cell, wrapper)
    layer.__class__ = _RECURRENT_TWINS[type(layer)]
    return None


def _convert(item, kind, root):
    """Converts one layer; returns why it was not converted, or None.

    `root` is the name of the model the paths start from.
    """
    if kind == "layer":
        _in_place.convert_in_place(item.layer)
        if item.rebuilt:
            _mark_rebuilt(item.layer, item, root)
        return None
    if kind == "attention":
        return _convert_attention(item, root)
    return _convert_recurrent(item)


def _unit_rates(layer):
    """The rate variables of a converted layer, by rate name."""
    if isinstance(layer, keras.layers.MultiHeadAttention):
        layer = walk.attention_dropout(layer)
    return dict(getattr(layer, "dropout_rates", None) or {})


def make_schedulable(model, layers=None, rates_from=None):
    """Makes every dropout of a model a schedulable kerasdrop rate, in place.

    Converts, wherever they are in `model` (nested models, subclassed layers
    and the lists they hold included):

    - `keras.layers.Dropout` to `kerasdrop.ScheduledDropout` (rate,
      `noise_shape`, seed and name kept: EfficientNet's stochastic depth,
      a `Dropout` with `noise_shape=(None, 1, 1, 1)`, stays per-sample),
      `SpatialDropout1D/2D/3D` to `kerasdrop.ScheduledSpatialDropout1D/2D/3D`,
      `GaussianDropout`, `GaussianNoise` and `AlphaDropout` to
      `kerasdrop.ScheduledGaussianDropout`, `ScheduledGaussianNoise` and
      `ScheduledAlphaDropout`;
    - `keras.layers.MultiHeadAttention` to
      `kerasdrop.ScheduledMultiHeadAttention` (its attention-probability
      dropout); in a subclass of it (KerasHub's attention layers), and in
      a layer that a model builds from its own arguments when loaded and
      holds in a list (Keras saves its weights under its class's name), the
      inner dropout layer alone, when its `dropout` is positive (Keras
      never applies it at 0);
    - `keras.layers.LSTM` and `GRU` to `kerasdrop.VariationalLSTM` and
      `VariationalGRU` (same weights; Keras's `dropout` becomes
      `input_rate` and `recurrent_dropout` becomes `recurrent_rate`, each
      still one mask per sequence, now shared by the gates), unless they
      sit inside a subclassed layer.

    Rates of 0 are converted too, so that a schedule can raise them.

    The conversion is always in place: each layer object keeps its
    identity (only its class changes, and its rate variables are added),
    so every graph, attribute and list that holds it holds the kerasdrop
    layer, the model keeps its class (a KerasHub backbone stays one) and
    `model` itself is returned. The weights are untouched and the inference
    outputs are bit-for-bit the same (dropout is the identity at inference;
    the attention and recurrent layers keep Keras's inference computation),
    except for a `GRU` built with `recurrent_dropout`: Keras then steps gate
    by gate, the variational GRU takes the fused step (equal to rounding).
    Every model that holds a converted layer (this one, the models nested
    in it, and any other model that shares them) drops its traced
    `fit`/`evaluate`/`predict` functions, so its next call traces the
    converted layers. Converting a converted model changes nothing.

    The stochastic depth of `keras.applications`' ConvNeXt (a private
    Keras layer, which the public ConvNeXt constructors never create) is
    not converted; `find_unschedulable_dropout` lists it.

    Saving: a converted Functional or Sequential model saves to `.keras`
    and loads (with `import kerasdrop`) as kerasdrop layers at their current
    rates. A layer that builds its sublayers from its own arguments (a
    KerasHub block or backbone, any subclassed layer) builds Keras's dropout
    again when loaded: the loaded model then has Keras's dropout at the
    rates of those arguments, and `DropoutScheduler` warns about it. The
    saved file keeps the rates the model had; convert the loaded model with
    `make_schedulable(model, rates_from=path)` to get them back. A warning
    says so when such layers are converted and when they are saved. This
    holds for any model holding the converted model: one that nests it
    (`rates_from` finds the rates from the model it is given), or a
    Functional model built on its inputs and outputs, whose config brings
    the converted layers it lists back as kerasdrop's, at their rates.

    Args:
        model: A Keras model (or layer).
        layers: Which layers to convert: a regular expression that must
            match a layer's whole name, a list of them, a layer class (or
            tuple of classes), or a callable `layer -> bool` (as in
            `kerasdrop.insert_dropout`). The attention and
            recurrent layers are selected as themselves. `None` converts
            everything.
        rates_from: Path of a `.keras` file saved from a converted model:
            the rates it held inside layers that build Keras's dropout
            again on loading are restored.

    Returns:
        `model`, converted.

    Raises:
        ValueError: if `model` holds no dropout at all (neither Keras's
            nor kerasdrop's), or no convertible layer matches `layers`.

    Examples:
        >>> inputs = keras.Input((8,))
        >>> hidden = keras.layers.Dense(8)(inputs)
        >>> hidden = keras.layers.Dropout(0.3, name="dropout")(hidden)
        >>> model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
        >>> converted = kerasdrop.make_schedulable(model)
        >>> converted is model
        True
        >>> layer = model.get_layer("dropout")
        >>> type(layer).__name__, layer.rate
        ('ScheduledDropout', 0.3)
    """
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(
            "Invalid type received for argument `model`. Expected a Keras "
            f"model or layer. Received: model={model!r} of type "
            f"{type(model).__name__}"
        )
    matches = (
        (lambda layer: True)
        if layers is None
        else walk.layer_matcher(layers, "layers")
    )
    found = list(_walk(model))
    candidates = [(item, _kind(item.layer)) for item in found]
    candidates = [(item, kind) for item, kind in candidates if kind]
    has_kerasdrop = any(walk.is_kerasdrop(item.layer) for item in found)
    if not candidates and not has_kerasdrop:
        raise ValueError(
            f"The model '{model.name}' holds no dropout to convert: no "
            "Keras Dropout, SpatialDropout1D/2D/3D, GaussianDropout, "
            "GaussianNoise or AlphaDropout layer, no MultiHeadAttention, "
            "LSTM or GRU, and no kerasdrop layer. Add dropout with "
            "`kerasdrop.insert_dropout`."
        )
    selected = [
        (item, kind) for item, kind in candidates if matches(item.layer)
    ]
    if layers is not None and candidates and not selected:
        raise ValueError(
            f"No convertible layer of the model '{model.name}' matches "
            f"layers={layers!r}. Convertible layers: "
            f"{[item.path for item, _ in candidates]}"
        )
    skipped = []
    rebuilt = []
    for item, kind in selected:
        reason = _convert(item, kind, model.name)
        if reason is not None:
            skipped.append(f"{item.path}: {reason}")
        elif item.rebuilt or (
            kind == "attention"
            and not isinstance(item.layer, ScheduledMultiHeadAttention)
        ):
            rebuilt.append(item.path)
    if skipped:
        warnings.warn(
            "make_schedulable left this dropout as Keras's, at its fixed "
            "rate: " + "; ".join(skipped),
            stacklevel=2,
        )
    if rebuilt and rates_from is None:
        warnings.warn(
            f"make_schedulable converted {len(rebuilt)} dropout layers that "
            "sit inside layers which build Keras's dropout again, from "
            "their own arguments, when the model is loaded (for example "
            f"{rebuilt[0]}). A saved and loaded copy has Keras's dropout at "
            "those arguments' rates; "
            "`kerasdrop.make_schedulable(model, rates_from=<the .keras "
            "file>)` converts it again with the saved rates.",
            stacklevel=2,
        )
    _in_place.retrace_models_holding([item.layer for item, _ in selected])
    if rates_from is not None:
        _restore_rates(model, rates_from)
    return model


def _saved_records(path):
    """The records of rates a `.keras` file saved for re-created layers."""
    records = []
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name == ASSET_FILE or name.endswith("/" + ASSET_FILE):
                records.append(json.loads(archive.read(name)))
    return records


def saved_rates(path):
    """Reads the rates a `.keras` file saved for re-created layers.

    Args:
        path: Path of a `.keras` file saved from a converted model.

    Returns:
        A dict from path (as `make_schedulable` named it, from the model it
        was given) to a dict from rate name to value.
    """
    return {record["path"]: record["rates"] for record in _saved_records(path)}


def _record_paths(model, found, record):
    """Where a saved record's layer may be, as paths from `model`.

    The record's path starts at the model that was converted: `model`
    itself, a layer of `model` of that name (a converted backbone nested in
    `model`), or, when neither is found, `model`'s own layers (a model
    built on the backbone's inputs and outputs holds the backbone's
    layers); `model` may also be a layer on the path.
    """
    path, root = record["path"], record.get("root")
    paths = []
    if model.name != root:
        paths += [
            f"{item.path}/{path}" for item in found if item.layer.name == root
        ]
    paths.append(path)
    names = path.split("/")
    if model.name in names[:-1]:
        paths.append("/".join(names[names.index(model.name) + 1 :]))
    return paths


def _restore_rates(model, path):
    records = _saved_records(path)
    if not records:
        warnings.warn(
            f"The file {path} holds no rates of re-created layers: a model "
            "whose converted layers are all in Functional or Sequential "
            "models loads with its rates already.",
            stacklevel=3,
        )
        return
    found = list(_walk(model))
    by_path = {item.path: item for item in found}
    missing = []
    for record in records:
        rates = record["rates"]
        for candidate in _record_paths(model, found, record):
            item = by_path.get(candidate)
            variables = _unit_rates(item.layer) if item else {}
            if variables and set(rates) <= set(variables):
                for name, value in rates.items():
                    variables[name].assign(value)
                break
        else:
            missing.append(record["path"])
    if missing:
        raise ValueError(
            f"The file {path} holds rates for {sorted(missing)}, which are "
            "not converted dropout layers of the model "
            f"'{model.name}'. Was the file saved from this model?"
        )
