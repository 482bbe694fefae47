"""Permuted sequential digits: recurrent regularizers compared.

Zoneout's paper tests on permuted sequential MNIST: each image is read one
pixel per time step, in a fixed random order, so an LSTM must carry
information across hundreds of steps. This example is its small cousin,
offline and quick: scikit-learn's 8x8 digits (1,797 images) become
sequences of 64 pixels in one fixed permutation. The same LSTM classifier is
trained four ways -- no regularization, variational dropout
(`kerasdrop.VariationalLSTM`), weight drop (`kerasdrop.WeightDropLSTM`) and
zoneout (`kerasdrop.ZoneoutLSTM`) -- over several seeds, and the test
accuracy after the last epoch is reported as mean +- standard deviation.

Run (a few minutes on 2 CPU cores):

    python examples/zoneout_sequential_digits.py

Results go to `examples/results/zoneout_sequential_digits/` (a table as
Markdown and CSV, and a plot); `--docs-images` also writes the plot to
`docs/images/`.
"""

import os
import sys
import time

import example_args

NAME = "zoneout_sequential_digits"
METHODS = ("none", "variational", "weight_drop", "zoneout")
# Overrides of the defaults for `--quick`: every code path, in seconds.
QUICK = {"seeds": 2, "epochs": 2, "units": 8, "train_limit": 256}


def parse_args(argv):
    parser = example_args.make_parser(__doc__)
    parser.add_argument(
        "--methods",
        nargs="+",
        default=list(METHODS),
        choices=METHODS,
        help="the regularizers compared",
    )
    parser.add_argument(
        "--seeds", type=int, default=3, help="seeds of every method"
    )
    example_args.add_training_arguments(parser, 20, 32, 1e-2)
    parser.add_argument(
        "--units", type=int, default=64, help="units of the LSTM"
    )
    example_args.add_recurrent_rate_arguments(parser)
    parser.add_argument(
        "--train-limit",
        type=int,
        default=None,
        help="use only this many training sequences (default: all)",
    )
    example_args.add_output_arguments(parser, NAME)
    return example_args.parse(parser, argv, NAME, QUICK)


if __name__ == "__main__":
    # `--help` and mistyped flags answer here, before TensorFlow loads.
    parse_args(sys.argv[1:])

import csv
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import example_utils
import keras
import numpy as np

import kerasdrop

# ## The data
#
# Pixels are scaled to [0, 1] and read in one fixed random order (the same
# for every seed and method), one pixel per time step: sequences of shape
# (64, 1). The train/test split is fixed too, so seeds only change the
# initial weights, the shuffling and the dropout/zoneout masks.


def load_permuted_digits(train_limit=None):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    permutation = np.random.default_rng(1234).permutation(x.shape[1])
    x = x[:, permutation][..., None]
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.3, random_state=0, stratify=digits.target
    )
    if train_limit is not None:
        x_train, y_train = x_train[:train_limit], y_train[:train_limit]
    return (x_train, y_train), (x_test, y_test)


# ## The models
#
# One LSTM layer and a softmax classifier; only the recurrent layer
# changes. All four LSTMs have the same weights layout as
# `keras.layers.LSTM`.


def recurrent_layer(method, args):
    if method == "none":
        return keras.layers.LSTM(args.units)
    if method == "variational":
        return kerasdrop.VariationalLSTM(
            args.units, input_rate=0.0, recurrent_rate=args.recurrent_rate
        )
    if method == "weight_drop":
        return kerasdrop.WeightDropLSTM(args.units, rate=args.weight_drop_rate)
    return kerasdrop.ZoneoutLSTM(
        args.units, cell_rate=args.cell_rate, hidden_rate=args.hidden_rate
    )


def build_model(method, args, seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((64, 1)),
            recurrent_layer(method, args),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate, clipnorm=1.0),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


class _Dots(keras.callbacks.Callback):
    """Prints one dot per epoch, so a long run shows progress."""

    def on_epoch_end(self, epoch, logs=None):
        print(".", end="", flush=True)


# ## Training
#
# Each (method, seed) run trains for the same number of epochs; the test
# accuracy is recorded after every epoch (for the curves) and reported after
# the last one (no early stopping, no selection on the test set).


def run(args):
    (x_train, y_train), (x_test, y_test) = load_permuted_digits(
        args.train_limit
    )
    print(
        f"{len(x_train)} training and {len(x_test)} test sequences of 64 "
        f"pixels; {len(args.methods)} methods x {args.seeds} seeds, "
        f"{args.epochs} epochs each."
    )
    curves = {method: [] for method in args.methods}
    train_accuracy = {method: [] for method in args.methods}
    total = len(args.methods) * args.seeds
    done = 0
    for seed in range(args.seeds):
        for method in args.methods:
            done += 1
            print(f"[{done}/{total}] {method:12s} seed {seed} ", end="")
            start = time.perf_counter()
            model = build_model(method, args, seed)
            history = model.fit(
                x_train,
                y_train,
                batch_size=args.batch_size,
                epochs=args.epochs,
                validation_data=(x_test, y_test),
                callbacks=[_Dots()],
                verbose=0,
            )
            accuracy = history.history["val_accuracy"]
            curves[method].append(accuracy)
            train_accuracy[method].append(history.history["accuracy"][-1])
            print(
                f" test accuracy {accuracy[-1]:.3f} "
                f"({time.perf_counter() - start:.0f} s)"
            )
    return curves, train_accuracy


# ## Results
#
# A table of the final test accuracy (mean +- standard deviation over seeds)
# with the last epoch's training accuracy beside it -- when the two are
# close, the model is still underfitting and a regularizer can only slow it
# down -- and a plot of the test accuracy per epoch (mean and one standard
# deviation) next to the final accuracies.


def summarize(curves, train_accuracy):
    rows = []
    for method, runs in curves.items():
        finals = [run[-1] for run in runs]
        std = statistics.stdev(finals) if len(finals) > 1 else 0.0
        rows.append(
            {
                "method": method,
                "mean": statistics.mean(finals),
                "std": std,
                "train": statistics.mean(train_accuracy[method]),
                "seeds": len(finals),
                "runs": " ".join(f"{value:.3f}" for value in finals),
            }
        )
    return rows


def write_table(rows, output_dir, args):
    lines = [
        "| method | test accuracy (mean ± std) | train accuracy | seeds "
        "| test accuracy per seed |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['method']} | {row['mean']:.3f} ± {row['std']:.3f} | "
            f"{row['train']:.3f} | {row['seeds']} | {row['runs']} |"
        )
    table = "\n".join(lines)
    settings = (
        f"LSTM({args.units}), {args.epochs} epochs, batch {args.batch_size}, "
        f"Adam({args.learning_rate}); variational recurrent_rate "
        f"{args.recurrent_rate}; weight drop rate {args.weight_drop_rate}; "
        f"zoneout cell_rate {args.cell_rate}, hidden_rate {args.hidden_rate}. "
        "Train accuracy: running mean over the last epoch, regularization on."
    )
    with open(os.path.join(output_dir, "results.md"), "w") as f:
        f.write(table + "\n\n" + settings + "\n")
    with open(os.path.join(output_dir, "results.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print("\n" + table + "\n\n" + settings)


def plot(curves, rows, paths):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    seeds = len(next(iter(curves.values())))
    for method, runs in curves.items():
        runs = np.asarray(runs)
        epochs = np.arange(1, runs.shape[1] + 1)
        example_utils.plot_mean_band(
            left,
            epochs,
            runs,
            method,
            example_utils.line_style(METHODS.index(method), len(epochs)),
        )
    left.set_xlabel("epoch")
    left.set_ylabel("test accuracy")
    left.set_title(f"Permuted sequential digits (mean ± std, {seeds} seeds)")
    left.legend()
    left.grid(alpha=0.3)
    example_utils.integer_epochs(left)
    names = [row["method"] for row in rows]
    right.bar(
        names,
        [row["mean"] for row in rows],
        yerr=[row["std"] for row in rows],
        capsize=4,
        color=[f"C{METHODS.index(name)}" for name in names],
    )
    low = min(row["mean"] - row["std"] for row in rows)
    right.set_ylim(max(0.0, low - 0.05), 1.0)
    right.set_ylabel("test accuracy after the last epoch")
    right.set_title(f"Final test accuracy (mean ± std, {seeds} seeds)")
    figure.tight_layout()
    for path in paths:
        figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    if args.quick:
        print(example_args.QUICK_NOTE, flush=True)
    curves, train_accuracy = run(args)
    rows = summarize(curves, train_accuracy)
    write_table(rows, args.output_dir, args)
    paths = [os.path.join(args.output_dir, "accuracy.png")]
    if args.docs_images:
        paths.append(
            os.path.join(
                example_args.DOCS_IMAGES_DIR, "zoneout_sequential_digits.png"
            )
        )
    plot(curves, rows, paths)
    print(f"Wrote {', '.join(paths)} and the table to {args.output_dir}.")
    if args.quick:
        print(example_args.QUICK_NOTE)
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
