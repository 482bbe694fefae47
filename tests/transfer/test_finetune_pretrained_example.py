"""The make_schedulable fine-tuning example, end to end in quick mode."""

import json
import sys

import keras
import pytest

from kerasdrop import transfer
from tests.example_scripts import load_example


@pytest.fixture
def untrained_pretraining(monkeypatch):
    """Replaces pretraining by an untrained backbone; records the calls.

    The backbone has the default widths: fitting the smallest ones (4 or 8
    channels) crashes TensorFlow 2.21's CPU kernels.
    """
    calls = []

    def pretrain(image_size, filters, epochs, seed, verbose):
        calls.append((image_size, epochs))
        backbone = transfer.small_resnet(
            (image_size, image_size, 1), filters, seed=seed
        )
        return backbone, 0.0

    module = sys.modules["kerasdrop.transfer.small_resnet"]
    monkeypatch.setattr(module, "pretrain_small_resnet", pretrain)
    return calls


def test_quick_mode_runs_end_to_end_and_schedules_every_rate(
    untrained_pretraining, tmp_path, capsys
):
    example = load_example("finetune_pretrained_schedulable")
    output_dir = tmp_path / "out"
    argv = [
        "--quick",
        "--cache-dir", str(tmp_path / "cache"),
        "--image-size", "16",
        "--output-dir", str(output_dir),
    ]  # fmt: skip
    results = example.main(argv)
    assert untrained_pretraining == [(16, 4)]  # The cache was cold.
    printed = capsys.readouterr().out
    for variant in ("fixed", "early", "none"):
        assert f"| {variant} |" in printed
    runs = {run["variant"]: run for run in results["runs"]}
    # The small ResNet's three residual branches and the head.
    assert {run["num_rates"] for run in runs.values()} == {4}
    branch = "stage3_block1_2_bn_dropout/rate"
    assert runs["fixed"]["history"][branch] == pytest.approx([0.2, 0.2])
    assert runs["early"]["history"][branch] == pytest.approx([0.2, 0.0])
    assert runs["early"]["history"]["head_dropout/rate"] == pytest.approx(
        [0.3, 0.0]
    )
    assert runs["none"]["history"][branch] == pytest.approx([0.0, 0.0])
    assert len(runs["early"]["history"]["val_accuracy"]) == 2
    with open(output_dir / "results.json") as file:
        assert json.load(file)["config"]["epochs"] == 2
    assert (output_dir / "results.md").read_text().startswith("| variant |")


def test_imagenet_path_builds_the_converted_model(monkeypatch):
    # The network path, with random weights: the application is asked for
    # ImageNet weights and built without them.
    example = load_example("finetune_pretrained_schedulable")
    requested = []
    original = keras.applications.EfficientNetB0

    def efficientnet(**kwargs):
        requested.append(kwargs["weights"])
        return original(**{**kwargs, "weights": None})

    monkeypatch.setattr(keras.applications, "EfficientNetB0", efficientnet)
    args = example.parse_args(["--weights", "imagenet"])
    assert args.model == "efficientnet"
    model = example.build_model(args, seed=0)
    assert requested == ["imagenet"]
    rates = example.built_rates(model)
    assert len(rates) == 10
    assert rates["head_dropout/rate"] == pytest.approx(0.3)
    assert rates["block2b_drop/rate"] == pytest.approx(0.025)
