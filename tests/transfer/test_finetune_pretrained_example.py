"""The make_schedulable fine-tuning example, end to end in quick mode."""

import json

import keras
import pytest

from tests.example_scripts import load_example


def test_quick_mode_runs_end_to_end_and_schedules_every_rate(tmp_path, capsys):
    example = load_example("finetune_pretrained_schedulable")
    output_dir = tmp_path / "out"
    results = example.main(
        ["--quick", "--variants", "early", "--output-dir", str(output_dir)]
    )
    assert "| early |" in capsys.readouterr().out
    (run,) = results["runs"]
    # EfficientNetB0's nine stochastic-depth dropouts and the head's.
    assert run["num_rates"] == 10
    history = run["history"]
    assert history["block6d_drop/rate"] == pytest.approx([0.175, 0.0])
    assert history["head_dropout/rate"] == pytest.approx([0.2, 0.0])
    assert len(history["val_accuracy"]) == 2
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
    model = example.build_model(args, seed=0)
    assert requested == ["imagenet"]
    rates = example.built_rates(model)
    assert len(rates) == 10
    assert rates["head_dropout"] == pytest.approx(0.2)
    assert rates["block2b_drop"] == pytest.approx(0.025)
