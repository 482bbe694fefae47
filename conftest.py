"""pytest set-up shared by the test suite and the docstring examples."""

import inspect
import os
import shutil
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# On JAX, Keras compiles every `fit`, `evaluate` and `predict` with XLA, and
# the tests' models are so small that compiling them costs far more than
# running them. XLA's heavier optimizations are off for the test run (set
# JAX_DISABLE_MOST_OPTIMIZATIONS=0 to test the optimized programs instead).
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kerasdrop  # noqa: E402


def _cache_jax_compilations():
    """Reuses the XLA programs of identical computations across tests.

    Many tests build the same small model, so their train, test and predict
    steps compile to the same program. Each test process keeps its compiled
    programs in a folder of its own (no two processes write one folder) that
    is removed when the process ends, so no run reuses another's programs.
    """
    if keras.backend.backend() != "jax" or os.environ.get(
        "JAX_COMPILATION_CACHE_DIR"
    ):
        return
    import atexit

    import jax

    folder = tempfile.mkdtemp(prefix="kerasdrop-xla-cache-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)


_cache_jax_compilations()


_FLOAT16_WORDS = ("float16", "mixed_precision", "check_layer_contract")

# Test files that compute nothing with a Keras backend: the docs and their
# results files, the package's structure, the examples' command lines,
# statistics of NumPy arrays, the timing and process harnesses.
_BACKEND_INDEPENDENT = {
    "tests/test_architecture.py",
    "tests/test_benchmark_timing.py",
    "tests/test_docs.py",
    "tests/test_docs_results.py",
    "tests/test_examples_cli.py",
    "tests/test_test_scheduling.py",
    "tests/distributed/test_harness.py",
    "tests/experiments/test_statistics.py",
}


# Tests that build the same large models, by node id prefix. Building one
# costs most the first time in a process -- on JAX every initializer and
# every op of its first call compile for their shapes (EfficientNetB0:
# 20 s, then 0.4 s) -- so each group runs in one test process
# (see `pytest_xdist_make_scheduler`) and builds them once.
_SHARED_BUILDS = {
    "keras_applications": (
        "tests/models/test_stochastic_depth.py::",
        "tests/models/test_make_schedulable.py::test_mobilenet",
        "tests/models/test_make_schedulable.py::test_efficientnet",
        "tests/models/test_make_schedulable.py::test_converted_application",
        "tests/callbacks/test_coadaptation_monitor.py::"
        "test_converted_efficientnet",
        "tests/transfer/test_backbones.py::test_keras_resnet",
        "kerasdrop/transfer/backbones.py::",
    ),
    "keras_hub": (
        "tests/models/test_make_schedulable_hub.py::",
        "tests/models/test_stochastic_depth_hub.py::",
        "tests/callbacks/test_coadaptation_monitor.py::test_converted_vit",
    ),
}


def _is_example_run(path):
    """Whether a test file runs example scripts end to end (by its name:
    `test_examples*.py` or `*_example.py`)."""
    name = os.path.basename(path)
    return name.startswith("test_examples") or name.endswith("_example.py")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`-n N` keeps each group of `_SHARED_BUILDS`, and each file of
    example runs, in one test process.

    pytest-xdist's own `--dist loadgroup` marks groups in the test ids,
    which pytest 9 no longer lets it change; this is that scheduler with
    the groups named here. Every other test is balanced as `--dist load`
    does; any other `--dist` is left alone.
    """
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedBuildScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            for group, prefixes in _SHARED_BUILDS.items():
                if nodeid.startswith(prefixes):
                    return group
            path = nodeid.split("::")[0]
            if _is_example_run(path):
                # Its tests share the module's run of the example.
                return path
            return nodeid

    return SharedBuildScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    """Marks the tests CI runs on one backend only, or twice.

    `float16`: the tests that compute in float16. Their results depend on
    which float16 kernels the CPU runs (oneDNN's AVX512-FP16/AMX kernels or
    Eigen's), so CI runs them a second time with oneDNN off:
    `TF_ENABLE_ONEDNN_OPTS=0 pytest -m float16`.

    `backend_independent` and `example`: tests whose result cannot depend
    on the backend, and end-to-end runs of the example scripts, whose parts
    the other tests check on every backend. CI runs both on TensorFlow, the
    README's backend, and leaves them out on JAX and PyTorch
    (`-m "not backend_independent and not example"`); they pass on every
    backend when run.
    """
    root = str(config.rootpath)
    for item in items:
        path = os.path.relpath(str(item.path), root)
        if path in _BACKEND_INDEPENDENT:
            item.add_marker(pytest.mark.backend_independent)
        if path.startswith("tests") and _is_example_run(path):
            item.add_marker(pytest.mark.example)
        function = getattr(item, "function", None)
        if function is None:
            continue
        if any(word in inspect.getsource(function) for word in _FLOAT16_WORDS):
            item.add_marker(pytest.mark.float16)


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace.update(keras=keras, np=np, kerasdrop=kerasdrop)


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts with float32, channels_last, no leftover names and
    the same random state (Python, NumPy and the backend seeded), so what
    a test draws does not depend on the tests run before it in its worker.
    """
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")
    # free_memory=False skips a full garbage collection (~0.4 s per test).
    keras.backend.clear_session(free_memory=False)
