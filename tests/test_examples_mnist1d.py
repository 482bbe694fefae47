"""The MNIST-1D examples in their --quick modes, end to end.

Checks the structure of what they write, not the accuracies they measure.
The end-to-end runs use the TensorFlow backend only: the scripts feed
`tf.data` pipelines on every backend, the library's backends are covered by
its own tests, and a second run would double their CI time (they pass on
JAX too: `KERAS_BACKEND=jax KERASDROP_EXAMPLES_ALL_BACKENDS=1 pytest ...`).
"""

import json

import keras
import numpy as np
import pytest

import kerasdrop
from tests.example_scripts import end_to_end
from tests.example_scripts import load_example

pytest.importorskip("mnist1d")

FIGURES = (
    "mnist1d_overfitting.png",
    "mnist1d_underfitting.png",
    "mnist1d_coadaptation.png",
    "mnist1d_mc_vs_weight_scaling.png",
)
VERDICTS = set(kerasdrop.experiments.VERDICTS)


@pytest.fixture(scope="module")
def example():
    return load_example("mnist1d_dropout")


@pytest.fixture(scope="module")
def quick_run(example, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("mnist1d")
    results = example.main(["--quick", "--output-dir", str(output_dir)])
    return results, output_dir


@end_to_end
def test_quick_run_writes_results_and_figures(example, quick_run):
    results, output_dir = quick_run
    config = results["config"]
    assert config["quick"] and config["seeds"] == 2
    saved = json.loads((output_dir / "results.json").read_text())
    assert saved["config"] == config
    assert set(saved) >= {
        "anchor",
        "overfitting",
        "underfitting",
        "coadaptation",
        "liu_claims",
        "ensemble",
        "wall_time_seconds",
    }
    table = (output_dir / "results.md").read_text()
    assert table.startswith("Paper baseline")
    for variant in example.OVERFITTING_VARIANTS:
        assert f"| {variant} |" in table
    for name in FIGURES:
        assert (output_dir / name).stat().st_size > 0


@end_to_end
@pytest.mark.parametrize(
    "section, variants, epochs",
    [
        ("anchor", "ANCHOR_VARIANTS", "anchor_epochs"),
        ("overfitting", "OVERFITTING_VARIANTS", "epochs"),
        ("underfitting", "UNDERFITTING_VARIANTS", "underfitting_epochs"),
    ],
)
def test_every_variant_and_seed_has_a_paired_run(
    example, quick_run, section, variants, epochs
):
    results, _ = quick_run
    variants = getattr(example, variants)
    epochs = results["config"][epochs]
    runs = results[section]["runs"]
    assert sorted((run["seed"], run["variant"]) for run in runs) == sorted(
        (seed, variant) for seed in range(2) for variant in variants
    )
    for run in runs:
        for key in (
            "test_accuracy",
            "train_accuracy",
            "train_loss",
            "dropout_1/rate",
        ):
            assert len(run["history"][key]) == epochs
        # `compare` traced each variant once: its later seeds reused it.
        assert run["reused_compiled_model"] == (run["seed"] > 0)
    summary = results[section]["summary"]
    assert set(summary) == set(variants)
    for row in summary.values():
        difference = row["test_accuracy_vs_none"]
        assert difference["seeds"] == 2
        counts = difference["wins"] + difference["losses"] + difference["ties"]
        assert counts == 2
        assert len(difference["differences"]) == 2
    assert summary["none"]["test_accuracy_vs_none"]["differences"] == [0, 0]
    if "fixed" in variants:
        schedules = set(variants) - {"none", "fixed"}
        assert {
            v for v in summary if "test_accuracy_vs_fixed" in summary[v]
        } == (schedules)


@end_to_end
def test_schedules_reach_every_variant(quick_run):
    results, _ = quick_run
    rates = {
        run["variant"]: run["history"]["dropout_1/rate"]
        for run in results["overfitting"]["runs"]
        if run["seed"] == 0
    }
    # Two epochs; early and late switch at epoch max(2 // 4, 1) = 1.
    assert rates["none"] == [0.0, 0.0]
    assert rates["fixed"] == pytest.approx([0.5, 0.5])
    assert rates["annealed"] == pytest.approx([0.5, 0.0])
    assert rates["early"] == pytest.approx([0.5, 0.0])
    assert rates["late"] == pytest.approx([0.0, 0.5])


@end_to_end
def test_claims_coadaptation_and_ensemble_sections(example, quick_run):
    results, _ = quick_run
    assert len(results["liu_claims"]) == 4
    for claim in results["liu_claims"].values():
        assert claim["verdict"] in VERDICTS
    coadaptation = results["coadaptation"]
    assert set(coadaptation["per_variant"]) == set(example.OVERFITTING_VARIANTS)
    for row in coadaptation["per_variant"].values():
        assert set(row) == {
            *example.COADAPTATION_MEASURES,
            "ablation_area",
            "ablation_relative_area",
            "final_rate",
            "correlation_vs_none",
            "effective_rank_vs_none",
            "ablation_relative_area_vs_none",
        }
    # One point per (variant other than none, seed).
    assert len(coadaptation["points"]["accuracy"]) == 5 * 2
    for curves in coadaptation["ablation_curves"].values():
        assert len(curves["fixed"]["mean"]) == 11
    monte_carlo = results["ensemble"]["monte_carlo"]
    assert monte_carlo["sample_counts"] == [1, 3]
    assert len(monte_carlo["mc_error_mean"]) == 2
    exact = results["ensemble"]["exact"]
    assert exact["softmax layer"]["num_masks"] == 2**4
    # The softmax identity holds whatever the training.
    assert exact["softmax layer"]["max_abs_geometric_minus_inference"] < 1e-5


def test_variants_of_a_seed_pair_up(example):
    # Every variant is the same MLP (the dropout rates are the scheduler's),
    # so `compare` shares all its weights between the variants of a seed;
    # the dropout seeds depend on the seed only.
    section = {
        "width": 8,
        "residual": True,
        "learning_rate": 1e-3,
        "train_rows": 64,
        "batch_size": 16,
    }
    models = []
    for _ in range(2):
        keras.utils.set_random_seed(3)
        models.append(example.build_mlp(section, seed=3))
    first, second = models
    assert [layer.name for layer in first.layers][1:4] == [
        "dense_1",
        "dropout_1",
        "dense_2",
    ]
    start = kerasdrop.experiments.initial_weights(first)
    assert len(start) == len(first.trainable_weights) == 6
    for x, y in zip(start, kerasdrop.experiments.initial_weights(second)):
        np.testing.assert_array_equal(x, y)
    assert first.get_layer("dropout_2").seed == 32


def test_quick_flag_keeps_explicit_flags(example):
    args = example.parse_args(["--quick", "--epochs", "3"])
    assert args.epochs == 3 and args.seeds == example.QUICK["seeds"]
    with pytest.raises(SystemExit):
        example.parse_args(["--seeds", "1"])


@end_to_end
def test_recurrent_quick_run_pairs_every_method(tmp_path):
    recurrent = load_example("mnist1d_recurrent")
    results = recurrent.main(
        ["--quick", "--cells", "GRU", "--output-dir", str(tmp_path)]
    )
    summary = results["summary"]
    assert list(summary) == [f"GRU_{m}" for m in recurrent.METHODS]
    for row in summary.values():
        assert row["test_accuracy_vs_none"]["seeds"] == 2
        assert row["verdict"] in VERDICTS
    assert len(results["runs"]) == 2 * len(recurrent.METHODS)
    table = (tmp_path / "results.md").read_text()
    assert "| GRU | zoneout |" in table
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["config"]["cells"] == ["GRU"]
    assert (tmp_path / "mnist1d_recurrent.png").stat().st_size > 0
