"""The small-ViT stochastic-depth example: its quick run end to end, and
its `--preset` path built with a random-weights ViT in place of KerasHub's
download.

The end-to-end run checks the structure of what the example writes and
that the schedules drive the drop-path rates as the variants say, not the
accuracies it measures. It uses the TensorFlow backend only, as the other
end-to-end example runs (`KERASDROP_EXAMPLES_ALL_BACKENDS=1` runs it on
the others).
"""

import json
import os

import keras
import numpy as np
import pytest

import kerasdrop
from tests.example_scripts import end_to_end
from tests.example_scripts import load_example

keras_hub = pytest.importorskip("keras_hub")
pytest.importorskip("sklearn")

VERDICTS = set(kerasdrop.experiments.VERDICTS)


@pytest.fixture(scope="module")
def example():
    return load_example("vit_stochastic_depth")


@pytest.fixture(scope="module")
def quick_run(example, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("vit")
    results = example.main(["--quick", "--output-dir", str(output_dir)])
    return results, output_dir


@end_to_end
def test_quick_run_writes_results_and_figure(example, quick_run, capsys):
    results, output_dir = quick_run
    config = results["config"]
    assert config["quick"] and config["seeds"] == 2 and config["epochs"] == 2
    saved = json.loads((output_dir / "results.json").read_text())
    assert saved["config"] == config
    assert list(saved["summary"]) == list(example.VARIANTS)
    for variant, row in saved["summary"].items():
        if variant != "none":
            assert row["val_accuracy_verdict"] in VERDICTS
            assert row["val_accuracy_vs_none"]["seeds"] == 2
    table = (output_dir / "results.md").read_text()
    for variant in example.VARIANTS:
        assert f"| {variant} |" in table
    assert (output_dir / "vit_stochastic_depth.png").stat().st_size > 0
    # A quick run pretrains into its own folder.
    assert saved["pretraining"]["path"].startswith(str(output_dir))
    assert os.path.exists(saved["pretraining"]["path"])


@end_to_end
def test_schedules_drive_every_branch_as_the_variant_says(quick_run):
    results, _ = quick_run
    rate = results["config"]["rate"]
    # Per branch, the rates of the two epochs, sorted. One block: its
    # attention branch at rate 0, its MLP branch at `rate` (linear in
    # depth); early is on for the first epoch, late for the second.
    expected = {
        "none": [[0.0, 0.0], [0.0, 0.0]],
        "early": [[0.0, 0.0], [rate, 0.0]],
        "late": [[0.0, 0.0], [0.0, rate]],
    }
    for run in results["experiment"]["runs"]:
        logged = sorted(
            values
            for key, values in run["history"].items()
            if key.endswith("_drop_path/rate")
        )
        if run["variant"] == "standard":
            assert logged == []  # No scheduler: the rates as built.
            continue
        np.testing.assert_allclose(logged, expected[run["variant"]], atol=1e-6)
        assert len(run["history"]["train_accuracy"]) == 2


def test_cutoff_defaults_to_a_quarter_and_must_split_training(example):
    assert example.parse_args(["--epochs", "30"]).cutoff == 7
    assert example.parse_args(["--epochs", "2"]).cutoff == 1
    with pytest.raises(SystemExit):
        example.parse_args(["--epochs", "10", "--cutoff", "10"])


def test_preset_path_builds_with_a_random_weights_vit(
    example, monkeypatch, tmp_path
):
    # KerasHub's `from_preset` would download; the same code path runs on
    # a small ViT with random weights and a converter like a preset's.
    calls = []

    def backbone_from_preset(cls, preset, **kwargs):
        calls.append(("backbone", preset))
        return keras_hub.models.ViTBackbone(
            image_shape=(16, 16, 3),
            patch_size=8,
            num_layers=2,
            num_heads=2,
            hidden_dim=8,
            mlp_dim=16,
        )

    def converter_from_preset(cls, preset, **kwargs):
        calls.append(("converter", preset))
        return keras_hub.layers.ViTImageConverter(
            image_size=(16, 16), scale=1 / 127.5, offset=-1.0
        )

    monkeypatch.setattr(
        keras_hub.models.ViTBackbone,
        "from_preset",
        classmethod(backbone_from_preset),
    )
    monkeypatch.setattr(
        keras_hub.layers.ViTImageConverter,
        "from_preset",
        classmethod(converter_from_preset),
    )
    preset = "vit_base_patch16_224_imagenet"
    args = example.parse_args(
        ["--preset", preset, "--output-dir", str(tmp_path)]
    )
    backbone, preprocess, pretraining = example.load_backbone(args)
    assert calls == [("backbone", preset), ("converter", preset)]
    assert pretraining == {"preset": preset}
    train, validation = example.load_target(backbone, preprocess, 3)
    assert train[0].shape == (15, 16, 16, 3)
    assert len(train[0]) + len(validation[0]) == 896  # Digits 5-9.
    # The converter's scale: pixels in [0, 1] become values in [-1, 1].
    assert train[0].min() >= -1.0 and train[0].max() <= 1.0
    assert train[0].min() < 0.0
    build = example.model_builder(args, backbone, 5, steps=1)
    model = build(0)
    assert model.compiled
    rates = kerasdrop.find_rates(model)
    assert len(rates) == 4  # Attention and MLP branches of 2 blocks.
    assert max(rates.values()) == pytest.approx(args.rate)
    probabilities = keras.ops.convert_to_numpy(model(train[0]))
    assert probabilities.shape == (15, 5)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
    # The pretrained weights reach every run's model.
    inner = next(
        layer
        for layer in model.layers
        if isinstance(layer, keras_hub.models.ViTBackbone)
    )
    for before, after in zip(backbone.get_weights(), inner.get_weights()):
        np.testing.assert_array_equal(before, after)
