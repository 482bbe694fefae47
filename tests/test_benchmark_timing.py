"""The interleaved timing that every benchmark in benchmarks/ shares."""

import collections
import importlib.util
import os

BENCHMARKS = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "benchmarks"
)


def _load_common():
    path = os.path.join(BENCHMARKS, "common.py")
    spec = importlib.util.spec_from_file_location("bench_common", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_variant_takes_each_position_equally_often():
    # A fixed order (A, B, C, A, B, C, ...) charged the slow or fast first
    # position of a round to one variant: two identical Keras LSTMs timed
    # that way differed by 20% in median epoch time.
    common = _load_common()
    calls = []
    runs = {name: (lambda name=name: calls.append(name)) for name in "ABC"}
    times = common.time_interleaved(runs, rounds=6, warmup=1)
    assert {name: len(values) for name, values in times.items()} == {
        "A": 6,
        "B": 6,
        "C": 6,
    }
    timed = calls[3:]  # After one warm-up round.
    rounds = [timed[index : index + 3] for index in range(0, 18, 3)]
    assert all(sorted(order) == ["A", "B", "C"] for order in rounds)
    positions = collections.Counter(
        (name, order.index(name)) for order in rounds for name in order
    )
    assert set(positions.values()) == {2}
    assert len(positions) == 9
