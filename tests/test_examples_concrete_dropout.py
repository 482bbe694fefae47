"""A tiny, seeded run of examples/concrete_dropout_rate.py: the learned rate
falls as the training set grows."""

import json

from tests.example_scripts import load_example


def test_learned_rate_falls_as_the_training_set_grows(tmp_path):
    example = load_example("concrete_dropout_rate")
    results = example.main(
        [
            "--sizes", "20,2000", "--steps", "300", "--width", "16",
            "--learning-rate", "0.01", "--repeats", "1", "--seed", "0",
            "--output-dir", str(tmp_path),
        ]
    )  # fmt: skip
    rates = results["rates"]
    # The hidden layers that see `width` inputs (the first sees one input,
    # so its entropy term is tiny): measured 0.36 / 0.27 at N=20 against
    # 0.06 / 0.03 at N=2000 (TensorFlow; JAX is alike).
    for layer in ("hidden_2", "hidden_3"):
        assert rates[20][layer] > rates[2000][layer] + 0.1, rates
    for size in (20, 2000):
        assert all(0.0 < rate < 1.0 for rate in rates[size].values())
    saved = json.loads((tmp_path / "results.json").read_text())
    assert set(saved["rates"]) == {"20", "2000"}
    assert "| 2000 |" in (tmp_path / "results.md").read_text()
