"""Benchmark: the selection a zoneout step runs, on TensorFlow.

Times a `tf.while_loop` whose body updates a `(32, 128)` state, as an
LSTM's step of `bench_recurrent.py` updates `h`, four ways: no selection
(`state * 0.5 + 1`), Keras's `ops.where` (TensorFlow's broadcasting
`SelectV2`), the same-shape `Select` that `kerasdrop._compat.select` runs,
and a float blend `new + keep * (old - new)`; each with its gradient (one
`GradientTape` over the loop). Prints the extra microseconds per loop
iteration over the loop without a selection, interleaved in one process.

    python benchmarks/bench_select.py
"""

import argparse
import functools
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import time_interleaved  # noqa: I001  (sets TF_CPP_MIN_LOG_LEVEL)

import keras
import tensorflow as tf

from kerasdrop import _compat


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    keep = tf.random.stateless_uniform((32, 128), [1, 2]) < 0.25
    keep_float = tf.cast(keep, tf.float32)
    bodies = {
        "no selection": lambda old, new: new,
        "ops.where (SelectV2)": lambda old, new: keras.ops.where(
            keep, old, new
        ),
        "_compat.select (Select)": lambda old, new: _compat.select(
            keep, old, new
        ),
        "float blend": lambda old, new: new + keep_float * (old - new),
    }

    def make(body):
        @tf.function
        def run(initial):
            with tf.GradientTape() as tape:
                tape.watch(initial)
                _, final = tf.while_loop(
                    lambda i, state: i < args.iterations,
                    lambda i, state: (i + 1, body(state, state * 0.5 + 1.0)),
                    (0, initial),
                )
                loss = tf.reduce_sum(final)
            return tape.gradient(loss, initial)

        return run

    initial = tf.zeros((32, 128))
    runs = {
        name: functools.partial(make(body), initial)
        for name, body in bodies.items()
    }
    times = time_interleaved(runs, args.rounds)
    per_iteration = {
        name: statistics.median(values) / args.iterations * 1e6
        for name, values in times.items()
    }
    base = per_iteration["no selection"]
    print(
        f"{args.iterations} iterations, forward and gradient, median of "
        f"{args.rounds} interleaved rounds, {os.cpu_count()} CPU cores."
    )
    print(f"\n{'body':28s} {'us/iteration':>13s} {'extra us':>9s}")
    for name, value in per_iteration.items():
        print(f"{name:28s} {value:13.2f} {value - base:9.2f}")
    return per_iteration


if __name__ == "__main__":
    main()
