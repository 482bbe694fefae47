"""Every public kerasdrop layer, with a small input, for catalog-wide tests.

`test_catalog_covers_every_registered_layer` fails when a new layer is
registered without an entry here, so the reliability tests stay complete.
"""

import keras
import numpy as np

import kerasdrop


def _rnn(cell_factory):
    def factory(**kwargs):
        return keras.layers.RNN(cell_factory(kwargs.get("dtype")), **kwargs)

    return factory


SEQUENCE = (2, 5, 3)

# name -> (factory(**layer_kwargs) -> layer, input shape)
LAYERS = {
    "ScheduledDropout": (
        lambda **kw: kerasdrop.ScheduledDropout(0.3, seed=1, **kw),
        (4, 6),
    ),
    "ScheduledSpatialDropout1D": (
        lambda **kw: kerasdrop.ScheduledSpatialDropout1D(0.3, seed=1, **kw),
        (2, 4, 3),
    ),
    "ScheduledSpatialDropout2D": (
        lambda **kw: kerasdrop.ScheduledSpatialDropout2D(0.3, seed=1, **kw),
        (2, 4, 4, 3),
    ),
    "ScheduledSpatialDropout3D": (
        lambda **kw: kerasdrop.ScheduledSpatialDropout3D(0.3, seed=1, **kw),
        (2, 3, 3, 3, 2),
    ),
    "ScheduledGaussianDropout": (
        lambda **kw: kerasdrop.ScheduledGaussianDropout(0.3, seed=1, **kw),
        (4, 6),
    ),
    "ScheduledGaussianNoise": (
        lambda **kw: kerasdrop.ScheduledGaussianNoise(0.3, seed=1, **kw),
        (4, 6),
    ),
    "ScheduledAlphaDropout": (
        lambda **kw: kerasdrop.ScheduledAlphaDropout(0.3, seed=1, **kw),
        (4, 6),
    ),
    "ScheduledMultiHeadAttention": (
        lambda **kw: kerasdrop.ScheduledMultiHeadAttention(
            2, 4, dropout=0.3, seed=1, **kw
        ),
        (2, 5, 8),
    ),
    "VariationalDropout": (
        lambda **kw: kerasdrop.VariationalDropout(0.3, seed=1, **kw),
        SEQUENCE,
    ),
    "VariationalLSTM": (
        lambda **kw: kerasdrop.VariationalLSTM(
            4, input_rate=0.3, recurrent_rate=0.2, seed=1, **kw
        ),
        SEQUENCE,
    ),
    "VariationalGRU": (
        lambda **kw: kerasdrop.VariationalGRU(
            4, input_rate=0.3, recurrent_rate=0.2, seed=1, **kw
        ),
        SEQUENCE,
    ),
    "VariationalDropoutCell": (
        _rnn(
            lambda dtype: kerasdrop.VariationalDropoutCell(
                keras.layers.SimpleRNNCell(4, dtype=dtype),
                input_rate=0.3,
                recurrent_rate=0.2,
                seed=1,
                dtype=dtype,
            )
        ),
        SEQUENCE,
    ),
    "WeightDropLSTM": (
        lambda **kw: kerasdrop.WeightDropLSTM(4, rate=0.3, seed=1, **kw),
        SEQUENCE,
    ),
    "WeightDropGRU": (
        lambda **kw: kerasdrop.WeightDropGRU(4, rate=0.3, seed=1, **kw),
        SEQUENCE,
    ),
    "ZoneoutLSTM": (
        lambda **kw: kerasdrop.ZoneoutLSTM(
            4, cell_rate=0.3, hidden_rate=0.1, seed=1, **kw
        ),
        SEQUENCE,
    ),
    "ZoneoutGRU": (
        lambda **kw: kerasdrop.ZoneoutGRU(4, rate=0.2, seed=1, **kw),
        SEQUENCE,
    ),
    "ZoneoutCell": (
        _rnn(
            lambda dtype: kerasdrop.ZoneoutCell(
                keras.layers.SimpleRNNCell(4, dtype=dtype),
                rate=0.2,
                seed=1,
                dtype=dtype,
            )
        ),
        SEQUENCE,
    ),
}

if hasattr(kerasdrop.layers, "DropPath"):
    LAYERS["DropPath"] = (
        lambda **kw: kerasdrop.layers.DropPath(0.3, seed=1, **kw),
        (4, 3, 3, 2),
    )

LAYERS["DropBlock2D"] = (
    lambda **kw: kerasdrop.DropBlock2D(0.3, block_size=3, seed=1, **kw),
    (2, 6, 5, 3),
)
LAYERS["EmbeddingDropout"] = (
    lambda **kw: kerasdrop.EmbeddingDropout(10, 4, 0.3, seed=1, **kw),
    (2, 7),
)
LAYERS["ConcreteDropout"] = (
    lambda **kw: kerasdrop.ConcreteDropout(
        keras.layers.Dense(4, dtype=kw.get("dtype")),
        init_min=0.3,
        init_max=0.3,
        seed=1,
        **kw,
    ),
    (4, 6),
)

# Layers fed with token ids (vocabulary size) rather than floats.
INTEGER_INPUTS = {"EmbeddingDropout": 10}

# Layers whose rate is learned: not a schedulable rate variable.
LEARNED_RATES = {"ConcreteDropout"}


def make_input(name, seed=0):
    """A test input for the layer `name` of the catalog."""
    shape = LAYERS[name][1]
    rng = np.random.default_rng(seed)
    if name in INTEGER_INPUTS:
        return rng.integers(0, INTEGER_INPUTS[name], shape).astype("int32")
    return rng.standard_normal(shape).astype("float32")


# A bare ZoneoutCell in keras.layers.RNN draws its masks inside the time
# loop; on JAX that loop would reuse one mask, so training raises there and
# points to ZoneoutLSTM / ZoneoutGRU (which draw the masks before the loop).
TRAINING_NEEDS_TENSORFLOW = {"ZoneoutCell"}


def skip_training_on_jax(name):
    """A pytest skip marker for layers that cannot train on JAX."""
    import pytest

    return pytest.mark.skipif(
        name in TRAINING_NEEDS_TENSORFLOW and keras.backend.backend() == "jax",
        reason="a bare ZoneoutCell trains on TensorFlow only",
    )


# Registered kerasdrop layers that hold no dropout (tested on their own).
NOT_DROPOUT = {"TemperatureScaling"}


def registered_layer_classes():
    """Names of all dropout layer classes registered under the kerasdrop
    package."""
    return {
        name.split(">", 1)[1]
        for name, obj in keras.saving.get_custom_objects().items()
        if name.startswith("kerasdrop>")
        and isinstance(obj, type)
        and issubclass(obj, keras.layers.Layer)
    } - NOT_DROPOUT


def built_classes(layer):
    """The class names of a layer and of the cell it wraps, if any."""
    names = {type(layer).__name__}
    cell = getattr(layer, "cell", None)
    if cell is not None:
        names.add(type(cell).__name__)
    return names
