"""pytest set-up shared by the test suite and the docstring examples."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kerasdrop  # noqa: E402


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace.update(keras=keras, np=np, kerasdrop=kerasdrop)


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts with float32, channels_last and no leftover names."""
    yield
    keras.config.set_dtype_policy("float32")
    # free_memory=False skips a full garbage collection (~0.4 s per test).
    keras.backend.clear_session(free_memory=False)
