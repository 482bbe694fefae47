"""A small public-API stand-in for Keras's private `run_layer_test`.

`check_layer_contract` builds a layer, checks its output shape, its config
round trip, a `.keras` save/load round trip without `custom_objects`,
inference outputs before and after loading, and mixed precision.
"""

import keras
import numpy as np


def make_inputs(input_shape, seed=0, dtype="float32"):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(input_shape).astype(dtype)


def check_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    return clone


def check_saved_model_round_trip(layer, x, tmp_path, training_outputs=None):
    """Saves a model around `layer` and loads it without custom_objects."""
    inputs = keras.Input(x.shape[1:])
    model = keras.Model(inputs, layer(inputs))
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    path = str(tmp_path / f"{layer.name}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    got = keras.ops.convert_to_numpy(loaded(x, training=False))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    loaded_layer = loaded.layers[-1]
    assert type(loaded_layer) is type(layer)
    for name, variable in getattr(layer, "dropout_rates", {}).items():
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(loaded_layer.dropout_rates[name]),
            keras.ops.convert_to_numpy(variable),
        )
    return loaded


def check_mixed_precision(layer_factory, x, policy="mixed_float16"):
    """The layer computes in the policy's dtype; rates stay float32."""
    layer = layer_factory(dtype=policy)
    compute_dtype = keras.DTypePolicy(policy).compute_dtype
    for training in (False, True):
        out = layer(x, training=training)
        out = keras.tree.flatten(out)[0]
        assert keras.backend.standardize_dtype(out.dtype) == compute_dtype
    for variable in getattr(layer, "dropout_rates", {}).values():
        assert keras.backend.standardize_dtype(variable.dtype) == "float32"
    return layer


def check_layer_contract(
    layer_factory, input_shape, tmp_path, expected_output_shape=None
):
    """Runs the checks every kerasdrop layer must pass.

    Args:
        layer_factory: Callable `**kwargs -> layer` (kwargs such as `dtype`).
        input_shape: Shape of the test input, batch included.
        tmp_path: pytest's `tmp_path`.
        expected_output_shape: Defaults to `input_shape`.
    """
    x = make_inputs(input_shape)
    layer = layer_factory()
    out = layer(x, training=True)
    expected = expected_output_shape or tuple(input_shape)
    first = keras.tree.flatten(out)[0]
    assert tuple(first.shape) == tuple(expected)
    symbolic = layer.compute_output_shape(tuple(input_shape))
    symbolic = (
        symbolic
        if isinstance(symbolic[0], (int, type(None)))
        else (symbolic[0])
    )
    assert tuple(symbolic) == tuple(expected)
    check_config_round_trip(layer)
    check_saved_model_round_trip(layer_factory(), x, tmp_path)
    check_mixed_precision(layer_factory, x)
    check_mixed_precision(layer_factory, x, policy="mixed_bfloat16")
