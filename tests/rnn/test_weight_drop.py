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


@pytest.mark.parametrize(
    "layer_class, fused_name",
    [
        (kerasdrop.WeightDropLSTM, "bidirectional_lstm"),
        (kerasdrop.WeightDropGRU, "bidirectional_gru"),
    ],
    ids=["WeightDropLSTM", "WeightDropGRU"],
)
def test_fused_bidirectional_kernel_gets_dropped_kernels(
    monkeypatch, layer_class, fused_name
):
    # Keras's fused bidirectional LSTM/GRU (JAX and PyTorch on a GPU) reads
    # both cells' kernels without calling the layers. Emulated on the CPU:
    # Keras is pointed at a stand-in that records the kernels it receives,
    # then declines (as the real one does without cuDNN), so Keras runs its
    # two-layer path.
    from keras.src import backend as keras_backend

    received = []

    def fused(*args, **kwargs):
        received.append(
            [kwargs["fwd_recurrent_kernel"], kwargs["bwd_recurrent_kernel"]]
        )
        raise NotImplementedError

    monkeypatch.setattr(keras_backend, fused_name, fused, raising=False)
    layer = keras.layers.Bidirectional(layer_class(16, rate=0.5, seed=1))
    x = np.ones((2, 5, 3), dtype="float32")
    layer(x)
    cells = [layer.forward_layer.cell, layer.backward_layer.cell]
    variables = [
        keras.ops.convert_to_numpy(cell.recurrent_kernel_variable)
        for cell in cells
    ]
    # At inference the fused kernel gets the weights as they are.
    np.testing.assert_array_equal(
        [keras.ops.convert_to_numpy(k) for k in received[-1]], variables
    )
    received.clear()
    layer(x, training=True)
    assert len(received) == 1
    for kernel, variable in zip(received[0], variables):
        kernel = keras.ops.convert_to_numpy(kernel)
        dropped = kernel == 0
        # 16 x 64 (LSTM) or 16 x 48 (GRU) entries, each dropped w.p. 0.5.
        assert dropped.mean() == pytest.approx(0.5, abs=0.06)
        np.testing.assert_allclose(kernel[~dropped], 2 * variable[~dropped])


@pytest.mark.parametrize("cls, keras_cls", PAIRS)
def test_traced_training_step_keeps_keras_cudnn_kernel(
    cls, keras_cls, monkeypatch
):
    # Keras takes the cuDNN path when TensorFlow lists a GPU. Listing one
    # here lets the training step be traced (not run) as it would be on a
    # GPU machine, and its op types read.
    if keras.backend.backend() != "tensorflow":
        pytest.skip(
            "reads the op types of TensorFlow's traced training step with "
            "a GPU listed; the other backends trace no TensorFlow graph"
        )
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
