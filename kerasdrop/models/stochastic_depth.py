"""Stochastic depth for every residual block of a Functional model.

A residual block adds a branch to a shortcut: `y = x + f(x)`. Stochastic
depth (Huang et al., 2016) drops the branch of each sample with a rate that
rises with depth, so that during training the network is an ensemble of
shallower ones; at inference every branch is kept. `add_stochastic_depth`
finds every residual addition of a model from its graph and puts a
`kerasdrop.layers.DropPath` on its branch, whose rate is a variable that
`kerasdrop.callbacks.DropoutScheduler` drives (with `relative=True`, a
schedule scales every block's rate and keeps the profile: early or late
stochastic depth, Liu et al., 2023).

The graph says which input of an addition is the branch: the shortcut is
the block's input itself, which the branch is computed from, or, for a
projection shortcut, the shorter of the two paths from the tensor where
they part. An addition of more than two tensors, or of two that share no
input or whose paths are equally long, is not a branch plus a shortcut: it
is skipped and listed, never guessed.

Transformer blocks add their branches inside their own `call`, which the
graph does not show: in the KerasHub blocks that
`kerasdrop.models.block_stochastic_depth` knows (`TransformerEncoder`, as in
BERT, and ViT's encoder blocks) the attention and MLP branches are found
from a table, and the DropPath goes on the output of the sublayer that
computes the branch (see that module). Other KerasHub layers with attention
are skipped and listed.

Stochastic depth a model already has is recognised and kept, not doubled:
the per-sample `Dropout(noise_shape=(None, 1, 1, 1))` on the branches of
`keras.applications`' EfficientNets, a `DropPath`, or a layer of a class
named `StochasticDepth` with a `drop_path_rate` (ConvNeXt's, Keras-CV's) is
replaced by a `DropPath` at the profile's rate.

References:
    - Huang et al., 2016, "Deep Networks with Stochastic Depth".
    - Liu et al., 2023, "Dropout Reduces Underfitting".
"""

import collections
import numbers

import keras

from kerasdrop import _compat
from kerasdrop.layers.depth import depth_rates
from kerasdrop.layers.drop_path import DropPath
from kerasdrop.layers.rates import copy_layer_state
from kerasdrop.layers.rates import validate_rate
from kerasdrop.layers.scheduled_dropout import ScheduledDropout
from kerasdrop.models import block_stochastic_depth
from kerasdrop.models.insert_dropout import fresh_inputs

# A residual addition: the names of the models down to the one whose graph
# holds it, the addition's name, which of its inputs is the branch, the
# name of the layer that already drops the branch (or None), the block's
# stage (blocks in a row whose outputs have as many channels), and whether
# the addition is inside a block's `call` (a KerasHub transformer block):
# then `path` ends with the block's name and `add` is the name of the
# sublayer whose output is the branch.
ResidualBlock = collections.namedtuple(
    "ResidualBlock",
    ["path", "add", "branch_index", "existing", "stage", "in_call"],
    defaults=(False,),
)
# An addition that is not a branch plus a shortcut, and why.
SkippedAddition = collections.namedtuple(
    "SkippedAddition", ["path", "add", "reason"]
)
ResidualBlocks = collections.namedtuple("ResidualBlocks", ["found", "skipped"])

PROFILES = ("linear", "uniform", "stage")


def find_residual_blocks(model):
    """The residual blocks of a Functional model, read from its graph.

    Every addition (a `keras.layers.Add`, or `x + y` on symbolic tensors)
    of the model and of the Functional models nested in it is a residual
    block if it adds two tensors of which one (the shortcut) is the input
    the other (the branch) is computed from, or the shorter of two paths
    from the tensor where they part (a projection shortcut). Other
    additions are skipped, with the reason. Inside the KerasHub
    transformer blocks the model holds (`keras_hub.layers.TransformerEncoder`
    in BERT-like backbones, the encoder blocks of `ViTBackbone`), whose
    additions are in their `call`, the attention branch and the MLP branch
    of each block are found too (`in_call=True`: `path` ends with the
    block, `add` names the sublayer whose output is the branch); other
    KerasHub layers holding an attention layer are skipped.

    Args:
        model: A Functional `keras.Model`.

    Returns:
        `ResidualBlocks(found, skipped)`: lists of `ResidualBlock` (in the
        order the graph computes them: the first is the shallowest) and of
        `SkippedAddition`.

    Examples:
        >>> inputs = keras.Input((4,))
        >>> branch = keras.layers.Dense(4)(inputs)
        >>> outputs = keras.layers.Add(name="block")([inputs, branch])
        >>> model = keras.Model(inputs, outputs)
        >>> blocks = kerasdrop.models.find_residual_blocks(model)
        >>> [(block.add, block.branch_index) for block in blocks.found]
        [('block', 1)]
    """
    _check_functional(model)
    found, skipped = [], []
    _find(model, (model.name,), found, skipped)
    # Stages: blocks in a row whose outputs have as many channels. (The
    # resolution is no guide: ResNet puts a stage's stride in its first
    # block, ResNetV2 in its last.)
    staged, stage, width = [], -1, None
    for block, channels in found:
        if channels != width:
            stage, width = stage + 1, channels
        staged.append(block._replace(stage=stage))
    return ResidualBlocks(staged, skipped)


def add_stochastic_depth(
    model, rate=0.1, profile="linear", seed=None, mode="row"
):
    """Returns a copy of `model` with DropPath on every residual branch.

    The copy has the same weights, and the same outputs at inference, bit
    for bit: a `DropPath` returns its input unless training. The `i`-th of
    `L` residual blocks (see `find_residual_blocks`) gets the rate
    `profile` gives it:

    - `"linear"`: rising evenly from 0 (first block) to `rate` (last), as
      timm's models space their drop-path rates (`depth_rates(rate, L)`);
    - `"uniform"`: `rate` for every block;
    - `"stage"`: one rate per stage (blocks in a row whose outputs have as
      many channels), rising evenly from `rate / S` (first of `S` stages)
      to `rate` (last);
    - a list of `L` rates, explicit.

    Each `DropPath` is named after its addition (`"<add>_drop_path"`);
    `DropoutScheduler(schedule, relative=True)` multiplies every rate by the
    schedule's value and so keeps the profile. A nested model that the
    model calls with `training=False` (a frozen backbone) is called in the
    caller's mode in the copy, so its DropPath can act, and its
    `BatchNormalization` layers are frozen, which keeps them in inference
    mode.

    In a KerasHub transformer backbone (ViT, BERT and the other backbones
    built from `keras_hub.layers.TransformerEncoder`), or a model holding
    one, each block's attention and MLP branches get a `DropPath` on the
    output of the sublayer that computes them (the dropout after the
    attention, ViT's MLP), the `i`-th of the `2 * num_layers` branches at
    the profile's `i`-th rate; the copy keeps the backbone's class. It
    saves to `.keras` and loads back with its DropPath layers and rates
    (with `import kerasdrop`, also with `safe_mode=True`).

    Args:
        model: A Functional `keras.Model` (for instance one of
            `keras.applications`' ResNets, ResNetV2s, ResNetRSs,
            EfficientNets or ConvNeXts, a KerasHub `ViTBackbone` or
            `BertBackbone`, or a classifier holding one).
        rate: Float between 0 and 1, the largest rate of the profile.
        profile: `"linear"`, `"uniform"`, `"stage"` or a list of rates, one
            per residual block.
        seed: Integer seed; the `i`-th DropPath gets `seed + i`.
        mode: `DropPath`'s mode: `"row"` (per sample) or `"batch"`.

    Returns:
        The new `keras.Model`. Its `stochastic_depth` attribute lists the
        `ResidualBlocks` found and skipped in `model`.

    Raises:
        ValueError: if `model` has no residual block, or `profile` is
            invalid.

    Examples:
        >>> model = keras.applications.MobileNetV2(
        ...     weights=None, input_shape=(32, 32, 3), alpha=0.35
        ... )
        >>> copy = kerasdrop.models.add_stochastic_depth(model, rate=0.2)
        >>> rates = kerasdrop.find_rates(copy)
        >>> len(rates), round(float(max(rates.values())), 6)
        (10, 0.2)
    """
    rate = validate_rate(rate, "rate")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
    ):
        raise ValueError(
            "Invalid value received for argument `seed`. Expected an "
            f"integer or None. Received: seed={seed!r}"
        )
    if mode not in ("row", "batch"):
        raise ValueError(
            "Invalid value received for argument `mode`. Expected "
            f'"row" or "batch". Received: mode={mode!r}'
        )
    blocks = find_residual_blocks(model)
    if not blocks.found:
        reasons = "".join(
            f"\n- '{item.add}': {item.reason}" for item in blocks.skipped
        )
        raise ValueError(
            f"No residual block found in the model '{model.name}': no "
            "addition of a branch to its shortcut in its graph (or in the "
            f"Functional models nested in it).{reasons}"
        )
    rates = _profile_rates(profile, rate, blocks.found)
    plan = {}  # (path, add name) -> (block, rate, seed), in the graph
    in_calls = []  # (block, rate, seed), inside blocks' calls
    for index, (block, block_rate) in enumerate(zip(blocks.found, rates)):
        block_seed = None if seed is None else seed + index
        if block.in_call:
            in_calls.append((block, block_rate, block_seed))
        else:
            plan[(block.path, block.add)] = (block, block_rate, block_seed)
    if not plan and not _compat.serializes_own_layers(model):
        # A KerasHub backbone: its class builds it (a Functional clone
        # would be a plain Functional model).
        copy = model.__class__.from_config(model.get_config())
        copy_layer_state(model, copy)
    else:
        pairs = []
        holders = {block.path for block, _, _ in in_calls}
        copy = _clone(
            model, (model.name,), plan, mode, pairs, holders, top=True
        )
        for original, clone in pairs:
            copy_layer_state(original, clone)
    for block, block_rate, block_seed in in_calls:
        _drop_in_call(copy, block, block_rate, block_seed, mode)
    copy.stochastic_depth = blocks
    return copy


def _drop_in_call(copy, block, rate, seed, mode):
    """Puts a DropPath on the branch of `block` (inside a block's call) in
    `copy`, and makes the layer that builds the block save it."""
    chain = [copy]
    for name in block.path[1:]:
        chain.append(
            next(
                layer
                for layer in _compat.child_layers(chain[-1])
                if layer.name == name
            )
        )
    target = next(
        layer
        for layer in _compat.child_layers(chain[-1])
        if layer.name == block.add
    )
    block_stochastic_depth.drop_output(
        target, rate, seed, mode, f"{block.add}_drop_path"
    )
    owner = block_stochastic_depth.owner_of(chain)
    block_stochastic_depth.register_owner(owner, target)


def _check_functional(model):
    if not isinstance(model, keras.Model) or not _compat.is_functional(model):
        raise ValueError(
            "Invalid value received for argument `model`. Expected a "
            "Functional keras.Model (built from `keras.Input`): only its "
            "graph shows which additions are residual. Received: "
            f"model={model!r} of type {type(model).__name__}"
        )


def _find(model, path, found, skipped):
    """Adds the residual additions of `model`'s graph (and of nested
    Functional models, in graph order) to `found` and `skipped`."""
    in_graph = _graph_tensors(model)
    for operation in model.operations:
        if isinstance(operation, keras.Model) and _compat.is_functional(
            operation
        ):
            _find(operation, path + (operation.name,), found, skipped)
            continue
        if isinstance(operation, keras.layers.Layer):
            _find_in_calls(operation, path, found, skipped)
        if not _compat.is_add_operation(operation):
            continue
        for inputs, outputs in _compat.operation_calls(operation):
            output = keras.tree.flatten(outputs)[0]
            if id(output) not in in_graph:
                continue  # A call of a shared layer in another graph.
            reason, branch = _branch_index(inputs)
            if reason is not None:
                skipped.append(SkippedAddition(path, operation.name, reason))
                continue
            existing = _existing_drop_path(inputs[branch])
            block = ResidualBlock(path, operation.name, branch, existing, None)
            found.append((block, output.shape[-1]))


def _find_in_calls(layer, path, found, skipped):
    """Adds the branches inside the known blocks of `layer` (a layer of a
    graph at `path`) to `found`, and the unknown KerasHub blocks to
    `skipped`."""
    branches, unknown = block_stochastic_depth.find_block_branches(layer)
    for branch in branches:
        block = ResidualBlock(
            path + (layer.name,) + branch.names,
            branch.target.name,
            branch.branch_index,
            block_stochastic_depth.existing_drop_path(branch.target),
            None,
            in_call=True,
        )
        # Transformer blocks in a row are one stage.
        found.append((block, ("block", type(branch.block).__name__)))
    for names, reason in unknown:
        names = path + (layer.name,) + names
        skipped.append(SkippedAddition(names[:-1], names[-1], reason))


def _graph_tensors(model):
    """The ids of the tensors computed in `model`'s own graph."""
    tensors = set()
    pending = list(keras.tree.flatten(model.outputs))
    while pending:
        tensor = pending.pop()
        if id(tensor) in tensors:
            continue
        tensors.add(id(tensor))
        pending.extend(_compat.tensor_parents(tensor)[1])
    return tensors


def _distances(tensor):
    """Every tensor that `tensor` is computed from, by id, with the fewest
    operations between them: what tells a short shortcut from a long
    branch."""
    distances = {id(tensor): 0}
    frontier = [tensor]
    step = 0
    while frontier:
        step += 1
        following = []
        for current in frontier:
            for parent in _compat.tensor_parents(current)[1]:
                if id(parent) not in distances:
                    distances[id(parent)] = step
                    following.append(parent)
        frontier = following
    return distances


def _branch_index(inputs):
    """`(None, index of the branch)`, or `(reason, None)` to skip."""
    if len(inputs) != 2:
        return (
            f"adds {len(inputs)} tensors, not a branch and a shortcut",
            None,
        )
    first, second = inputs
    if tuple(first.shape) != tuple(second.shape):
        return "adds tensors of different shapes (a broadcast)", None
    from_first, from_second = _distances(first), _distances(second)
    if id(first) in from_second:
        return None, 1  # The first input is the block's input: a shortcut.
    if id(second) in from_first:
        return None, 0
    common = set(from_first) & set(from_second)
    if not common:
        return "its inputs are not computed from a common tensor", None
    # The two paths part at the common tensor nearest to both.
    split = min(common, key=lambda key: from_first[key] + from_second[key])
    length_first, length_second = from_first[split], from_second[split]
    if length_first == length_second:
        return (
            "its two inputs are computed by paths of the same length, so "
            "neither is the shortcut",
            None,
        )
    return None, 0 if length_first > length_second else 1


def _existing_drop_path(branch):
    """The name of the layer that already drops `branch` per sample."""
    layer, _ = _compat.tensor_parents(branch)
    return layer.name if _is_drop_path(layer) else None


def _is_drop_path(layer):
    if isinstance(layer, DropPath):
        return True
    if type(layer).__name__ == "StochasticDepth" and hasattr(
        layer, "drop_path_rate"
    ):
        return True
    if type(layer) in (keras.layers.Dropout, ScheduledDropout):
        shape = getattr(layer, "noise_shape", None)
        return shape is not None and all(size == 1 for size in shape[1:])
    return False


def _profile_rates(profile, rate, blocks):
    count = len(blocks)
    if isinstance(profile, str):
        if profile == "linear":
            return depth_rates(rate, count)
        if profile == "uniform":
            return [rate] * count
        if profile == "stage":
            stages = max(block.stage for block in blocks) + 1
            per_stage = depth_rates(rate, stages, min_rate=rate / stages)
            return [per_stage[block.stage] for block in blocks]
    elif isinstance(profile, (list, tuple)):
        if len(profile) != count:
            raise ValueError(
                f"`profile` gives {len(profile)} rates, but the model has "
                f"{count} residual blocks. Received: profile={profile!r}"
            )
        return [validate_rate(value, "profile") for value in profile]
    raise ValueError(
        "Invalid value received for argument `profile`. Expected one of "
        f"{PROFILES} or a list of rates, one per residual block. "
        f"Received: profile={profile!r}"
    )


def _clone(model, path, plan, mode, pairs, holders, top=False):
    """Copies Functional `model` with the planned DropPath layers.

    `holders`: the paths of the blocks that get a DropPath inside their
    call, after the copy."""
    here = {add: entry for (where, add), entry in plan.items() if where == path}
    replaced = {block.existing: entry for block, *entry in here.values()}
    replaced.pop(None, None)
    has_blocks = {where for where, _ in plan}
    has_drop_paths = has_blocks | set(holders)
    frozen_calls = []

    def clone_operation(operation):
        if isinstance(operation, keras.Model) and _compat.is_functional(
            operation
        ):
            inner = path + (operation.name,)
            if any(where[: len(inner)] == inner for where in has_blocks):
                return _clone(operation, inner, plan, mode, pairs, holders)
        if operation.name in replaced:
            block_rate, block_seed = replaced[operation.name]
            return DropPath(
                block_rate, seed=block_seed, mode=mode, name=operation.name
            )
        clone = operation.__class__.from_config(operation.get_config())
        if isinstance(operation, keras.layers.Layer):
            pairs.append((operation, clone))
        return clone

    def call_operation(operation, *args, **kwargs):
        if isinstance(operation, keras.Model) and any(
            where[: len(path) + 1] == path + (operation.name,)
            for where in has_drop_paths
        ):
            if kwargs.get("training") is False:
                # A frozen backbone: run it in the caller's mode, so its
                # DropPath acts, with its BatchNorm frozen instead.
                kwargs = {k: v for k, v in kwargs.items() if k != "training"}
                frozen_calls.append(operation)
        entry = here.get(operation.name)
        if entry is not None and entry[0].existing is None:
            block, block_rate, block_seed = entry
            drop_path = DropPath(
                block_rate,
                seed=block_seed,
                mode=mode,
                name=f"{operation.name}_drop_path",
            )
            args = _with_branch_dropped(args, block.branch_index, drop_path)
        return operation(*args, **kwargs)

    copy = keras.models.clone_model(
        model,
        input_tensors=fresh_inputs(model),
        clone_function=clone_operation,
        call_function=call_operation,
    )
    for nested in frozen_calls:
        for layer in _compat.flatten_layers(nested):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
    if not model.trainable:
        copy.trainable = False
    return copy


def _with_branch_dropped(args, index, drop_path):
    """The call arguments of an addition, its `index`-th input dropped."""
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        inputs = list(args[0])  # An `Add` layer: one list of tensors.
        inputs[index] = drop_path(inputs[index])
        return (inputs,) + tuple(args[1:])
    args = list(args)  # `keras.ops.add(x, y)`: the tensors themselves.
    args[index] = drop_path(args[index])
    return tuple(args)
