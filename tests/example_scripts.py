"""Loads the scripts in examples/ as modules, for end-to-end tests.

`end_to_end` marks a test that runs an example end to end: skipped on
JAX, where each run of a script compiles its steps with XLA (tens of
seconds per test on two cores); `KERASDROP_EXAMPLES_ALL_BACKENDS=1` runs
them there too. CI runs every example test on TensorFlow only (the
`example` marker, see `conftest.py`): the library's parts are tested on
every backend by the other tests.
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
    keras.backend.backend() == "jax"
    and not os.environ.get("KERASDROP_EXAMPLES_ALL_BACKENDS"),
    reason="slow on JAX, where each run compiles its steps with XLA; "
    "KERASDROP_EXAMPLES_ALL_BACKENDS=1 runs it",
)
