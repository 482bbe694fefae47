"""Loads the scripts in examples/ as modules, for end-to-end tests."""

import importlib.util
import os
import sys

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
