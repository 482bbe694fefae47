"""Benchmark: kerasdrop against Keras on an accelerator, TensorFlow and JAX.

Measures, on whatever device each backend finds (a GPU if there is one),
one training epoch of the same small models built with Keras's layers and
with kerasdrop's, timed interleaved in one process per backend:

- `WeightDropLSTM` against Keras's `LSTM`, and whether each one's traced
  training step runs Keras's fused cuDNN kernel (the reason weight drop
  exists: recurrent regularization that keeps that kernel);
- `VariationalLSTM` and `ZoneoutLSTM` against Keras's
  `LSTM(recurrent_dropout=...)`, which leaves the cuDNN kernel;
- `ScheduledDropout` against Keras's `Dropout` in an MLP.

Each backend runs in its own Python process (Keras fixes the backend at
import); this script starts them, then prints one markdown table of ratios
and one of the kernels found in the traced training steps, and writes
`benchmarks/results/gpu.json`.

    python benchmarks/bench_gpu.py
    python benchmarks/bench_gpu.py --quick  # a smoke run, any device

The cuDNN check reads the traced training step itself: on TensorFlow, the
op types of the `tf.function` graph and its function library (`CudnnRNN*`);
on JAX, the custom calls of the lowered `jax.jit` program (`cudnn_rnn`).
On a CPU every answer is "no"; the ratios then describe the CPU.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import summarize  # noqa: I001
from common import time_interleaved
from common import write_results

BACKENDS = ("tensorflow", "jax")
PLAIN = "keras LSTM"
KERAS_DROPOUT = "keras LSTM(recurrent_dropout)"
DROPOUT = "keras Dropout"
# (variant, baseline) pairs of the ratio table.
COMPARISONS = (
    ("WeightDropLSTM", PLAIN),
    (KERAS_DROPOUT, PLAIN),
    ("VariationalLSTM", KERAS_DROPOUT),
    ("ZoneoutLSTM", KERAS_DROPOUT),
    ("VariationalLSTM", PLAIN),
    ("ZoneoutLSTM", PLAIN),
    ("ScheduledDropout", DROPOUT),
)
QUICK = {
    "rows": 64,
    "batch_size": 32,
    "timesteps": 8,
    "features": 8,
    "units": 16,
    "mlp_rows": 256,
    "mlp_batch_size": 128,
    "input_dim": 32,
    "width": 64,
    "rounds": 1,
}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS))
    parser.add_argument("--rows", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--timesteps", type=int, default=50)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--rate", type=float, default=0.25)
    parser.add_argument("--mlp-rows", type=int, default=32768)
    parser.add_argument("--mlp-batch-size", type=int, default=256)
    parser.add_argument("--input-dim", type=int, default=256)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="Tiny models and one round: checks that everything runs.",
    )
    parser.add_argument(
        "--worker",
        action="store_true",
        help="Measure in this process, on the current KERAS_BACKEND only.",
    )
    parser.add_argument(
        "--output",
        default=os.path.join(os.path.dirname(__file__), "results", "gpu.json"),
    )
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
    unknown = set(args.backends) - set(BACKENDS)
    if unknown:
        parser.error(f"Unknown backends {sorted(unknown)}: use {BACKENDS}.")
    return args


def describe_device():
    """The device a backend computes on, in words."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            return "CPU"
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"{len(gpus)} x {details.get('device_name', 'GPU')}"
    if keras.backend.backend() == "jax":
        import jax

        devices = jax.devices()
        return f"{len(devices)} x {devices[0].device_kind}"
    return "unknown"


def traced_step_ops(layer, x):
    """Op and custom-call names in one traced training step of `layer`.

    The step is a forward pass with `training=True` and the gradients of
    its sum with respect to the layer's weights, traced (TensorFlow) or
    lowered (JAX) the way `fit` compiles it, without running it.
    """
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function
        def step(inputs):
            with tf.GradientTape() as tape:
                loss = keras.ops.sum(layer(inputs, training=True))
            return tape.gradient(loss, layer.trainable_weights)

        graph = step.get_concrete_function(x).graph.as_graph_def()
        names = {node.op for node in graph.node}
        for function in graph.library.function:
            names.update(node.op for node in function.node_def)
        return names
    if backend == "jax":
        import jax

        non_trainable = [v.value for v in layer.non_trainable_variables]

        def loss(trainable, inputs):
            outputs, _ = layer.stateless_call(
                trainable, non_trainable, inputs, training=True
            )
            return keras.ops.sum(outputs)

        trainable = [v.value for v in layer.trainable_variables]
        text = jax.jit(jax.grad(loss)).lower(trainable, x).as_text()
        names = set(re.findall(r"stablehlo\.(\w+)", text))
        names.update(re.findall(r"custom_call\s*@(\w+)", text))
        return names
    raise NotImplementedError(f"No trace inspection for {backend}.")


def uses_cudnn(names):
    return any("cudnn" in name.lower() for name in names)


def recurrent_layers(units, rate):
    import keras

    import kerasdrop

    return {
        PLAIN: lambda: keras.layers.LSTM(units),
        KERAS_DROPOUT: lambda: keras.layers.LSTM(units, recurrent_dropout=rate),
        "WeightDropLSTM": lambda: kerasdrop.WeightDropLSTM(units, rate=rate),
        "VariationalLSTM": lambda: kerasdrop.VariationalLSTM(
            units, input_rate=0.0, recurrent_rate=rate
        ),
        "ZoneoutLSTM": lambda: kerasdrop.ZoneoutLSTM(
            units, cell_rate=rate, hidden_rate=rate
        ),
    }


def build_model(layers, input_shape, seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(input_shape), *layers])
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def measure(args):
    """Times every variant on the current backend; returns its results."""
    import keras
    import numpy as np

    import kerasdrop

    rng = np.random.default_rng(0)
    sequences = rng.standard_normal(
        (args.rows, args.timesteps, args.features)
    ).astype("float32")
    labels = rng.integers(0, 10, args.rows)
    features = rng.standard_normal((args.mlp_rows, args.input_dim))
    features = features.astype("float32")
    mlp_labels = rng.integers(0, 10, args.mlp_rows)

    runs, models, kernels = {}, {}, {}
    probe = sequences[: args.batch_size]
    for name, factory in recurrent_layers(args.units, args.rate).items():
        layer = factory()
        model = build_model(
            [layer, keras.layers.Dense(10)], (args.timesteps, args.features)
        )
        kernels[name] = sorted(
            op for op in traced_step_ops(layer, probe) if "cudnn" in op.lower()
        )
        models[name] = model
        runs[name] = _fitter(model, sequences, labels, args.batch_size)
    for name, factory in {
        DROPOUT: lambda: keras.layers.Dropout(0.5),
        "ScheduledDropout": lambda: kerasdrop.ScheduledDropout(0.5),
    }.items():
        model = build_model(
            [
                keras.layers.Dense(args.width, activation="relu"),
                factory(),
                keras.layers.Dense(args.width, activation="relu"),
                factory(),
                keras.layers.Dense(10),
            ],
            (args.input_dim,),
        )
        models[name] = model
        runs[name] = _fitter(model, features, mlp_labels, args.mlp_batch_size)

    times = time_interleaved(runs, args.rounds)
    comparisons = []
    for variant, baseline in COMPARISONS:
        (row,) = [
            row
            for row in summarize(
                {baseline: times[baseline], variant: times[variant]}, baseline
            )
            if row["variant"] == variant
        ]
        comparisons.append({**row, "baseline": baseline})
    return {
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "device": describe_device(),
        "median_epoch_s": {
            name: float(np.median(values)) for name, values in times.items()
        },
        "jit_compile": {
            name: bool(model.jit_compile) for name, model in models.items()
        },
        "cudnn_ops": kernels,
        "comparisons": comparisons,
        "times_s": times,
    }


def _fitter(model, x, y, batch_size):
    def run():
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)

    return run


def worker_arguments(args):
    """The command-line arguments that make a worker measure like `args`."""
    arguments = ["--worker"]
    for name in (
        "rows",
        "batch_size",
        "timesteps",
        "features",
        "units",
        "rate",
        "mlp_rows",
        "mlp_batch_size",
        "input_dim",
        "width",
        "rounds",
    ):
        arguments += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    return arguments


def run_workers(args):
    results = []
    with tempfile.TemporaryDirectory() as directory:
        for backend in args.backends:
            output = os.path.join(directory, f"{backend}.json")
            command = [
                sys.executable,
                os.path.abspath(__file__),
                *worker_arguments(args),
                "--output",
                output,
            ]
            environment = {**os.environ, "KERAS_BACKEND": backend}
            print(f"Measuring on {backend} ...", flush=True)
            completed = subprocess.run(command, env=environment)
            if completed.returncode != 0:
                print(f"The {backend} run failed.", flush=True)
                continue
            with open(output) as f:
                results.append(json.load(f)["rows"])
    return results


def markdown_tables(results, args):
    """The ratio table and the kernel table, as markdown lines."""
    backends = [result["backend"] for result in results]
    lines = [
        "Devices: "
        + "; ".join(f"{r['backend']}: {r['device']}" for r in results)
        + f". Recurrent epoch: {-(-args.rows // args.batch_size)} steps of "
        f"batch {args.batch_size}, sequences {args.timesteps}x"
        f"{args.features}, {args.units} units, rates {args.rate}. MLP "
        f"epoch: {-(-args.mlp_rows // args.mlp_batch_size)} steps of batch "
        f"{args.mlp_batch_size}, {args.input_dim}-{args.width}-"
        f"{args.width}-10, rate 0.5. {args.rounds} interleaved rounds.",
        "",
        "| comparison | "
        + " | ".join(f"{b}: ratio (paired, fastest)" for b in backends)
        + " |",
        "| --- |" + " --- |" * len(backends),
    ]
    for index, (variant, baseline) in enumerate(COMPARISONS):
        cells = []
        for result in results:
            row = result["comparisons"][index]
            cells.append(
                f"{row['ratio']:.2f} ({row['paired_ratio_median']:.2f}, "
                f"{row['min_ratio']:.2f})"
            )
        lines.append(
            f"| `{variant}` / `{baseline}` | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "| layer | "
        + " | ".join(f"{b}: median epoch s, cuDNN op, XLA" for b in backends)
        + " |",
        "| --- |" + " --- |" * len(backends),
    ]
    for name in results[0]["median_epoch_s"] if results else ():
        cells = []
        for result in results:
            ops = result["cudnn_ops"].get(name)
            kernel = "-" if ops is None else (", ".join(ops) or "no")
            xla = "yes" if result["jit_compile"][name] else "no"
            cells.append(
                f"{result['median_epoch_s'][name]:.4f}, {kernel}, {xla}"
            )
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return lines


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        result = measure(args)
        write_results(args.output, result, vars(args))
        return [result]
    results = run_workers(args)
    print("\n".join(["", *markdown_tables(results, args)]))
    # Written here without importing Keras, whose backend is the workers'.
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump({"settings": vars(args), "backends": results}, f, indent=2)
    return results


if __name__ == "__main__":
    main()
