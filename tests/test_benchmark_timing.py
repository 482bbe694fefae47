"""The interleaved timing every benchmark shares, and a tiny benchmark run."""

import collections

from tests.benchmark_modules import load_benchmark


def test_each_variant_takes_each_position_equally_often(monkeypatch):
    # A fixed order (A, B, C, A, B, C, ...) charges the slow or fast first
    # position of a round to one variant.
    common = load_benchmark("common")
    calls, collections_before = [], []
    # Garbage is collected before each timed call (and not in the tests'
    # time: a full collection in this process takes most of a second).
    monkeypatch.setattr(
        common.gc, "collect", lambda: collections_before.append(len(calls))
    )
    runs = {name: (lambda name=name: calls.append(name)) for name in "ABC"}
    cpu_times = {}
    times = common.time_interleaved(
        runs, rounds=6, warmup=1, cpu_times=cpu_times
    )
    assert collections_before == list(range(3, 21))
    assert {name: len(values) for name, values in times.items()} == {
        "A": 6,
        "B": 6,
        "C": 6,
    }
    assert {name: len(values) for name, values in cpu_times.items()} == {
        "A": 6,
        "B": 6,
        "C": 6,
    }
    assert all(value >= 0 for values in cpu_times.values() for value in values)
    timed = calls[3:]  # After one warm-up round.
    rounds = [timed[index : index + 3] for index in range(0, 18, 3)]
    assert all(sorted(order) == ["A", "B", "C"] for order in rounds)
    positions = collections.Counter(
        (name, order.index(name)) for order in rounds for name in order
    )
    assert set(positions.values()) == {2}
    assert len(positions) == 9


def test_scheduled_dropout_benchmark_runs_on_this_backend(tmp_path, capsys):
    # A tiny run: every variant, the per-batch scheduler included, trains
    # and is timed (on torch, the wrapper kept as the model's train_step).
    bench = load_benchmark("bench_scheduled_dropout")
    output = tmp_path / "scheduled_dropout.json"
    layer_rows, callback_rows = bench.main(
        ["--rows", "64", "--batch-size", "32", "--input-dim", "8"]
        + ["--width", "8", "--rounds", "1", "--output", str(output)]
    )
    assert [row["variant"] for row in layer_rows] == [
        "keras.layers.Dropout",
        "ScheduledDropout",
    ]
    assert len(callback_rows) == 3
    assert all(row["median_s"] > 0 for row in layer_rows + callback_rows)
    assert output.exists()
    assert "DropoutScheduler(unit='batch') vs no callback" in (
        capsys.readouterr().out
    )
