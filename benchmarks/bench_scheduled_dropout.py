"""Benchmark: ScheduledDropout and DropoutScheduler against Keras's Dropout.

Times one training epoch of the same MLP built four ways, interleaved in one
process: with `keras.layers.Dropout`; with `kerasdrop.ScheduledDropout`;
with `kerasdrop.ScheduledDropout` driven by `DropoutScheduler(unit="batch")`
and a `kerasdrop.schedules.Cosine` schedule (a new rate every batch,
computed inside the compiled train step); and, for reference, the same
schedule wrapped in a plain Python function, which the callback cannot
compile and so assigns from Python before every batch. Each variant is its
own model (built the same way, from the same seed), so the ratios compare
the callback with no callback. Prints median epoch times and their ratios.
Goals: ScheduledDropout <= 1.02x Keras's Dropout; the per-batch scheduler
<= 1.03x no callback. On PyTorch, whose train step runs eagerly, it also
times the scheduler's own work inside the step alone (computing and
assigning the rates), which there every step pays in Python.

    python benchmarks/bench_scheduled_dropout.py
    KERAS_BACKEND=torch python benchmarks/bench_scheduled_dropout.py
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import classifier  # noqa: I001
from common import print_table
from common import summarize
from common import time_interleaved
from common import write_results

import keras
import numpy as np

import kerasdrop
from kerasdrop.callbacks import _train_step
from kerasdrop.models.walk import rate_holders


def build_mlp(dropout_factory, input_dim, width, seed):
    return classifier(
        [
            keras.Input((input_dim,)),
            keras.layers.Dense(width, activation="relu"),
            dropout_factory(),
            keras.layers.Dense(width, activation="relu"),
            dropout_factory(),
            keras.layers.Dense(10),
        ],
        seed,
    )


def time_scheduler_hooks(model, schedule, num_batches=2000):
    """Milliseconds per batch of the callback's own hooks, outside `fit`.

    The schedule changes the rate at every one of the timed batches.
    """
    scheduler = kerasdrop.callbacks.DropoutScheduler(schedule, unit="batch")
    scheduler.set_model(model)
    scheduler.on_train_begin()
    scheduler.on_epoch_begin(0)
    start = time.perf_counter()
    for batch in range(num_batches):
        scheduler.on_train_batch_begin(batch)
        scheduler.on_train_batch_end(batch, {})
    return 1000 * (time.perf_counter() - start) / num_batches


def time_in_step_rates(model, schedule, num_steps=2000):
    """Milliseconds per step of the scheduler's work inside the train step.

    The per-batch wrapper of the train step computes every rate from the
    optimizer's count of steps and assigns it, then runs the model's own
    step; here that step does nothing, so only the wrapper's work is timed.
    Eager, as on torch; on TensorFlow and JAX the same work is compiled
    into the step.
    """
    model.optimizer.build(model.trainable_variables)
    targets = [
        _train_step.Target(f"{holder.key}/{name}", variable, schedule, 1.0)
        for holder in rate_holders(model)
        for name, variable in holder.rates.items()
    ]
    step = _train_step._wrap_train_step(model, lambda data: {}, targets)
    step(None)  # Warm-up.
    start = time.perf_counter()
    for _ in range(num_steps):
        step(None)
    return 1000 * (time.perf_counter() - start) / num_steps


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=8192)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--input-dim", type=int, default=256)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--rate", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--output",
        default=os.path.join(
            os.path.dirname(__file__), "results", "scheduled_dropout.json"
        ),
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.rows, args.input_dim)).astype("float32")
    y = rng.integers(0, 10, args.rows)

    def fitter(model, callbacks=()):
        def run():
            model.fit(
                x,
                y,
                batch_size=args.batch_size,
                epochs=1,
                callbacks=list(callbacks),
                verbose=0,
            )

        return run

    keras_model = build_mlp(
        lambda: keras.layers.Dropout(args.rate), args.input_dim, args.width, 0
    )

    def ours():
        return build_mlp(
            lambda: kerasdrop.ScheduledDropout(args.rate),
            args.input_dim,
            args.width,
            0,
        )

    # A new rate for both layers at every batch: the worst case for the
    # callback. The ramp is long enough never to end. The step's cost does
    # not depend on the rate, so the ratio is the callback's cost alone.
    steps = -(-args.rows // args.batch_size)
    schedule = kerasdrop.schedules.Cosine(args.rate, 0.0, duration=10**9)
    scheduler = kerasdrop.callbacks.DropoutScheduler(schedule, unit="batch")
    python_scheduler = kerasdrop.callbacks.DropoutScheduler(
        lambda step: schedule(step), unit="batch"
    )
    scheduled = "ScheduledDropout + DropoutScheduler(batch)"
    python_scheduled = "  the same, schedule as a Python function"

    runs = {
        "keras.layers.Dropout": fitter(keras_model),
        "ScheduledDropout": fitter(ours()),
        scheduled: fitter(ours(), [scheduler]),
        python_scheduled: fitter(ours(), [python_scheduler]),
    }
    times = time_interleaved(runs, args.rounds)
    layer_rows = summarize(
        {k: times[k] for k in list(runs)[:2]}, "keras.layers.Dropout"
    )
    callback_rows = summarize(
        {k: times[k] for k in list(runs)[1:]}, "ScheduledDropout"
    )
    print(
        f"One epoch = {steps} steps of batch {args.batch_size}, MLP "
        f"{args.input_dim}-{args.width}-{args.width}-10, rate {args.rate}, "
        f"{args.rounds} interleaved rounds, backend "
        f"{keras.backend.backend()}."
    )
    print_table(
        "ScheduledDropout vs keras.layers.Dropout",
        layer_rows,
        {"ScheduledDropout": "<= 1.02"},
    )
    print_table(
        "DropoutScheduler(unit='batch') vs no callback",
        callback_rows,
        {scheduled: "<= 1.03"},
    )
    step_ms = 1000 * callback_rows[0]["median_s"] / steps
    hook_ms = {}
    for name, hook_schedule in [
        (scheduled, schedule),
        (python_scheduled.strip(), lambda step: schedule(step)),
    ]:
        hook_ms[name] = time_scheduler_hooks(ours(), hook_schedule)
        print(
            f"\nHooks alone, {name}: {hook_ms[name]:.3f} ms per batch for 2 "
            f"rates = {hook_ms[name] / step_ms:.1%} of the median step "
            f"({step_ms:.2f} ms)."
        )
    results = {
        "layer": layer_rows,
        "callback": callback_rows,
        "hook_ms_per_batch": hook_ms,
        "step_ms": step_ms,
    }
    if keras.backend.backend() == "torch":
        in_step_ms = time_in_step_rates(ours(), schedule)
        print(
            f"\nIn the train step alone, {scheduled}: {in_step_ms:.3f} ms "
            f"per step for 2 rates = {in_step_ms / step_ms:.1%} of the "
            f"median step ({step_ms:.2f} ms); torch runs it eagerly."
        )
        results["in_step_ms_per_batch"] = in_step_ms
    write_results(args.output, results, vars(args))
    return layer_rows, callback_rows


if __name__ == "__main__":
    main()
