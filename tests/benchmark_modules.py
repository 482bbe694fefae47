"""Loads a script of benchmarks/ as a module, for tests of its pieces."""

import importlib.util
import os

BENCHMARKS = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "benchmarks"
)


def load_benchmark(name):
    """The module of `benchmarks/<name>.py`, executed once per call."""
    path = os.path.join(BENCHMARKS, f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
