"""The one place where kerasdrop relies on Keras internals.

Everything here is covered by `tests/test_compat.py`, so a Keras release that
changes these internals fails loudly in one place.
"""


def flatten_layers(model):
    """Returns `model` and all its nested layers (RNN cells, wrapped layers).

    Keras's public `Model.layers` lists only the direct children and misses
    layers nested inside others (the cell of an RNN, the layers of a
    `Bidirectional`), so this uses the private `Layer._flatten_layers`.
    """
    return model._flatten_layers(include_self=True, recursive=True)
