"""A tiny run of examples/ensemble_averaging.py, end to end."""

import json

import kerasdrop
from tests.example_scripts import load_example


def test_tiny_run_writes_tables_and_figures(tmp_path):
    example = load_example("ensemble_averaging")
    results = example.main(
        [
            "--epochs", "1", "--hidden-units", "8", "--sample-counts", "1,3",
            "--repeats", "2", "--pca-components", "4", "--exact-epochs", "1",
            "--num-pairs", "3", "--seeds", "2", "--output-dir", str(tmp_path),
        ]
    )  # fmt: skip
    comparison = results["comparison"]
    assert comparison["seeds"] == [0, 1]
    paired = comparison["with_minus_without"]
    assert paired["seeds"] == 2 and not paired["higher_is_better"]
    assert paired["wins"] + paired["losses"] + paired["ties"] == 2
    assert comparison["verdict"] in kerasdrop.experiments.VERDICTS
    monte_carlo = results["monte_carlo"]
    assert monte_carlo["sample_counts"] == [1, 3]
    assert all(0.0 <= e <= 1.0 for e in monte_carlo["mc_error_mean"])
    exact = results["exact"]
    assert exact["softmax layer"]["num_masks"] == 16
    # The softmax identity holds whatever the training.
    assert exact["softmax layer"]["max_abs_geometric_minus_inference"] < 1e-5
    for net in ("with dropout", "without dropout"):
        for layer in example.HIDDEN_LAYERS:
            row = results["coadaptation"][net][layer]
            assert set(example.TABLE_MEASURES) <= set(row)
    table = (tmp_path / "results.md").read_text()
    assert "| softmax layer | 16 |" in table
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["config"]["epochs"] == 1
    for name in (
        "ensemble_mc_vs_weight_scaling.png",
        "ensemble_coadaptation_training.png",
        "ensemble_ablation.png",
    ):
        assert (tmp_path / name).stat().st_size > 0
