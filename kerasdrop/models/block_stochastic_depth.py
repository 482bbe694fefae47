"""Stochastic depth inside subclassed transformer blocks (KerasHub's).

A KerasHub transformer block adds its attention and MLP branches to the
shortcut inside its own `call` (`x = x + residual`), which no model graph
shows. What the graph cannot tell, a table says: for each known block
class, which of its sublayers outputs a branch right before the addition,
called once per block call. That sublayer's output is then dropped per
sample by a `kerasdrop.layers.DropPath` it holds (`kerasdrop_drop_path`):
its class becomes a subclass of its own whose `call` returns
`drop_path(original call)`. The block, its weights and its computation at
inference are untouched (a `DropPath` returns its input unless training).

Known blocks (exact classes; a subclass may compute something else):

- `keras_hub.layers.TransformerEncoder` (BERT, RoBERTa, DistilBERT, ...):
  `_self_attention_dropout` (after the attention) and `_feedforward_dropout`
  (after the feed-forward network), each applied once, right before its
  addition.
- KerasHub's `ViTEncoderBlock`: `dropout` (after the attention) and `mlp`,
  the MLP itself. The MLP calls one `Dropout` twice, on its hidden units
  and on its output, so that dropout is not the branch: the MLP's output
  is.

Any other KerasHub layer that holds an attention layer is listed as
skipped, never guessed.

Saving: loading re-creates a block's sublayers from the arguments of the
outermost layer that builds them (a KerasHub backbone, or the block
itself), so that layer (the owner) takes a subclass of its own class whose
config wraps its original config with the list of branches dropped, and
whose `from_config` builds the original and puts the `DropPath` layers back
(the rates and seed states are then loaded with the weights). The subclass
is registered as `kerasdrop>StochasticDepthOwner`, so `import kerasdrop`
before loading (also with `safe_mode=True`) is all it needs.
"""

import collections

import keras

from kerasdrop import _compat
from kerasdrop.layers.drop_path import DropPath
from kerasdrop.models import walk

DROP_PATH_ATTRIBUTE = "kerasdrop_drop_path"

# Block class name -> its branches: (attribute of the sublayer whose output
# is the branch, index of the branch in the block's addition).
KNOWN_BLOCKS = {
    "TransformerEncoder": (
        ("_self_attention_dropout", 0),  # x = dropout(x); x = x + residual
        ("_feedforward_dropout", 0),
    ),
    "ViTEncoderBlock": (
        ("dropout", 0),  # x = self.dropout(x); x = x + inputs
        ("mlp", 1),  # y = self.mlp(y); return x + y
    ),
}

# A branch inside a block's call: the names from the walked layer (excluded)
# down to the block, the block, the sublayer whose output is the branch,
# its attribute name and the branch's index in the addition.
BlockBranch = collections.namedtuple(
    "BlockBranch", ["names", "block", "target", "attribute", "branch_index"]
)


def _base_class(cls):
    """The class a kerasdrop subclass made here was made from."""
    return cls.__dict__.get("_kerasdrop_base_class", cls)


def _known_branches(layer):
    """The branches of `layer` if it is a known block, else None."""
    cls = _base_class(type(layer))
    if not cls.__module__.startswith("keras_hub."):
        return None
    return KNOWN_BLOCKS.get(cls.__name__)


def _holds_attention(layer):
    return any(
        "Attention" in type(child).__name__
        for child in _compat.child_layers(layer)
    )


def find_block_branches(layer):
    """The residual branches inside the known blocks of `layer` (itself
    included), and the KerasHub layers with attention that are not known.

    Returns:
        `(branches, unknown)`: a list of `BlockBranch`, in the order of
        `walk.walk_layers`, and a list of `(names, reason)`.
    """
    branches, unknown = [], []
    items = [((), layer)] + [
        (item.names, item.layer) for item in walk.walk_layers(layer)
    ]
    inside_known = []
    for names, candidate in items:
        if any(names[: len(known)] == known for known in inside_known):
            continue
        known = _known_branches(candidate)
        if known is None:
            module = _base_class(type(candidate)).__module__
            if module.startswith("keras_hub.") and _holds_attention(candidate):
                unknown.append(
                    (
                        names,
                        f"a {type(candidate).__name__} adds its residual "
                        "branches inside its own call, which kerasdrop "
                        "does not know",
                    )
                )
                inside_known.append(names)
            continue
        inside_known.append(names)
        for attribute, index in known:
            target = getattr(candidate, attribute, None)
            if not isinstance(target, keras.layers.Layer):
                unknown.append(
                    (
                        names,
                        f"the {type(candidate).__name__} has no sublayer "
                        f"`{attribute}` (is it built?)",
                    )
                )
                continue
            branches.append(
                BlockBranch(names, candidate, target, attribute, index)
            )
    return branches, unknown


class DropsOutputPath:
    """Mixin: the layer's output (or its first output) goes through the
    `DropPath` the layer holds. Training mode reaches it from the call
    context, as it reaches every sublayer called without `training`."""

    def call(self, *args, **kwargs):
        outputs = super().call(*args, **kwargs)
        drop_path = getattr(self, DROP_PATH_ATTRIBUTE)
        if isinstance(outputs, tuple):  # An attention and its scores.
            return (drop_path(outputs[0]),) + outputs[1:]
        return drop_path(outputs)


_SUBCLASSES = {}


def _subclass(mixin, cls):
    """`cls` with `mixin` first, made once per pair."""
    cls = _base_class(cls)
    key = (mixin, cls)
    if key not in _SUBCLASSES:
        _SUBCLASSES[key] = type(
            cls.__name__,
            (mixin, cls),
            {
                "_kerasdrop_base_class": cls,
                "_kerasdrop_rebase": staticmethod(
                    lambda base: _subclass(mixin, base)
                ),
                "__module__": cls.__module__,
            },
        )
    return _SUBCLASSES[key]


def drop_output(target, rate, seed, mode, name):
    """Puts a `DropPath` on the output of `target`, in place; returns it.

    A target that already has one keeps it, at `rate`.
    """
    # `getattr`: on PyTorch a sublayer is in the module's `_modules`.
    existing = getattr(target, DROP_PATH_ATTRIBUTE, None)
    if isinstance(existing, DropPath):
        existing.rate = rate
        return existing
    drop_path = DropPath(
        rate, seed=seed, mode=mode, dtype=target.dtype_policy, name=name
    )
    with _compat.unlocked_state(target):
        setattr(target, DROP_PATH_ATTRIBUTE, drop_path)
    target.__class__ = _subclass(DropsOutputPath, type(target))
    return drop_path


def existing_drop_path(target):
    """The name of the `DropPath` already on `target`'s output, or None."""
    # `getattr`: on PyTorch a sublayer is in the module's `_modules`.
    existing = getattr(target, DROP_PATH_ATTRIBUTE, None)
    return existing.name if isinstance(existing, DropPath) else None


def owner_of(chain):
    """The outermost layer of `chain` (from a root down to a block) that
    builds the layers below it from its own arguments when loaded."""
    for layer in chain:
        if not walk.keeps_configs(layer):
            return layer
    return chain[-1]


def _find_target(owner, names):
    for item in walk.walk_layers(owner):
        if item.names == tuple(names):
            return item.layer
    raise ValueError(
        f"The layer '{owner.name}' has no sublayer at {'/'.join(names)} to "
        "put a DropPath on: was it saved from another version of its class?"
    )


def register_owner(owner, target):
    """Makes `owner` save, and load, the `DropPath` on `target`'s output."""
    names = None
    for item in walk.walk_layers(owner):
        if item.layer is target:
            names = item.names
            break
    if names is None:
        raise ValueError(f"'{target.name}' is not inside '{owner.name}'.")
    entries = owner.__dict__.get("_kerasdrop_drop_path_targets")
    if entries is None:
        entries = []
        object.__setattr__(owner, "_kerasdrop_drop_path_targets", entries)
    if names not in entries:
        entries.append(names)
    owner.__class__ = _registered_subclass(StochasticDepthOwner, type(owner))


class StochasticDepthOwner:
    """Mixin of a layer that builds, from its own arguments, sublayers that
    hold a `DropPath` on their output: its config wraps the original one
    with where they are, and `from_config` puts them back."""

    def get_config(self):
        base = _base_class(type(self))
        layer = {
            "module": base.__module__,
            "class_name": base.__name__,
            "config": super().get_config(),
            "registered_name": keras.saving.get_registered_name(base),
        }
        build_config = super().get_build_config()
        if build_config is not None:
            layer["build_config"] = build_config
        drop_paths = []
        for names in self._kerasdrop_drop_path_targets:
            drop_path = getattr(_find_target(self, names), DROP_PATH_ATTRIBUTE)
            drop_paths.append(
                {
                    "path": list(names),
                    "rate": drop_path.rate,
                    "seed": drop_path.seed,
                    "mode": drop_path.mode,
                    "name": drop_path.name,
                }
            )
        return {"layer": layer, "drop_paths": drop_paths}

    def get_build_config(self):
        # The wrapped config builds the layer: building it again would
        # create its sublayers again, without their DropPath.
        return None

    @classmethod
    def from_config(cls, config):
        layer = keras.saving.deserialize_keras_object(config["layer"])
        for entry in config["drop_paths"]:
            target = _find_target(layer, entry["path"])
            drop_output(
                target,
                entry["rate"],
                entry["seed"],
                entry["mode"],
                entry["name"],
            )
            register_owner(layer, target)
        return layer


# Every subclass made from `StochasticDepthOwner` saves under this name, and
# loading finds this class under it, whose `from_config` is theirs.
_OWNER_NAME = "StochasticDepthOwner"


def _register_owner_class(cls):
    keras.saving.register_keras_serializable("kerasdrop", _OWNER_NAME)(cls)


class _LoadsStochasticDepthOwner(StochasticDepthOwner):
    """What loading finds under `kerasdrop>StochasticDepthOwner`."""


_register_owner_class(_LoadsStochasticDepthOwner)


def _registered_subclass(mixin, cls):
    made = _subclass(mixin, cls)
    if mixin is StochasticDepthOwner and (
        keras.saving.get_registered_name(made) != f"kerasdrop>{_OWNER_NAME}"
    ):
        _register_owner_class(made)
        # The name keeps leading to the loader, not to the last subclass.
        _register_owner_class(_LoadsStochasticDepthOwner)
    return made
