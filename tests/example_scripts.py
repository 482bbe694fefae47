"""Loads the scripts in examples/ as modules, for end-to-end tests.

`end_to_end` marks a test that runs an example end to end: on the
TensorFlow backend only, as CI runs them (the scripts feed `tf.data`
pipelines on every backend, the library's backends are covered by its own
tests, and a second run would double their CI time);
`KERASDROP_EXAMPLES_ALL_BACKENDS=1` runs them on the others too.
"""

import importlib.util
import os
import sys

import keras
import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "examples")
if EXAMPLES not in sys.path:  # The examples import example_utils.
    sys.path.insert(0, EXAMPLES)


def load_example(name):
    """Imports `examples/<name>.py` and returns the module."""
    path = os.path.join(EXAMPLES, f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


end_to_end = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow"
    and not os.environ.get("KERASDROP_EXAMPLES_ALL_BACKENDS"),
    reason="end-to-end example runs use the TensorFlow backend in CI",
)
