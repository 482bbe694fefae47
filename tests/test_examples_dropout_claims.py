"""examples/dropout_claims.py: the claims that choose on a validation split
(tiny-data, concrete) and the adversarial one, in their --quick modes.

Checks the structure of what they write and the pieces they are made of
(the choice on validation, the attacks), not the numbers they measure. The
end-to-end runs use the TensorFlow backend only, as the other example
tests do.
"""

import json

import keras
import numpy as np
import pytest

import kerasdrop
from tests.example_scripts import end_to_end
from tests.example_scripts import load_example

pytest.importorskip("mnist1d")
pytest.importorskip("sklearn")

VERDICTS = set(kerasdrop.experiments.VERDICTS)


@pytest.fixture(scope="module")
def example():
    return load_example("dropout_claims")


def quick(example, claim, tmp_path):
    results = example.main(
        ["--claim", claim, "--quick", "--output-dir", str(tmp_path)]
    )
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["claim"] == claim and saved["config"]["seeds"] == 2
    assert (tmp_path / f"claims_{claim}.png").stat().st_size > 0
    return results, (tmp_path / "results.md").read_text()


def assert_paired(difference, seeds=2):
    assert difference["seeds"] == seeds
    assert difference["verdict"] in VERDICTS
    counts = difference["wins"] + difference["losses"] + difference["ties"]
    assert counts == seeds


@end_to_end
def test_tiny_data_chooses_each_strength_on_validation(example, tmp_path):
    results, table = quick(example, "tiny-data", tmp_path)
    assert set(results["datasets"]) == {"diabetes", "mnist1d"}
    for name, data in results["datasets"].items():
        # --quick: one rate (0.5) and one L2 factor (1e-3) to choose from.
        assert data["grid"] == {
            "none": ["none"],
            "dropout": ["dropout-0.5"],
            "l2": ["l2-0.001"],
        }
        assert data["chosen"]["both"] == ["both-0.5-0.001"] * 2
        for family in example.FAMILIES:
            assert len(data["test"][family]) == 2
        for difference in data["differences"].values():
            assert_paired(difference)
        assert f"| {name} |" in table
    diabetes = results["datasets"]["diabetes"]
    assert diabetes["metric"] == "test_mse"
    assert all(0 < mse for mse in diabetes["test"]["none"])
    assert all(r2 < 1 for r2 in diabetes["r2_values"]["none"])
    accuracy = results["datasets"]["mnist1d"]["test"]["dropout"]
    assert all(0 <= value <= 1 for value in accuracy)


@end_to_end
def test_concrete_against_fixed_rates(example, tmp_path):
    results, table = quick(example, "concrete", tmp_path)
    # --quick sweeps the rates 0.1 and 0.5.
    assert set(results["test_accuracy"]) == {
        "none", "fixed-0.1", "fixed-0.5", "concrete", "best-fixed",
    }  # fmt: skip
    assert set(results["chosen"]) <= {"fixed-0.1", "fixed-0.5"}
    for index, name in enumerate(results["chosen"]):
        assert (
            results["test_accuracy"]["best-fixed"][index]
            == results["test_accuracy"][name][index]
        )
    for difference in results["differences"].values():
        assert_paired(difference)
    rates = results["learned_rates"]
    assert set(rates["final"]) == {"concrete_2", "concrete_3"}
    for run in rates["per_epoch"]:
        for values in run.values():
            assert len(values) == 2 and all(0 < v < 1 for v in values)
    assert "| concrete vs best-fixed |" in table


@end_to_end
def test_adversarial_reports_accuracy_relative_to_clean(example, tmp_path):
    results, table = quick(example, "adversarial", tmp_path)
    none, dropout = results["variants"]
    assert [(r["attack"], r["epsilon"]) for r in results["attacks"]] == [
        ("fgsm", 0.1),
        ("pgd", 0.1),
    ]
    for row in results["attacks"]:
        for name in (none, dropout):
            for adversarial, relative, clean in zip(
                row[name]["accuracy"],
                row[name]["relative"],
                results["clean"][name],
            ):
                assert relative == pytest.approx(adversarial / clean)
        assert_paired(row["accuracy_difference"])
        assert_paired(row["relative_difference"])
    assert "adversarial / clean" in table


def tiny_classifier():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(16, activation="tanh"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    return model


def test_input_gradient_matches_finite_differences(example):
    model = tiny_classifier()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 6)).astype("float32")
    y = np.array([0, 1, 2, 1], dtype="int32")
    gradient = example.input_gradient(model, x, y)

    def loss(inputs):
        return float(example.cross_entropy_sum(model, inputs, y))

    step = 1e-2
    for row, column in ((0, 0), (2, 3), (3, 5)):
        up, down = x.copy(), x.copy()
        up[row, column] += step
        down[row, column] -= step
        estimate = (loss(up) - loss(down)) / (2 * step)
        assert gradient[row, column] == pytest.approx(estimate, abs=2e-3)


def test_attacks_stay_in_the_ball_and_do_not_help(example):
    model = tiny_classifier()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 6)).astype("float32")
    # Labels the model gets right, so an attack can only lower accuracy.
    y = np.argmax(keras.ops.convert_to_numpy(model(x)), -1).astype("int32")
    scores = example.attack_accuracies(model, x, y, [0.0, 0.3], steps=3)
    assert scores["clean"] == 1.0
    assert scores["fgsm"][0] == scores["pgd"][0] == 1.0  # radius 0
    assert scores["fgsm"][1] < 1.0 and scores["pgd"][1] < 1.0


def test_choice_on_validation(example):
    class Result:
        scores = {
            "a": {"val_accuracy": 0.5, "val_loss": 1.0, "val_mse": 0.3},
            "b": {"val_accuracy": 0.5, "val_loss": 0.9, "val_mse": 0.2},
            "c": {"val_accuracy": 0.4, "val_loss": 0.1, "val_mse": 0.4},
        }

        def values(self, name, metric):
            return [self.scores[name][metric]]

    names = ["a", "b", "c"]
    assert example.choose(Result(), names, "val_accuracy") == "b"
    # Regression: by validation MSE, not `val_loss` (which adds the L2
    # penalty of the variant's own weights).
    assert example.choose(Result(), names, "val_mse") == "b"
