"""A tiny run of examples/zoneout_sequential_digits.py, end to end."""

from tests.example_scripts import load_example


def test_tiny_run_writes_table_and_plot(tmp_path):
    example = load_example("zoneout_sequential_digits")
    rows = example.main(
        [
            "--seeds", "1", "--epochs", "1", "--units", "4",
            "--train-limit", "32", "--batch-size", "16",
            "--output-dir", str(tmp_path),
        ]
    )  # fmt: skip
    assert [row["method"] for row in rows] == list(example.METHODS)
    assert all(0.0 <= row["mean"] <= 1.0 for row in rows)
    table = (tmp_path / "results.md").read_text()
    assert "| zoneout |" in table and "± 0.000" in table
    assert (tmp_path / "results.csv").exists()
    assert (tmp_path / "accuracy.png").stat().st_size > 0
