"""Turns a built Keras dropout layer into its kerasdrop twin, in place.

The layer object stays the same, so every graph node, attribute and list
that holds it now holds the kerasdrop layer: only its class changes, and the
state the kerasdrop class adds (its rate variables, and a seed generator if
Keras's layer, built at rate 0, has none) is created. The kerasdrop classes
take the same arguments, under the same names, as the Keras classes they
replace, and compute the same thing at inference (the identity), so the
model's weights and inference outputs are unchanged.

The steps a model traced before one of its layers changed in place are
stale: `retrace_models_holding` makes every model that holds a changed layer
trace its steps again.
"""

import gc

import keras

from kerasdrop import _compat
from kerasdrop.layers.masks import validate_noise_shape
from kerasdrop.layers.scheduled_alpha_dropout import ScheduledAlphaDropout
from kerasdrop.layers.scheduled_dropout import ScheduledDropout
from kerasdrop.layers.scheduled_gaussian_dropout import ScheduledGaussianDropout
from kerasdrop.layers.scheduled_gaussian_noise import ScheduledGaussianNoise
from kerasdrop.layers.scheduled_spatial_dropout import ScheduledSpatialDropout1D
from kerasdrop.layers.scheduled_spatial_dropout import ScheduledSpatialDropout2D
from kerasdrop.layers.scheduled_spatial_dropout import ScheduledSpatialDropout3D

# Keras class -> (kerasdrop class, name of the rate attribute). Exact types
# only: a subclass of Keras's layer may compute something else.
TWINS = {
    keras.layers.Dropout: (ScheduledDropout, "rate"),
    keras.layers.SpatialDropout1D: (ScheduledSpatialDropout1D, "rate"),
    keras.layers.SpatialDropout2D: (ScheduledSpatialDropout2D, "rate"),
    keras.layers.SpatialDropout3D: (ScheduledSpatialDropout3D, "rate"),
    keras.layers.GaussianDropout: (ScheduledGaussianDropout, "rate"),
    keras.layers.GaussianNoise: (ScheduledGaussianNoise, "stddev"),
    keras.layers.AlphaDropout: (ScheduledAlphaDropout, "rate"),
}


def _own_class(layer):
    """The class of `layer`, or the one a kerasdrop subclass was made from
    (a layer whose output `add_stochastic_depth` drops per sample)."""
    return type(layer).__dict__.get("_kerasdrop_base_class", type(layer))


def has_twin(layer):
    """Whether `layer` is one of Keras's dropout layers (exact type)."""
    return _own_class(layer) in TWINS


def convert_in_place(layer):
    """Makes the Keras dropout layer `layer` its kerasdrop twin.

    Args:
        layer: A `keras.layers.Dropout`, `SpatialDropout1D/2D/3D`,
            `GaussianDropout`, `GaussianNoise` or `AlphaDropout` (exact
            type).

    Returns:
        `layer`, now an instance of the kerasdrop class, with the same
        name, rate, seed, noise shape and data format.
    """
    twin, rate_name = TWINS[_own_class(layer)]
    # A subclass made by kerasdrop is made again on the twin.
    rebase = type(layer).__dict__.get("_kerasdrop_rebase")
    value = float(getattr(layer, rate_name))
    seed_generator = getattr(layer, "seed_generator", None)
    noise_shape = validate_noise_shape(getattr(layer, "noise_shape", None))
    with _compat.unlocked_state(layer):
        layer.__class__ = twin if rebase is None else rebase(twin)
        # Keras's float sits in the instance dict, under the property.
        layer.__dict__.pop(rate_name, None)
        setattr(layer, rate_name, value)
        if seed_generator is None:
            # Keras creates none at rate 0; the twin always has one.
            layer.seed_generator = keras.random.SeedGenerator(layer.seed)
        if hasattr(layer, "noise_shape"):
            layer.noise_shape = noise_shape
        if getattr(twin, "rank", None) and not hasattr(layer, "data_format"):
            # Keras's SpatialDropout1D is channels-last only.
            layer.data_format = "channels_last"
        layer.supports_masking = True
    return layer


def retrace_models_holding(layers):
    """Drops the traced functions of every model that holds one of `layers`.

    A traced `fit`, `evaluate` or `predict` step keeps what it traced: the
    float rate of a Keras dropout layer, the computation of the layer's old
    class. A layer changed in place is held by the model it was changed
    through, by the models nested in it and by any other model that shares
    it (an inner model called by two outer models), and each of them may
    have traced it. Keras keeps no link from a layer to the models that
    hold it, and a model may have been fitted without kerasdrop ever seeing
    it, so this looks at every live model once (the garbage collector lists
    them) and makes those that hold a changed layer trace again on their
    next call. A `DropoutScheduler`'s scheduled train function follows the
    model's own (see `kerasdrop/callbacks/_train_step.py`).

    Args:
        layers: The layers that changed in place.
    """
    changed = {id(layer) for layer in layers}
    if not changed:
        return
    for candidate in gc.get_objects():
        # `type()`, not `isinstance()`: it reads no attribute of the objects
        # it skips (lazy modules, proxies).
        if not issubclass(type(candidate), keras.Model):
            continue
        if _compat.has_compiled_functions(candidate) and any(
            id(layer) in changed for layer in _compat.flatten_layers(candidate)
        ):
            _compat.reset_compiled_functions(candidate)
