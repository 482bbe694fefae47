"""The transfer-learning examples, end to end on tiny settings."""

import json
import os
import sys

import keras
import pytest

from kerasdrop import transfer
from tests.example_scripts import load_example

small_resnet_module = sys.modules["kerasdrop.transfer.small_resnet"]


@pytest.fixture
def quick_pretraining(monkeypatch):
    """Replaces pretraining by a tiny untrained backbone; counts calls."""
    calls = []

    def pretrain(image_size, filters, epochs, seed, verbose):
        calls.append((image_size, epochs))
        backbone = transfer.small_resnet(
            (image_size, image_size, 1), (4, 4, 8), seed=seed
        )
        return backbone, 0.0

    monkeypatch.setattr(small_resnet_module, "pretrain_small_resnet", pretrain)
    return calls


def test_demo_runs_end_to_end_and_writes_results(
    quick_pretraining, tmp_path, capsys
):
    demo = load_example("transfer_resnet_head")
    output_dir = tmp_path / "out"
    argv = [
        "--cache-dir", str(tmp_path / "cache"),
        "--image-size", "16",
        "--pretrain-epochs", "1",
        "--labels-per-class", "3",
        "--epochs", "3",
        "--seeds", "1",
        "--variants", "no-dropout,annealed",
        "--hidden-units", "8",
        "--fine-tune-epochs", "1",
        "--output-dir", str(output_dir),
    ]  # fmt: skip
    results = demo.main(argv)
    assert quick_pretraining == [(16, 1)]  # The cache was cold.

    printed = capsys.readouterr().out
    assert "2/2] seed 0 annealed" in printed
    assert "| annealed |" in printed
    assert set(results["summary"]) == {"no-dropout", "annealed"}
    paired = results["summary"]["no-dropout"]["difference_to_no_dropout"]
    assert paired["differences"] == [0.0] and paired["ties"] == 1
    annealed_paired = results["summary"]["annealed"]["difference_to_no_dropout"]
    assert annealed_paired["seeds"] == 1
    assert (
        annealed_paired["wins"]
        + annealed_paired["losses"]
        + (annealed_paired["ties"])
        == 1
    )
    assert results["classifier_vs_head_max_difference"] < 1e-5
    annealed = [r for r in results["runs"] if r["variant"] == "annealed"][0]
    assert annealed["history"]["head_dropout/rate"] == pytest.approx(
        [0.5, 0.25, 0.0]
    )
    assert len(annealed["history"]["val_accuracy"]) == 3
    assert (
        len(annealed["history"]["coadaptation/head_dropout/correlation"]) == 3
    )
    assert results["fine_tuning"]["unfrozen_layers"]

    with open(output_dir / "results.json") as file:
        assert json.load(file)["config"]["labels_per_class"] == 3
    assert (output_dir / "results.md").read_text().startswith("| variant |")
    for name in ("accuracy", "schedules", "coadaptation"):
        assert (output_dir / f"transfer_{name}.png").stat().st_size > 0

    # The backbone is cached for the next run.
    assert os.path.exists(
        transfer.small_resnet_path(
            str(tmp_path / "cache"), image_size=16, epochs=1
        )
    )


def test_demo_rejects_unknown_variants():
    demo = load_example("transfer_resnet_head")
    with pytest.raises(SystemExit):
        demo.parse_args(["--variants", "fixed,dropconnect"])


def test_pretraining_script_caches_and_forces(quick_pretraining, tmp_path):
    script = load_example("pretrain_small_resnet")
    argv = ["--cache-dir", str(tmp_path), "--image-size", "8"]
    path = script.main(argv + ["--epochs", "1"])
    assert os.path.exists(path)
    script.main(argv + ["--epochs", "1"])
    assert quick_pretraining == [(8, 1)]
    script.main(argv + ["--epochs", "1", "--force"])
    assert quick_pretraining == [(8, 1), (8, 1)]


@pytest.mark.skipif(
    keras.backend.backend() == "jax",
    reason="slow on JAX, where each seed's new head compiles its steps "
    "(about 35 s on two cores); the script's code is the same on every "
    "backend, and passed there",
)
def test_uncertainty_demo_runs_end_to_end_and_writes_results(
    quick_pretraining, tmp_path, capsys
):
    demo = load_example("transfer_uncertainty")
    output_dir = tmp_path / "out"
    argv = [
        "--cache-dir", str(tmp_path / "cache"),
        "--image-size", "16",
        "--pretrain-epochs", "1",
        "--labels-per-class", "3",
        "--epochs", "2",
        "--seeds", "2",
        "--hidden-units", "8",
        "--num-samples", "3",
        "--output-dir", str(output_dir),
    ]  # fmt: skip
    results = demo.main(argv)
    assert quick_pretraining == [(16, 1)]
    printed = capsys.readouterr().out
    assert "[2/2] seed 1" in printed
    assert "| MC + temperature |" in printed
    assert "MC dropout vs single, paired by seed" in printed
    summary = results["summary"]
    for method in demo.METHODS:
        assert set(demo.MEASURES) <= set(summary[method])
    paired = summary["MC dropout"]["nll_vs_single"]
    assert paired["seeds"] == 2 and paired["higher_is_better"] is False
    # Temperature scaling never changes the predicted class.
    assert summary["temperature"]["accuracy_vs_single"]["ties"] == 2
    run = results["runs"][0]
    assert run["sizes"]["ood"] == sum(
        len(transfer.load_digits_images([digit], 8)[1])
        for digit in transfer.SOURCE_CLASSES
    )
    assert run["sizes"]["calibration"] + run["sizes"]["test"] == len(
        transfer.load_digits_images(transfer.TARGET_CLASSES, 8)[1]
    ) - 3 * len(transfer.TARGET_CLASSES)
    assert (output_dir / "results.md").read_text().startswith("| method |")
    for name in ("reliability", "risk_coverage", "ood"):
        assert (output_dir / f"transfer_uncertainty_{name}.png").exists()
