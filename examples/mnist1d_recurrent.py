"""Recurrent dropout on MNIST-1D read as a sequence, with paired seeds.

Each MNIST-1D example is a sequence of 40 values, read here one value per
time step by a GRU and by an LSTM, each trained four ways:

- `none`: `keras.layers.GRU` / `keras.layers.LSTM`;
- `variational`: `kerasdrop.VariationalGRU` / `VariationalLSTM`, one
  dropout mask on the recurrent state for the whole sequence (Gal &
  Ghahramani, 2016);
- `weight_drop`: `kerasdrop.WeightDropGRU` / `WeightDropLSTM`, DropConnect
  on the recurrent kernel once per batch (Merity et al., 2017);
- `zoneout`: `kerasdrop.ZoneoutGRU` / `ZoneoutLSTM`, units that keep their
  previous value (Krueger et al., 2017).

As in the paper's GRU (Greydanus & Kobak, 2024), the classifier reads the
hidden state at every time step (flattened), not only the last one, so a
small recurrent layer learns in a few epochs. The training set is a subset
of `--train-samples` sequences (overfitting, where a regularizer can help).
`kerasdrop.experiments.compare` pairs them by seed: within a seed the four
GRUs (and the four LSTMs, which have the same weights layout) start from
the same initial weights and train on the same batches in the same order;
each model traces its train step once and trains its later seeds on the
same compiled model. The table gives the per-seed
difference of test accuracy to the unregularized layer: mean ± standard
deviation over seeds, and the seeds where the regularizer is better.

Run (10 seeds: 209 s of wall time and 204 s of CPU time, measured on two
CPU cores shared with other jobs):

    python examples/mnist1d_recurrent.py

Results go to `examples/results/mnist1d_recurrent/` (`results.json`,
`results.md` and a figure); `--docs-images` also copies the figure into
`docs/images/`.
"""

import time

STARTED = time.perf_counter()  # The wall time reported includes imports.

import os
import sys

import example_args

NAME = "mnist1d_recurrent"
CELLS = ("GRU", "LSTM")
METHODS = ("none", "variational", "weight_drop", "zoneout")
# Overrides of the defaults for `--quick`: every code path, in seconds.
QUICK = {
    "num_samples": 600,
    "seeds": 2,
    "train_samples": 100,
    "units": 2,
    "epochs": 1,
    "batch_size": 50,
}


def parse_args(argv=None):
    parser = example_args.make_parser(__doc__)
    parser.add_argument(
        "--cells",
        default=",".join(CELLS),
        help="comma-separated subset of: " + ", ".join(CELLS),
    )
    parser.add_argument(
        "--num-samples",
        type=int,
        default=5000,
        help="MNIST-1D samples generated; 80%% train, 20%% test",
    )
    parser.add_argument(
        "--train-samples",
        type=int,
        default=1000,
        help="training sequences of each seed (a subset of the training split)",
    )
    parser.add_argument(
        "--seeds", type=int, default=10, help="paired seeds of every model"
    )
    parser.add_argument(
        "--units", type=int, default=16, help="units of the recurrent layer"
    )
    example_args.add_training_arguments(parser, 20, 100, 1e-2)
    example_args.add_recurrent_rate_arguments(parser, zoneout_gru=True)
    example_args.add_output_arguments(parser, NAME)
    args = example_args.parse_paired(parser, argv, NAME, QUICK)
    args.cells = [cell.strip() for cell in args.cells.split(",")]
    if not args.cells or set(args.cells) - set(CELLS):
        parser.error(f"--cells: choose from {CELLS}")
    return args


if __name__ == "__main__":
    # `--help` and mistyped flags answer here, before TensorFlow loads.
    parse_args(sys.argv[1:])

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

tf.get_logger().setLevel("ERROR")

import example_utils

import kerasdrop

# ---------------------------------------------------------------------------
# The models: the recurrent layer returns its state at every step, which a
# softmax layer reads, flattened. Only the recurrent layer differs between
# methods; every variant is named "<cell>_<method>".
# ---------------------------------------------------------------------------


def recurrent_layer(args, cell, method, seed, name):
    options = {"return_sequences": True, "name": name}
    if method == "none":
        return getattr(keras.layers, cell)(args.units, **options)
    options["seed"] = seed
    if method == "variational":
        layer = getattr(kerasdrop, f"Variational{cell}")
        return layer(
            args.units,
            input_rate=0.0,  # One input value per step: keep it.
            recurrent_rate=args.recurrent_rate,
            **options,
        )
    if method == "weight_drop":
        layer = getattr(kerasdrop, f"WeightDrop{cell}")
        return layer(args.units, rate=args.weight_drop_rate, **options)
    if cell == "GRU":
        return kerasdrop.ZoneoutGRU(
            args.units, rate=args.zoneout_rate, **options
        )
    return kerasdrop.ZoneoutLSTM(
        args.units,
        cell_rate=args.cell_rate,
        hidden_rate=args.hidden_rate,
        **options,
    )


def build(args, cell, method, seed):
    """The compiled model of one layer: the recurrent states at every time
    step, flattened, then a softmax layer."""
    inputs = keras.Input((40, 1))
    states = recurrent_layer(args, cell, method, seed, "rnn")(inputs)
    flat = keras.layers.Flatten(name="flatten")(states)
    outputs = keras.layers.Dense(10, activation="softmax", name="output")(flat)
    model = keras.Model(inputs, outputs)
    model.compile(
        # Each variable's gradient clipped to norm 1.
        optimizer=keras.optimizers.Adam(args.learning_rate, clipnorm=1.0),
        loss="sparse_categorical_crossentropy",
        # One compiled call per epoch: no Python between batches.
        steps_per_execution=example_utils.steps_per_call(
            args.train_samples // args.batch_size
        ),
    )
    return model


def train_cell(args, cell, training_subset, test):
    """The four methods of `cell`, paired by seed against `none`."""

    def callbacks(seed):
        return [example_utils.Evaluation(training_subset(seed), test)]

    def builder(method):
        return lambda seed: build(args, cell, method, seed)

    variants = [
        kerasdrop.experiments.Variant(
            f"{cell}_{method}",
            build_model=builder(method),
            callbacks=callbacks,
        )
        for method in METHODS
    ]
    return kerasdrop.experiments.compare(
        builder("none"),
        variants,
        training_subset,
        seeds=list(range(args.seeds)),
        epochs=args.epochs,
        batch_size=args.batch_size,
        metrics={"test_accuracy": "max", "train_accuracy": "max"},
        reference=f"{cell}_none",
        verbose=2,
    )


# ---------------------------------------------------------------------------
# Table and figure.
# ---------------------------------------------------------------------------


def summarize(runs, cells):
    summary = {}
    for cell in cells:
        base = [
            run["history"]["test_accuracy"][-1]
            for run in sorted(runs, key=lambda run: run["seed"])
            if run["variant"] == f"{cell}_none"
        ]
        for method in METHODS:
            name = f"{cell}_{method}"
            chosen = sorted(
                (run for run in runs if run["variant"] == name),
                key=lambda run: run["seed"],
            )
            test = [run["history"]["test_accuracy"][-1] for run in chosen]
            difference = example_utils.paired_difference(test, base)
            summary[name] = {
                "cell": cell,
                "method": method,
                "test_accuracy": example_utils.mean_std(test),
                "train_accuracy": example_utils.mean_std(
                    [run["history"]["train_accuracy"][-1] for run in chosen]
                ),
                "test_accuracy_vs_none": difference,
                "verdict": example_utils.verdict(difference),
            }
    return summary


def format_table(args, summary):
    lines = [
        f"MNIST-1D as sequences of 40 steps, {args.train_samples} training "
        f"sequences, {args.units} units, {args.epochs} epochs, "
        f"{args.seeds} seeds",
        "",
        "| layer | method | test accuracy | vs none [95% CI] (wins/seeds) "
        "| verdict "
        "| train accuracy |",
        "|---|---|---:|---:|---|---:|",
    ]
    for row in summary.values():
        test, train = row["test_accuracy"], row["train_accuracy"]
        verdict = "" if row["method"] == "none" else row["verdict"]
        lines.append(
            f"| {row['cell']} | {row['method']} | {test[0]:.3f} ± "
            f"{test[1]:.3f} | "
            f"{example_utils.format_paired(row['test_accuracy_vs_none'])} | "
            f"{verdict} | {train[0]:.3f} ± {train[1]:.3f} |"
        )
    return "\n".join(lines)


def plot(runs, summary, output_dir):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.lines import Line2D

    cells = sorted({row["cell"] for row in summary.values()}, key=CELLS.index)
    seeds = len({run["seed"] for run in runs})
    figure, axes = plt.subplots(
        1, len(cells) + 1, figsize=(5 * (len(cells) + 1), 4)
    )
    for axis, cell in zip(axes[:-1], cells):
        for index, method in enumerate(METHODS):
            values = np.asarray(
                [
                    run["history"]["test_accuracy"]
                    for run in runs
                    if run["variant"] == f"{cell}_{method}"
                ]
            )
            epochs = np.arange(1, values.shape[1] + 1)
            example_utils.plot_mean_band(
                axis,
                epochs,
                values,
                method,
                example_utils.line_style(index, len(epochs)),
            )
        axis.set_xlabel("epoch")
        axis.set_ylabel("test accuracy")
        axis.set_title(f"{cell} (mean ± std over {seeds} seeds)")
        axis.legend(fontsize="small")
        axis.grid(alpha=0.3)
        example_utils.integer_epochs(axis)
    paired = axes[-1]
    for offset, cell in enumerate(cells):
        for index, method in enumerate(METHODS[1:]):
            difference = summary[f"{cell}_{method}"]["test_accuracy_vs_none"]
            position = offset * (len(METHODS) + 1) + index
            values = 100 * np.asarray(difference["differences"])
            paired.scatter(
                np.full(len(values), position), values, color=f"C{index + 1}"
            )
            paired.errorbar(
                position + 0.25,
                100 * difference["mean"],
                yerr=100 * difference["std"],
                color="black",
                marker="o",
                capsize=3,
            )
    ticks = [
        (offset * (len(METHODS) + 1) + index, f"{cell} {method}")
        for offset, cell in enumerate(cells)
        for index, method in enumerate(METHODS[1:])
    ]
    paired.set_xticks(*zip(*ticks), rotation=30, ha="right")
    paired.tick_params(axis="x", labelsize="small")
    paired.axhline(0.0, color="grey", linewidth=1)
    paired.set_ylabel("test accuracy - none (points)")
    paired.set_title("Final test accuracy, paired by seed")
    paired.legend(
        [
            Line2D([], [], color="grey", marker="o", linestyle=""),
            Line2D([], [], color="black", marker="o"),
        ],
        ["one seed", f"mean ± std over {seeds} seeds"],
        fontsize="x-small",
    )
    figure.tight_layout()
    path = os.path.join(output_dir, "mnist1d_recurrent.png")
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return [path]


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    if args.quick:
        print(example_args.QUICK_NOTE, flush=True)
    x_train, y_train, x_test, y_test = example_utils.load_mnist1d(
        args.num_samples
    )
    # One value per time step.
    x_train, x_test = x_train[..., None], x_test[..., None]
    print(
        f"MNIST-1D sequences: {args.train_samples} of {len(x_train)} "
        f"training and {len(x_test)} test; {len(args.cells) * len(METHODS)} "
        f"models x {args.seeds} seeds",
        flush=True,
    )

    def training_subset(seed):
        # The seed's training subset, the same for all its models.
        rows = np.random.default_rng(seed).choice(
            len(x_train), args.train_samples, replace=False
        )
        return x_train[rows], y_train[rows]

    runs = []
    for cell in args.cells:
        result = train_cell(args, cell, training_subset, (x_test, y_test))
        runs += result.runs
    summary = summarize(runs, args.cells)
    table = format_table(args, summary)
    print()
    print(table)
    figures = plot(runs, summary, args.output_dir)
    results = {"summary": summary, "runs": runs}
    example_utils.save_results(args, results, table, figures, STARTED)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
