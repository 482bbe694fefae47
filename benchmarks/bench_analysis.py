"""Benchmark: CoAdaptationMonitor overhead and mc_predict against a loop.

Two comparisons, each timed interleaved in one process:

1. Training the head of `examples/transfer_resnet_head.py` as that demo does:
   `kerasdrop.transfer.build_head` on 64 pooled features (the small ResNet's)
   -> Dense(128) -> ScheduledDropout -> Dense softmax, 20 labelled rows per
   class for 5 classes, a repeated `tf.data` pipeline of batch 32, 60 epochs,
   with the demo's `DropoutScheduler` and validation-accuracy callbacks;
   with and without `CoAdaptationMonitor` at its default settings on 800
   validation rows. Features are random non-negative numbers of the same
   shape. Goal: <= 1.05x. The share of the fit's time spent inside the
   monitor's hooks is reported too: it reads the overhead directly, with
   less noise from a busy machine. The first monitor on the head builds
   and compiles its measurement, which later monitors on the same head
   reuse: that one-time cost (in the warm-up round, left out of the
   medians) is reported on its own. A last variant only runs the probe
   through the layers below the watched one at every epoch end (one
   compiled call, activations brought back, nothing computed from them):
   its share is a floor for any monitor that reads the probe's activations
   at every epoch.
2. Monte-Carlo dropout at 50 samples on 300 rows of an MLP with two dropout
   layers: `kerasdrop.analysis.mc_predict` (one batched call) against a
   Python loop of `model(x, training=True)`. Goal: <= 0.2x (5x faster). A
   third variant rebuilds the Monte-Carlo model on every call, to show the
   one-time cost of the first call.

    python benchmarks/bench_analysis.py
"""

import argparse
import gc
import math
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# The demo's own validation callback, so the benchmark times what it runs.
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "examples"))

from common import print_table  # noqa: I001
from common import summarize
from common import time_interleaved
from common import write_results

import keras
import numpy as np
import tensorflow as tf

import kerasdrop
from kerasdrop import transfer
from kerasdrop.analysis import _graph
from kerasdrop.analysis import ensemble
from transfer_resnet_head import ValidationAccuracy


def build_mlp(input_dim, width, num_classes, rate, seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((input_dim,)),
            keras.layers.Dense(width, activation="relu"),
            kerasdrop.ScheduledDropout(rate),
            keras.layers.Dense(width, activation="relu"),
            keras.layers.Dropout(rate),
            keras.layers.Dense(num_classes, activation="softmax"),
        ]
    )


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feature-dim", type=int, default=64)
    parser.add_argument("--hidden-units", type=int, default=128)
    parser.add_argument("--num-classes", type=int, default=5)
    parser.add_argument("--labels-per-class", type=int, default=20)
    parser.add_argument("--val-rows", type=int, default=800)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--mlp-width", type=int, default=256)
    parser.add_argument("--num-samples", type=int, default=50)
    parser.add_argument("--rate", type=float, default=0.5)
    parser.add_argument(
        "--every",
        type=int,
        nargs="+",
        default=[1, 5],
        help="values of the monitor's `every` to time (1 is the default)",
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--output",
        default=os.path.join(
            os.path.dirname(__file__), "results", "analysis.json"
        ),
    )
    return parser.parse_args(argv)


class TimedMonitor(kerasdrop.callbacks.CoAdaptationMonitor):
    """Adds up the wall time spent inside the monitor's own hooks."""

    seconds = 0.0
    begin_seconds = 0.0  # Of `on_train_begin`, which builds or reuses.
    measurements = []  # Seconds of each epoch-end hook that measured.
    calls = []  # Seconds of each call of the compiled function in them.

    def on_train_begin(self, logs=None):
        start = time.perf_counter()
        super().on_train_begin(logs)
        TimedMonitor.begin_seconds = time.perf_counter() - start
        TimedMonitor.seconds += TimedMonitor.begin_seconds
        # Times the compiled call apart from the NumPy work after it (a
        # private attribute: this reads the monitor's inner costs).
        run = self._run

        def timed_run(x):
            start = time.perf_counter()
            outputs = run(x)
            TimedMonitor.calls.append(time.perf_counter() - start)
            return outputs

        self._run = timed_run

    def on_epoch_end(self, epoch, logs=None):
        start = time.perf_counter()
        super().on_epoch_end(epoch, logs)
        elapsed = time.perf_counter() - start
        TimedMonitor.seconds += elapsed
        if (epoch + 1) % self.every == 0:
            TimedMonitor.measurements.append(elapsed)


class TimedForward(keras.callbacks.Callback):
    """The least a monitor can do: the watched activations of the probe.

    At every epoch end it runs one compiled call of the sub-model from the
    inputs to the monitor's watched tensor on the same probe, and brings the
    activations back, without computing anything from them. Its share of
    the fit is a floor for any monitor that runs the probe through the
    model at every epoch.
    """

    seconds = 0.0
    compiled = {}  # The compiled call of each head, built once.

    def __init__(self, x, max_samples=512):
        super().__init__()
        self.probe = _graph.as_tensors(x[:max_samples])

    def on_train_begin(self, logs=None):
        if self.model not in TimedForward.compiled:
            layer = self.model.get_layer("head_dropout")
            forward = keras.Model(
                _graph.model_input(self.model), _graph.units_tensor(layer)
            )
            TimedForward.compiled[self.model] = _graph.compile_inference(
                forward, self.probe
            )
        self.run = TimedForward.compiled[self.model]

    def on_epoch_end(self, epoch, logs=None):
        start = time.perf_counter()
        self.run(self.probe)
        TimedForward.seconds += time.perf_counter() - start


def monitor_overhead(args):
    rng = np.random.default_rng(0)
    num_train = args.labels_per_class * args.num_classes

    def features(rows):
        # Pooled ReLU features, like the frozen backbone's cached outputs.
        x = np.maximum(rng.standard_normal((rows, args.feature_dim)), 0)
        return x.astype("float32")

    x_train, x_val = features(num_train), features(args.val_rows)
    y_train = rng.integers(0, args.num_classes, num_train)
    y_val = rng.integers(0, args.num_classes, args.val_rows)
    dataset = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(num_train, seed=0)
        .batch(args.batch_size)
        .repeat()
    )
    # Time inside the monitor over the fit's time, per fit and `every`.
    shares = {every: [] for every in args.every}
    # `on_train_begin` and the first measurement of each fit, and the
    # measurements after it.
    begins, firsts, laters, calls = [], [], [], []
    # The monitor's seconds in the first monitored fit, and their share.
    cold = []
    # The share of `TimedForward`, the floor.
    forward_shares = []

    def fitter(every):
        keras.utils.set_random_seed(0)
        head = transfer.build_head(
            args.feature_dim,
            args.num_classes,
            hidden_units=args.hidden_units,
            dropout_rate=args.rate,
            seed=0,
        )
        head.compile(
            optimizer=keras.optimizers.Adam(3e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )

        def run():
            callbacks = [
                kerasdrop.callbacks.DropoutScheduler(args.rate),
                ValidationAccuracy(x_val, y_val),
            ]
            if every == "forward":
                callbacks.append(TimedForward(x_val))
            elif every:
                callbacks.append(TimedMonitor(x_val, every=every))
            TimedMonitor.seconds = TimedForward.seconds = 0.0
            TimedMonitor.measurements = []
            TimedMonitor.calls = []
            start = time.perf_counter()
            head.fit(
                dataset,
                steps_per_epoch=math.ceil(num_train / args.batch_size),
                epochs=args.epochs,
                callbacks=callbacks,
                verbose=0,
            )
            if every == "forward":
                forward_shares.append(
                    TimedForward.seconds / (time.perf_counter() - start)
                )
            elif every:
                share = TimedMonitor.seconds / (time.perf_counter() - start)
                if not cold:
                    cold.extend([TimedMonitor.seconds, share])
                shares[every].append(share)
                begins.append(TimedMonitor.begin_seconds)
                firsts.append(TimedMonitor.measurements[0])
                laters.extend(TimedMonitor.measurements[1:])
                calls.extend(TimedMonitor.calls[1:])
            # Collect this run's garbage (its callbacks) in its own timing,
            # not in the next variant's.
            del callbacks
            gc.collect()

        return run

    # A second head without the monitor: the A/A control, whose ratio to
    # the first says how far two copies of the same fit differ here.
    runs = {"fit": fitter(0), AA_VARIANT: fitter(0)}
    for every in args.every:
        runs[_monitor_variant(every)] = fitter(every)
    runs[FORWARD_VARIANT] = fitter("forward")
    cpu = {}
    times = time_interleaved(runs, args.rounds, cpu_times=cpu)
    rows = summarize(times, "fit")
    cpu_rows = [
        {**row, "variant": f"{row['variant']}, CPU time"}
        for row in summarize(cpu, "fit")
    ]
    # The time inside the callback over the time of the fit it was in: a
    # direct reading of the overhead, less exposed to a busy machine. The
    # warm-up fits are left out of the medians; the first monitored one
    # builds and compiles, and is reported on its own.
    warmup = len(args.every)
    rows.extend(cpu_rows)
    rows.append(
        {
            "variant": "  first monitored fit (compiles): s, share",
            "median_s": cold[0],
            "ratio": cold[1],
            "paired_ratio_q1": float("nan"),
            "paired_ratio_q3": float("nan"),
        }
    )
    for name, values in (
        ("  on_train_begin of a later fit, s", begins[warmup:]),
        ("  first measurement of a later fit, s", firsts[warmup:]),
        ("  each later measurement, s", laters),
        ("    of which the compiled call, s", calls),
    ):
        rows.append(
            {
                "variant": name,
                "median_s": statistics.median(values),
                "ratio": float("nan"),
                "paired_ratio_q1": float("nan"),
                "paired_ratio_q3": float("nan"),
            }
        )
    for every in args.every:
        values = shares[every][1:]
        quartiles = statistics.quantiles(values, n=4)
        rows.append(
            {
                "variant": f"  share of the fit inside it, every={every}",
                "median_s": float("nan"),
                "ratio": statistics.median(values),
                "paired_ratio_q1": quartiles[0],
                "paired_ratio_q3": quartiles[-1],
            }
        )
    values = forward_shares[1:]
    quartiles = statistics.quantiles(values, n=4)
    rows.append(
        {
            "variant": "  share of the fit inside the forward pass only",
            "median_s": float("nan"),
            "ratio": statistics.median(values),
            "paired_ratio_q1": quartiles[0],
            "paired_ratio_q3": quartiles[-1],
        }
    )
    return rows


FORWARD_VARIANT = "fit + compiled forward pass of the probe only"
AA_VARIANT = "fit (A/A copy)"


def _monitor_variant(every):
    if every == 1:
        return "fit + CoAdaptationMonitor (defaults, every=1)"
    return f"fit + CoAdaptationMonitor (every={every})"


def mc_speed(args):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((args.rows, 64)).astype("float32")
    model = build_mlp(64, args.mlp_width, 10, args.rate, seed=0)

    def loop():
        return np.stack(
            [
                keras.ops.convert_to_numpy(model(x, training=True))
                for _ in range(args.num_samples)
            ]
        ).mean(axis=0)

    def batched():
        return kerasdrop.analysis.mc_predict(
            model, x, num_samples=args.num_samples
        )["mean"]

    def rebuilt():
        ensemble._MC_MODELS.pop(model, None)
        return batched()

    runs = {
        "loop of model(x, training=True)": loop,
        "mc_predict": batched,
        "mc_predict, model rebuilt every call": rebuilt,
    }
    times = time_interleaved(runs, args.rounds)
    return summarize(times, "loop of model(x, training=True)")


def build_conv_net(image_size, filters, num_classes, rate, seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((image_size, image_size, 3)),
            keras.layers.Conv2D(filters, 3, padding="same", activation="relu"),
            kerasdrop.ScheduledSpatialDropout2D(rate),
            keras.layers.Conv2D(filters, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            kerasdrop.ScheduledDropout(rate),
            keras.layers.Dense(num_classes, activation="softmax"),
        ]
    )


class TrainingModeForward(keras.Model):
    """`model(x, training=True)` as a model of its own, so that
    `predict_on_batch` runs it compiled: one forward pass in training
    mode, the floor of any Monte-Carlo prediction over the same rows."""

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        self.model = model

    def call(self, inputs):
        return self.model(inputs, training=True)


def mc_floor(args):
    """mc_predict against its floor, one compiled training-mode forward
    pass over the rows repeated `num_samples` times, for an MLP and a small
    conv net; wall and CPU times."""
    rng = np.random.default_rng(2)
    cases = {
        "MLP": (
            build_mlp(64, args.mlp_width, 10, args.rate, seed=0),
            rng.standard_normal((args.rows, 64)).astype("float32"),
        ),
        "conv net": (
            build_conv_net(16, 32, 10, args.rate, seed=0),
            rng.standard_normal((args.rows, 16, 16, 3)).astype("float32"),
        ),
    }
    runs = {}
    for case, (model, x) in cases.items():
        tiled = np.concatenate([x] * args.num_samples)
        floors = [TrainingModeForward(model), TrainingModeForward(model)]
        for floor, name in zip(floors, ("floor", "floor (A/A copy)")):
            runs[f"{case}: {name}"] = lambda floor=floor, tiled=tiled: (
                floor.predict_on_batch(tiled)
            )
        runs[f"{case}: mc_predict"] = lambda model=model, x=x: (
            kerasdrop.analysis.mc_predict(
                model, x, num_samples=args.num_samples
            )
        )
    cpu = {}
    wall = time_interleaved(runs, args.rounds, cpu_times=cpu)
    tables = {}
    for clock, times in (("wall", wall), ("cpu", cpu)):
        for case in cases:
            names = [name for name in runs if name.startswith(f"{case}:")]
            tables[f"{clock} {case}"] = summarize(
                {name: times[name] for name in names}, f"{case}: floor"
            )
    return tables


def main(argv=None):
    args = parse_args(argv)
    monitor_rows = monitor_overhead(args)
    mc_rows = mc_speed(args)
    floor_tables = mc_floor(args)
    print(
        f"Head: {args.feature_dim}-{args.hidden_units}-{args.num_classes} on "
        f"{args.labels_per_class * args.num_classes} rows, {args.epochs} "
        f"epochs of batch {args.batch_size}, {args.val_rows} validation rows "
        f"(the monitor's probe keeps 512). MC: MLP 64-{args.mlp_width}-"
        f"{args.mlp_width}-10, {args.num_samples} samples of {args.rows} "
        f"rows. {args.rounds} interleaved rounds, backend "
        f"{keras.backend.backend()}."
    )
    print_table(
        "CoAdaptationMonitor overhead on a transfer head",
        monitor_rows,
        {
            _monitor_variant(1): "<= 1.05",
            "  share of the fit inside it, every=1": "<= 0.05",
        },
    )
    print_table(
        "mc_predict vs a loop of model(x, training=True)",
        mc_rows,
        {"mc_predict": "<= 0.20"},
    )
    for title, rows in floor_tables.items():
        clock, case = title.split(" ", 1)
        print_table(
            f"mc_predict vs its floor, {case} ({clock} time)",
            rows,
            {f"{case}: mc_predict": "<= 1.15"},
        )
    write_results(
        args.output,
        {
            "monitor": monitor_rows,
            "mc_predict": mc_rows,
            "mc_predict_floor": floor_tables,
        },
        vars(args),
    )
    return monitor_rows, mc_rows


if __name__ == "__main__":
    main()
