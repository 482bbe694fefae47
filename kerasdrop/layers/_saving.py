"""Saving kerasdrop layers that another layer re-creates when loaded.

`kerasdrop.make_schedulable` converts Keras's dropout in place, wherever it
is. Inside a Functional or Sequential model the converted layer's config is
saved, so a loaded model has the kerasdrop layer back, with its rate. Inside
a layer that builds its sublayers from its own arguments (a KerasHub
transformer block, a KerasHub backbone), loading builds Keras's own dropout
again, from the block's `dropout` argument; Keras's layer holds no rate
variable, so loading the saved rate variable into it would fail.

Such a converted layer is marked with the path `make_schedulable` found it
at, and the name of the model it was given. When saved it writes no
variables of its own (so the Keras layer built on loading loads without
error) and writes its current rates into the `.keras` file's assets instead,
where `kerasdrop.make_schedulable(model, rates_from=path)` reads them back.

A model that holds the converted layer without its owner (a Functional
model built on a backbone's inputs and outputs takes the backbone's layers
as its own) saves the layer's config, and loading re-creates the kerasdrop
layer from it. Its config says that the file holds its rates there, at
their current values, and not in the weights.
"""

import json
import os
import warnings

from kerasdrop.layers.rates import read_rate

ASSET_FILE = "kerasdrop_rates.json"
"""Name of the asset file holding a re-created layer's rates."""

RATES_IN_CONFIG = "rates_in_config"
"""Config key of a marked layer: its rates are in its config, not its
weights."""

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

    A layer is marked by setting `rebuilt_by_owner_path` (a string) and
    `rebuilt_by_owner_root` (the name of the model the path starts from);
    an unmarked layer saves and loads as any Keras layer.
    """

    rebuilt_by_owner_path = None
    rebuilt_by_owner_root = None
    # Whether the layer was made from the config of a marked layer, whose
    # rates that config holds.
    _rates_in_config = False

    def save_own_variables(self, store):
        if self.rebuilt_by_owner_path is None:
            super().save_own_variables(store)

    def load_own_variables(self, store):
        marked = self.rebuilt_by_owner_path is not None
        if (marked or self._rates_in_config) and not len(store.keys()):
            return  # Saved by a marked layer: no variables to load.
        super().load_own_variables(store)

    def get_config(self):
        config = super().get_config()
        if self.rebuilt_by_owner_path is not None:
            config[RATES_IN_CONFIG] = True
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        rates_in_config = config.pop(RATES_IN_CONFIG, False)
        layer = super().from_config(config)
        layer._rates_in_config = bool(rates_in_config)
        return layer

    def save_assets(self, dir_path):
        if self.rebuilt_by_owner_path is None:
            return
        warnings.warn(_WARNING, stacklevel=2)
        record = {
            "path": self.rebuilt_by_owner_path,
            "root": self.rebuilt_by_owner_root,
            "class_name": type(self).__name__,
            "rates": {
                name: read_rate(variable)
                for name, variable in self.dropout_rates.items()
            },
        }
        with open(os.path.join(dir_path, ASSET_FILE), "w") as file:
            json.dump(record, file)
