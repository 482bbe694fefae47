"""What the tests that build keras.applications models share."""

import keras
import pytest

# Building a keras.applications model on JAX compiles an XLA program for
# every initializer and for every op of its first call (MobileNetV3Small:
# 39 s of a CI run, EfficientNetB0 20 s), and what these tests check of
# such a model -- which layers the walk finds, converts and measures, and
# how the converted model saves -- is Keras's backend-independent graph
# code. They run on TensorFlow and PyTorch; on JAX, small models check the
# same conversion, saving and measuring in compiled `fit`, and one
# EfficientNetB0 is still converted and trained
# (`test_efficientnet_b0_rates_follow_the_schedule_in_fit`).
not_on_jax = pytest.mark.skipif(
    keras.backend.backend() == "jax",
    reason="keras.applications graph walks are checked on TensorFlow and "
    "PyTorch: the walk does not depend on the backend, and building these "
    "models on JAX compiles every initializer",
)
