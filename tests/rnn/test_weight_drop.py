import keras
import numpy as np
import pytest
from keras import ops

import kerasdrop
from tests.layer_testing import make_inputs

X = make_inputs((3, 6, 5))
PAIRS = [
    (kerasdrop.WeightDropLSTM, keras.layers.LSTM),
    (kerasdrop.WeightDropGRU, keras.layers.GRU),
]


def _numpy(x):
    return ops.convert_to_numpy(x)


def _pair(cls, keras_cls, rate, **kwargs):
    layer = cls(4, rate=rate, seed=1, **kwargs)
    layer(X)
    keras_layer = keras_cls(4, **kwargs)
    keras_layer(X)
    keras_layer.set_weights(layer.get_weights())
    return layer, keras_layer


@pytest.mark.parametrize("cls, keras_cls", PAIRS)
def test_is_keras_layer_on_its_fused_path(cls, keras_cls):
    layer = cls(4, rate=0.5)
    assert isinstance(layer, keras_cls)
    # Keras leaves its fused step (and cuDNN) for recurrent_dropout only.
    assert layer.recurrent_dropout == 0.0
    assert layer.cell.implementation == 2


@pytest.mark.parametrize("cls, keras_cls", PAIRS)
def test_inference_is_the_keras_layer_at_any_rate(cls, keras_cls):
    layer, keras_layer = _pair(cls, keras_cls, 0.7, return_sequences=True)
    np.testing.assert_allclose(
        _numpy(layer(X)), _numpy(keras_layer(X)), atol=1e-6
    )


@pytest.mark.parametrize("cls, keras_cls", PAIRS)
def test_rate_one_trains_without_recurrent_weights(cls, keras_cls):
    layer, keras_layer = _pair(cls, keras_cls, 1.0, return_sequences=True)
    kernel, recurrent_kernel, bias = layer.get_weights()
    keras_layer.set_weights([kernel, np.zeros_like(recurrent_kernel), bias])
    np.testing.assert_allclose(
        _numpy(layer(X, training=True)), _numpy(keras_layer(X)), atol=1e-6
    )
    # The variable itself is never assigned.
    np.testing.assert_array_equal(
        _numpy(layer.cell.recurrent_kernel), recurrent_kernel
    )


@pytest.mark.parametrize("cls, keras_cls", PAIRS)
def test_one_kernel_mask_per_batch(cls, keras_cls):
    layer = cls(8, rate=0.5, seed=2)
    x = np.repeat(X[:1], 4, axis=0)  # Four copies of one sequence.
    first = _numpy(layer(x, training=True))
    # Every sample of a batch sees the same dropped kernel...
    np.testing.assert_allclose(first, np.repeat(first[:1], 4, 0), atol=1e-6)
    # ...and the next batch another one.
    assert np.abs(first - _numpy(layer(x, training=True))).max() > 1e-4


@pytest.mark.parametrize("cls, keras_cls", PAIRS)
def test_gradients_reach_the_recurrent_kernel(cls, keras_cls):
    layer = cls(4, rate=0.5, seed=3, name="rnn")
    model = keras.Sequential([keras.Input((6, 5)), layer])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    before = _numpy(layer.cell.recurrent_kernel).copy()
    model.fit(X, np.ones((3, 4), "float32"), epochs=1, verbose=0)
    after = _numpy(layer.cell.recurrent_kernel)
    changed = np.abs(after - before) > 1e-7
    # Dropped entries get no gradient in a step; kept ones do.
    assert 0.2 < changed.mean() < 0.8


@pytest.mark.parametrize("cls, keras_cls", PAIRS)
def test_config_keeps_rate_and_seed(cls, keras_cls):
    layer = cls(4, rate=0.25, seed=9, dropout=0.1, go_backwards=True)
    config = layer.get_config()
    assert (config["rate"], config["seed"], config["dropout"]) == (
        0.25,
        9,
        pytest.approx(0.1),
    )
    clone = cls.from_config(config)
    assert clone.get_config() == config
    assert clone.go_backwards


@pytest.mark.parametrize("cls, keras_cls", PAIRS)
def test_invalid_arguments_raise(cls, keras_cls):
    with pytest.raises(ValueError, match="argument `rate`"):
        cls(4, rate=1.01)
    with pytest.raises(TypeError, match="argument `rate`"):
        cls(4, rate=None)
    with pytest.raises(ValueError, match="recurrent_dropout=0.3"):
        cls(4, recurrent_dropout=0.3)


@pytest.mark.parametrize("cls, keras_cls", PAIRS)
def test_traced_training_step_keeps_keras_cudnn_kernel(
    cls, keras_cls, monkeypatch
):
    # Keras takes the cuDNN path when TensorFlow lists a GPU. Listing one
    # here lets the training step be traced (not run) as it would be on a
    # GPU machine, and its op types read.
    if keras.backend.backend() != "tensorflow":
        pytest.skip("Traces a tf.function.")
    import tensorflow as tf

    list_devices = tf.config.list_logical_devices
    gpu = tf.config.LogicalDevice("/device:GPU:0", "GPU")

    def traced_ops(layer):
        layer(X)
        monkeypatch.setattr(
            tf.config,
            "list_logical_devices",
            lambda kind=None: [gpu] if kind == "GPU" else list_devices(kind),
        )

        @tf.function
        def step(inputs):
            with tf.GradientTape() as tape:
                loss = ops.sum(layer(inputs, training=True))
            return tape.gradient(loss, layer.trainable_weights)

        graph = step.get_concrete_function(X).graph.as_graph_def()
        monkeypatch.undo()
        names = {node.op for node in graph.node}
        for function in graph.library.function:
            names.update(node.op for node in function.node_def)
        return names

    assert "CudnnRNNV3" in traced_ops(keras_cls(4))
    assert "CudnnRNNV3" in traced_ops(cls(4, rate=0.5))
    # The check can fail: Keras's recurrent dropout leaves the kernel.
    assert "CudnnRNNV3" not in traced_ops(keras_cls(4, recurrent_dropout=0.5))
