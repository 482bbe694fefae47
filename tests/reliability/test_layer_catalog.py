"""Guarantees that hold for every kerasdrop layer: saving and loading in a
fresh process of each backend, mixed precision, and determinism of masks."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import ops

import kerasdrop
from kerasdrop.models.walk import rate_holders
from tests.distributed.harness import HANG_TIMEOUT
from tests.reliability.catalog import INTEGER_INPUTS
from tests.reliability.catalog import LAYERS
from tests.reliability.catalog import LEARNED_RATES
from tests.reliability.catalog import built_classes
from tests.reliability.catalog import make_input
from tests.reliability.catalog import registered_layer_classes
from tests.reliability.catalog import skip_training_on_jax

REPO = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
LOADER = """
import json, sys
import numpy as np
import keras
import kerasdrop  # registers the classes; no custom_objects below

folder, out = sys.argv[1], sys.argv[2]
names = json.load(open(f"{folder}/names.json"))
report = {}
for name in names:
    model = keras.saving.load_model(f"{folder}/{name}.keras", safe_mode=True)
    x = np.load(f"{folder}/{name}_x.npy")
    np.save(f"{out}/{name}_loaded.npy",
            keras.ops.convert_to_numpy(model(x, training=False)))
    report[name] = kerasdrop.find_rates(model)
    # Learned rates (ConcreteDropout) are trainable weights, not rate
    # variables.
    for layer in model.layers:
        if getattr(layer, "rate_logit", None) is not None:
            report[name][f"{layer.name}/learned"] = layer.rate
json.dump(report, open(f"{out}/rates.json", "w"))
"""


def _model(name, dtype=None):
    factory, shape = LAYERS[name]
    input_dtype = "int32" if name in INTEGER_INPUTS else "float32"
    inputs = keras.Input(shape[1:], dtype=input_dtype)
    layer = factory(dtype=dtype) if dtype else factory()
    return keras.Model(inputs, layer(inputs)), layer, shape


def _rates(model):
    return {
        f"{holder.key}/{rate}": variable
        for holder in rate_holders(model)
        for rate, variable in holder.rates.items()
    }


def _learned_rates(layer):
    """Learned rate logits by key, as the loader reports them."""
    logit = getattr(layer, "rate_logit", None)
    return {} if logit is None else {f"{layer.name}/learned": logit}


def test_catalog_covers_every_registered_layer():
    covered = set()
    for factory, _ in LAYERS.values():
        covered |= built_classes(factory())
    missing = registered_layer_classes() - covered
    assert not missing, (
        f"Add these layers to tests/reliability/catalog.py: {missing}"
    )  # noqa: E501


@pytest.fixture(scope="module")
def saved_catalog(tmp_path_factory):
    """Every layer's model saved once on this run's backend, with its input,
    its inference output and its rates, for the loads of every backend."""
    folder = tmp_path_factory.mktemp("catalog")
    expected, expected_rates = {}, {}
    for index, name in enumerate(LAYERS):
        model, layer, shape = _model(name)
        rates = _rates(model)
        if name in LEARNED_RATES:
            # A learned rate is a trainable weight, never a rate variable
            # that a scheduler would drive.
            assert not rates, f"{name}'s learned rate is schedulable"
            rates = _learned_rates(layer)
        assert rates, f"{name} exposes no rate"
        # Distinctive current rates, to show that they are what is saved.
        for offset, variable in enumerate(rates.values()):
            rate = 0.05 + 0.01 * index + 0.1 * offset
            if name in LEARNED_RATES:
                rate = np.log(rate / (1 - rate))  # The logit.
            variable.assign(rate)
        x = make_input(name, seed=index)
        np.save(folder / f"{name}_x.npy", x)
        expected[name] = ops.convert_to_numpy(model(x, training=False))
        expected_rates[name] = {
            key: float(ops.convert_to_numpy(v)) for key, v in rates.items()
        }
        if name in LEARNED_RATES:
            expected_rates[name] = {
                key: 1 / (1 + np.exp(-value))
                for key, value in expected_rates[name].items()
            }
        model.save(folder / f"{name}.keras")
    (folder / "names.json").write_text(json.dumps(list(LAYERS)))
    return folder, expected, expected_rates


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_every_layer_loads_in_a_fresh_process(backend, saved_catalog, tmp_path):
    # Saved on this run's backend, loaded on `backend`: a `.keras` file is
    # the same on every backend, rates and weights included. The files are
    # saved once and read by each backend's process; each writes its
    # outputs to a folder of its own.
    pytest.importorskip(backend)
    folder, expected, expected_rates = saved_catalog
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND=backend)
    env["PYTHONPATH"] = os.pathsep.join(
        [REPO] + [p for p in [env.get("PYTHONPATH")] if p]
    )
    subprocess.run(
        [sys.executable, "-c", LOADER, str(folder), str(tmp_path)],
        env=env,
        check=True,
        timeout=HANG_TIMEOUT,
    )
    loaded_rates = json.loads((tmp_path / "rates.json").read_text())
    for name in LAYERS:
        loaded = np.load(tmp_path / f"{name}_loaded.npy")
        np.testing.assert_allclose(
            loaded, expected[name], rtol=1e-6, atol=1e-6, err_msg=name
        )
        assert loaded_rates[name] == pytest.approx(expected_rates[name]), name


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=skip_training_on_jax(n)) for n in LAYERS]
)
def test_mixed_precision(name, policy):
    factory, shape = LAYERS[name]
    layer = factory(dtype=policy)
    x = make_input(name)
    for training in (False, True):
        out = keras.tree.flatten(layer(x, training=training))[0]
        assert keras.backend.standardize_dtype(out.dtype) == policy[6:]
        assert np.all(
            np.isfinite(ops.convert_to_numpy(ops.cast(out, "float32")))
        )
    rates = _rates(layer)
    if name in LEARNED_RATES:
        assert not rates
        rates = _learned_rates(layer)
    assert rates
    for variable in rates.values():
        assert keras.backend.standardize_dtype(variable.dtype) == "float32"


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=skip_training_on_jax(n)) for n in LAYERS]
)
def test_same_seed_gives_same_masks(name):
    factory, shape = LAYERS[name]
    x = make_input(name)
    first, second = factory(), factory()
    first.build(shape)
    second.build(shape)
    second.set_weights(first.get_weights())
    outputs = []
    for layer in (first, second):
        outputs.append(
            [
                ops.convert_to_numpy(
                    keras.tree.flatten(layer(x, training=True))[0]
                )
                for _ in range(2)
            ]
        )
    for a, b in zip(*outputs):
        np.testing.assert_array_equal(a, b)
    # And the masks do change from one call to the next.
    assert not np.array_equal(outputs[0][0], outputs[0][1])


def _train_curve(seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((6, 3)),
            kerasdrop.VariationalDropout(0.2, seed=seed),
            kerasdrop.ZoneoutLSTM(8, seed=seed, name="zoneout"),
            kerasdrop.ScheduledDropout(0.4, seed=seed, name="dropout"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 6, 3)).astype("float32")
    y = rng.standard_normal((64, 1)).astype("float32")
    scheduler = kerasdrop.callbacks.DropoutScheduler(
        kerasdrop.schedules.Linear(0.4, 0.1, 3), layers=["dropout"]
    )
    history = model.fit(
        x, y, batch_size=16, epochs=3, callbacks=[scheduler], verbose=0,
        shuffle=True,
    )  # fmt: skip
    return history.history["loss"], model.get_weights()


def test_same_seeds_give_the_same_training_curve():
    first_loss, first_weights = _train_curve(3)
    keras.backend.clear_session()
    second_loss, second_weights = _train_curve(3)
    assert first_loss == second_loss
    for a, b in zip(first_weights, second_weights):
        np.testing.assert_array_equal(a, b)
    keras.backend.clear_session()
    third_loss, _ = _train_curve(4)
    assert third_loss != first_loss
