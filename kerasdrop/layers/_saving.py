"""Saving kerasdrop layers that another layer re-creates when loaded.

`kerasdrop.make_schedulable` converts Keras's dropout in place, wherever it
is. Inside a Functional or Sequential model the converted layer's config is
saved, so a loaded model has the kerasdrop layer back, with its rate. Inside
a layer that builds its sublayers from its own arguments (a KerasHub
transformer block, a KerasHub backbone), loading builds Keras's own dropout
again, from the block's `dropout` argument; Keras's layer holds no rate
variable, so loading the saved rate variable into it would fail.

Such a converted layer is marked with the path `make_schedulable` found it
at. When saved it writes no variables of its own (so the Keras layer built
on loading loads without error) and writes its current rates into the
`.keras` file's assets instead, where
`kerasdrop.make_schedulable(model, rates_from=path)` reads them back.
"""

import json
import os
import warnings

from kerasdrop.layers.rates import read_rate

ASSET_FILE = "kerasdrop_rates.json"
"""Name of the asset file holding a re-created layer's rates."""

_WARNING = (
    "The model being saved holds kerasdrop rates inside layers that build "
    "Keras's own dropout from their arguments when the model is loaded (see "
    "kerasdrop.make_schedulable). The loaded model has Keras's dropout at "
    "the rates of those arguments; "
    "`model = kerasdrop.make_schedulable(model, rates_from=<the .keras "
    "file>)` converts it again and restores the saved rates."
)


class RebuiltByOwnerState:
    """Mixin for kerasdrop layers that `make_schedulable` may convert.

    A layer is marked by setting `rebuilt_by_owner_path` (a string); an
    unmarked layer saves and loads as any Keras layer.
    """

    rebuilt_by_owner_path = None

    def save_own_variables(self, store):
        if self.rebuilt_by_owner_path is None:
            super().save_own_variables(store)

    def load_own_variables(self, store):
        if self.rebuilt_by_owner_path is not None and not len(store.keys()):
            return  # Saved by a marked layer: the rates are in the assets.
        super().load_own_variables(store)

    def save_assets(self, dir_path):
        if self.rebuilt_by_owner_path is None:
            return
        warnings.warn(_WARNING, stacklevel=2)
        record = {
            "path": self.rebuilt_by_owner_path,
            "class_name": type(self).__name__,
            "rates": {
                name: read_rate(variable)
                for name, variable in self.dropout_rates.items()
            },
        }
        with open(os.path.join(dir_path, ASSET_FILE), "w") as file:
            json.dump(record, file)
