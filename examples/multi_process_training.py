"""Scheduled dropout in several processes under keras.distribution (JAX).

Trains one small classifier with `ScheduledDropout` in `--num-processes`
JAX processes under `keras.distribution.DataParallel`, each process on its
own shard of a synthetic dataset, with a per-batch `DropoutScheduler` and a
`CoAdaptationMonitor`. Every process logs the same rates, losses and
co-adaptation values; after training each process runs `mc_predict` on its
own test rows, and the uncertainty of every process's rows is gathered on
every process. Each process writes what it logged to `process<i>.json`,
and process 0 writes `results.md`.

By default the script starts every process itself on 127.0.0.1 (free
ports, each process with `--devices-per-process` CPU devices, all of them
killed after `--timeout` seconds):

    python examples/multi_process_training.py --quick

On several machines, run one process per machine, each with the address
of process 0 and its own `--process-id`; each process then uses the
accelerators of its machine (or its CPU):

    python examples/multi_process_training.py --coordinator HOST0:1234 \\
        --num-processes 2 --process-id 0   # on HOST0
    python examples/multi_process_training.py --coordinator HOST0:1234 \\
        --num-processes 2 --process-id 1   # on the other machine
"""

import time

STARTED = time.perf_counter()  # The wall time reported includes imports.

import os
import signal
import socket
import subprocess
import sys

import example_args

NAME = "multi_process_training"
# Overrides of the defaults for `--quick`: every code path, in seconds.
QUICK = {"epochs": 2, "rows": 256, "num_samples": 8}


def parse_args(argv=None):
    parser = example_args.make_parser(__doc__)
    parser.add_argument(
        "--num-processes", type=int, default=2, help="processes in the run"
    )
    parser.add_argument(
        "--process-id",
        type=int,
        default=None,
        help="this process's index (default: none, and the script starts "
        "every process of the run itself on 127.0.0.1)",
    )
    parser.add_argument(
        "--coordinator",
        default=None,
        help="HOST:PORT of process 0, with --process-id (default: a free "
        "port on 127.0.0.1)",
    )
    parser.add_argument(
        "--devices-per-process",
        type=int,
        default=1,
        help="CPU devices of each process started on 127.0.0.1",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=300,
        help="seconds a run started on 127.0.0.1 may take before every "
        "process is killed",
    )
    parser.add_argument(
        "--epochs", type=int, default=6, help="epochs of training"
    )
    parser.add_argument(
        "--rows", type=int, default=1024, help="training rows per process"
    )
    parser.add_argument(
        "--batch-size", type=int, default=32, help="rows per batch per process"
    )
    parser.add_argument(
        "--rate", type=float, default=0.5, help="the first dropout rate"
    )
    parser.add_argument(
        "--num-samples",
        type=int,
        default=32,
        help="Monte-Carlo samples per test row",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="the seed, the same on every process (the data of process i "
        "is drawn with seed + 1 + i)",
    )
    example_args.add_output_arguments(parser, NAME, docs_images=False)
    args = example_args.parse(parser, argv, NAME, QUICK)
    if args.num_processes < 1:
        parser.error("--num-processes must be at least 1")
    if (args.process_id is None) != (args.coordinator is None):
        parser.error("--process-id and --coordinator go together")
    if args.process_id is not None and not (
        0 <= args.process_id < args.num_processes
    ):
        parser.error("--process-id must be in [0, --num-processes)")
    return args


def launch(args, argv):
    """Starts every process of the run on 127.0.0.1 and waits for them."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["XLA_FLAGS"] = (
        f"--xla_force_host_platform_device_count={args.devices_per_process}"
    )
    command = [sys.executable, os.path.abspath(__file__), *argv]
    processes = [
        subprocess.Popen(
            command
            + [
                "--process-id",
                str(index),
                "--coordinator",
                f"127.0.0.1:{port}",
                "--output-dir",
                args.output_dir,
            ],
            env=env,
            start_new_session=True,
        )
        for index in range(args.num_processes)
    ]
    deadline = time.monotonic() + args.timeout
    try:
        codes = [
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            for process in processes
        ]
    except subprocess.TimeoutExpired:
        print(f"The run took more than {args.timeout} s: stopped.")
        codes = [1]
    finally:
        for process in processes:  # None outlives the run.
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if any(codes):
        sys.exit(f"A process failed (exit codes {codes}).")
    seconds = time.perf_counter() - STARTED
    print(f"{args.num_processes} processes done in {seconds:.1f} s.")
    if args.quick:
        print(example_args.QUICK_NOTE)


if __name__ == "__main__":
    # `--help` and mistyped flags answer here, before JAX loads.
    ARGS = parse_args(sys.argv[1:])
    if ARGS.process_id is None:
        launch(ARGS, sys.argv[1:])
        sys.exit(0)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "jax"  # keras.distribution runs on JAX.

import json

import jax
import keras
import numpy as np
from jax.experimental import multihost_utils

import kerasdrop
from kerasdrop.analysis import uncertainty

FEATURES, CLASSES = 16, 4


def shard(rows, seed):
    """Rows of a synthetic 4-class problem: the class is the quadrant of
    two random projections of the features, plus noise."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, FEATURES)).astype("float32")
    directions = np.random.default_rng(1234).standard_normal((FEATURES, 2))
    scores = x @ directions + 0.5 * rng.standard_normal((rows, 2))
    y = (scores[:, 0] > 0).astype("int32") * 2 + (scores[:, 1] > 0)
    return x, y


def build_model():
    return keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(64, activation="relu"),
            kerasdrop.ScheduledDropout(0.0, seed=1, name="dropout"),
            keras.layers.Dense(CLASSES, activation="softmax"),
        ]
    )


def main(args):
    # Every process: the same coordinator, the same seed (JAX refuses
    # weights built differently on each process).
    keras.distribution.initialize(
        args.coordinator, args.num_processes, args.process_id
    )
    keras.utils.set_random_seed(args.seed)
    # Each process passes its own shard: Keras assembles the global batch
    # (`--batch-size` rows from every process) without sharding it again.
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(
            devices=keras.distribution.list_devices(),
            auto_shard_dataset=False,
        )
    )
    x, y = shard(args.rows, args.seed + 1 + args.process_id)
    x_test, _ = shard(8, args.seed + 100 + args.process_id)
    model = build_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    steps = args.epochs * (args.rows // args.batch_size)
    scheduler = kerasdrop.callbacks.DropoutScheduler(
        kerasdrop.schedules.Linear(args.rate, 0.0, steps), unit="batch"
    )
    # The same probe on every process, so every process measures the
    # same co-adaptation.
    probe, _ = shard(128, args.seed + 1000)
    monitor = kerasdrop.callbacks.CoAdaptationMonitor(probe)
    history = model.fit(
        x,
        y,
        batch_size=args.batch_size,
        epochs=args.epochs,
        callbacks=[scheduler, monitor],
        verbose=0,
    )
    logs = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    rates = [round(v, 4) for v in logs["dropout/rate"]]
    losses = [round(v, 4) for v in logs["loss"]]
    print(f"process {args.process_id}: rates {rates}, losses {losses}")

    # Monte-Carlo prediction runs in each process, on the rows it passes.
    prediction = kerasdrop.analysis.mc_predict(
        model,
        x_test,
        num_samples=args.num_samples,
        rate=args.rate,
        return_samples=True,
    )
    entropy = uncertainty.predictive_entropy(prediction["samples"])
    # Every process's values, stacked in process order, on every process
    # (gathered in float32).
    gathered = np.asarray(multihost_utils.process_allgather(entropy))
    result = {
        "process_id": args.process_id,
        "num_processes": jax.process_count(),
        "num_devices": len(jax.devices()),
        "history": logs,
        "predictive_entropy": gathered.tolist(),
    }
    os.makedirs(args.output_dir, exist_ok=True)
    path = os.path.join(args.output_dir, f"process{args.process_id}.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    if args.process_id == 0:
        write_results(args, result)
    # A process that exits first aborts the others: wait for all of them.
    multihost_utils.sync_global_devices("done")


def write_results(args, result):
    history = result["history"]
    lines = [
        f"{result['num_processes']} processes, {result['num_devices']} "
        "devices (DataParallel); every process logged these values.",
        "",
        "| epoch | dropout/rate | loss | coadaptation/dropout/correlation |",
        "|---|---|---|---|",
    ]
    for epoch, rate in enumerate(history["dropout/rate"]):
        correlation = history["coadaptation/dropout/correlation"][epoch]
        lines.append(
            f"| {epoch} | {rate:.4f} | {history['loss'][epoch]:.4f} | "
            f"{correlation:.4f} |"
        )
    lines += ["", "Mean predictive entropy of each process's test rows:"]
    for index, values in enumerate(result["predictive_entropy"]):
        lines.append(f"- process {index}: {np.mean(values):.4f} nats")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.output_dir, "results.md"), "w") as f:
        f.write(text)
    print(text, end="")
    print(f"Wrote {args.output_dir}/results.md")


if __name__ == "__main__":
    main(ARGS)
