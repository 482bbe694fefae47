"""Shared timing helpers for the ratio benchmarks.

Each benchmark times several variants in one process, interleaved, each
round in an order rotated by one place (A, B, C; B, C, A; C, A, B; ...), so
slow phases of a shared machine hit every variant alike and no variant
always runs first.
Reported numbers are medians and ratios to a Keras baseline measured in the
same run.
"""

import gc
import json
import os
import platform
import resource
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np


def time_interleaved(runs, rounds, warmup=1, cpu_times=None):
    """Times each callable in `runs` (a dict) `rounds` times, interleaved.

    Round r runs the variants in the order of `runs` rotated by r places
    (A, B, C; then B, C, A; ...), so each variant takes each position
    equally often: on a shared machine the variant that runs first after
    another one's work (or after the harness's own) is measurably slower or
    faster than the others, which a fixed order charges to one variant.
    Garbage is collected before each timed call, outside its time.

    Returns a dict from name to the list of wall times in seconds. With a
    dict `cpu_times`, also fills it the same way with this process's CPU
    time of each call (less sensitive to other jobs, which only add wall
    time).
    """
    for _ in range(warmup):
        for run in runs.values():
            run()
    names = list(runs)
    times = {name: [] for name in names}
    if cpu_times is not None:
        cpu_times.update({name: [] for name in names})
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            start, start_cpu = time.perf_counter(), _cpu_seconds()
            runs[name]()
            times[name].append(time.perf_counter() - start)
            if cpu_times is not None:
                cpu_times[name].append(_cpu_seconds() - start_cpu)
    return times


def _cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def summarize(times, baseline):
    """Median time per variant and its ratio to `baseline`'s median.

    The ratio's spread is the interquartile range of per-round ratios
    (round i of a variant over round i of the baseline); their median, the
    paired ratio, is less sensitive to slow phases of a shared machine that
    last several rounds. The ratio of the fastest rounds (as `timeit`
    reports) is the least sensitive to other jobs: they only add time.
    """
    base = statistics.median(times[baseline])
    rows = []
    for name, values in times.items():
        paired = sorted(v / b for v, b in zip(values, times[baseline]))
        quartiles = (
            statistics.quantiles(paired, n=4)
            if len(paired) > 1
            else (paired * 3)
        )
        rows.append(
            {
                "variant": name,
                "median_s": statistics.median(values),
                "ratio": statistics.median(values) / base,
                "paired_ratio_q1": quartiles[0],
                "paired_ratio_median": statistics.median(paired),
                "paired_ratio_q3": quartiles[-1],
                "min_ratio": min(values) / min(times[baseline]),
            }
        )
    return rows


def print_table(title, rows, goals=None):
    goals = goals or {}
    print(f"\n{title}")
    header = (
        f"{'variant':44s} {'median s':>9s} {'ratio':>7s} {'paired':>7s} "
        f"{'fastest':>7s} {'IQR':>13s}"
    )
    print(header + "  goal")
    print("-" * (len(header) + 8))
    for row in rows:
        goal = goals.get(row["variant"], "")
        iqr = f"{row['paired_ratio_q1']:.3f}-{row['paired_ratio_q3']:.3f}"
        paired = row.get("paired_ratio_median", float("nan"))
        fastest = row.get("min_ratio", float("nan"))
        print(
            f"{row['variant']:44s} {row['median_s']:9.4f} "
            f"{row['ratio']:7.3f} {paired:7.3f} {fastest:7.3f} {iqr:>13s}  "
            f"{goal}"
        )


def write_results(path, rows, settings):
    import keras

    os.makedirs(os.path.dirname(path), exist_ok=True)
    payload = {
        "settings": settings,
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "rows": rows,
    }
    with open(path, "w") as f:
        json.dump(payload, f, indent=2)


def classifier(layers, seed=0, inputs=None):
    """A compiled classifier of `layers` on logits, weights drawn from `seed`.

    A `keras.Sequential` of `layers`, or the Functional model from `inputs`
    to `layers` (the output tensor) when `inputs` is given; Adam and the
    sparse cross-entropy from logits, as every benchmark here trains.
    """
    if inputs is None:
        keras.utils.set_random_seed(seed)
        model = keras.Sequential(layers)
    else:
        model = keras.Model(inputs, layers)
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def add_sequence_arguments(parser, rounds):
    """The arguments of the recurrent benchmarks: data, LSTM and rounds."""
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--timesteps", type=int, default=50)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--rate", type=float, default=0.25)
    parser.add_argument("--rounds", type=int, default=rounds)


def sequence_data(args):
    """Seeded random sequences `(rows, timesteps, features)` and 10 labels."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.rows, args.timesteps, args.features))
    return x.astype("float32"), rng.integers(0, 10, args.rows)
