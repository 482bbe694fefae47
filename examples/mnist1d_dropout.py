"""What dropout does on MNIST-1D, measured with paired seeds.

MNIST-1D (Greydanus & Kobak, "Scaling down deep learning with MNIST-1D",
ICML 2024) turns the ten digits into sequences of 40 numbers: small enough
for a CPU, hard enough that an MLP overfits and a regularizer shows. The
`mnist1d` package generates it (`mnist1d.data.make_dataset`), so this
script runs offline. It checks four claims of the dropout literature:

1. **Baseline.** The paper's MLP (40 -> 100 -> 100 with a residual
   connection -> 10) on the standard 4000/1000 split, next to the
   accuracy the paper reports for it, with and without dropout.
2. **Overfitting regime** (a wide MLP on 1000 training sequences): no
   dropout against fixed, annealed, curriculum, early and late dropout,
   all driven by `kerasdrop.callbacks.DropoutScheduler`.
3. **Underfitting regime** (a narrow MLP on all 4000): Liu et al. (2023,
   "Dropout Reduces Underfitting") report that *early* dropout lowers the
   final training loss and the test error of underfitting models, while
   standard and late dropout help overfitting ones. Both halves are tested.
4. **Co-adaptation and the ensemble view**: `CoAdaptationMonitor` curves and
   the ablation curve (Morcos et al., 2018) of every variant of regime 2,
   whether they predict the accuracy gain; Monte-Carlo averaging of 1 to
   100 subnetworks against weight scaling (Srivastava et al., 2014,
   Fig. 11); and the exact average over all 2^n masks of a small layer.

Every comparison is paired, by `kerasdrop.experiments.compare`: within a
seed all variants start from the same initial weights, see the same
training subset and the same batches in the same order, and draw the same
dropout random numbers. Each variant traces its train step once: its later
seeds train on the same compiled model, given the new seed's weights,
rates and random states and a fresh optimizer (in the overfitting
section the run that traces took 5.5 s on average, a later seed's 2.9 s,
on the machine below). Each table gives the per-seed difference to
no dropout as mean ± standard deviation over seeds, its 95% Student t
interval and the number of seeds where the variant is better.

Run (8 seeds: 276 s of CPU time, measured on two CPU cores shared with
other jobs, where it took 251 s of wall time; `--seeds 10` took 370 s of
wall time there, over 5 minutes):

    python examples/mnist1d_dropout.py

`--quick` runs every code path on tiny settings (for tests) into
`examples/results/mnist1d_dropout-quick/`: a smoke test, whose verdicts
mean nothing. `--docs-images` refreshes the figures of the documentation.
Results go to `examples/results/mnist1d_dropout/`: `results.json`
(configuration, every run's per-epoch history, the summaries), `results.md`
(the tables) and the figures.
"""

import time

STARTED = time.perf_counter()  # The wall time reported includes imports.

import os
import sys

import example_args

NAME = "mnist1d_dropout"
# Greydanus & Kobak, README of github.com/greydanus/mnist1d ("Comparing
# MNIST and MNIST-1D"): test accuracy on the standard 4000/1000 split.
PAPER_ACCURACY = {
    "logistic regression": 0.32,
    "MLP": 0.68,
    "CNN": 0.94,
    "GRU": 0.91,
    "human expert": 0.96,
}
OVERFITTING_VARIANTS = (
    "none",
    "fixed",
    "annealed",
    "curriculum",
    "early",
    "late",
)
UNDERFITTING_VARIANTS = ("none", "early", "fixed")
ANCHOR_VARIANTS = ("none", "fixed")
COADAPTATION_MEASURES = ("correlation", "effective_rank")
# Overrides of the defaults for `--quick`: every code path, in seconds.
QUICK = {
    "num_samples": 600,
    "seeds": 2,
    "train_samples": 96,
    "width": 16,
    "epochs": 2,
    "batch_size": 32,
    "anchor_width": 8,
    "anchor_epochs": 1,
    "small_width": 4,
    "underfitting_epochs": 2,
    "sample_counts": "1,3",
    "mc_repeats": 2,
    "exact_units": 4,
    "exact_epochs": 1,
    "monitor_every": 1,
}


def parse_args(argv=None):
    parser = example_args.make_parser(__doc__)
    parser.add_argument(
        "--num-samples",
        type=int,
        default=5000,
        help="MNIST-1D samples generated; 80%% train, 20%% test",
    )
    parser.add_argument(
        "--seeds", type=int, default=8, help="paired seeds of every variant"
    )
    group = parser.add_argument_group("overfitting regime")
    group.add_argument(
        "--train-samples",
        type=int,
        default=1000,
        help="training sequences (a subset of the training split)",
    )
    group.add_argument(
        "--width", type=int, default=256, help="units of each hidden layer"
    )
    example_args.add_training_arguments(group, 100, 50, 1e-3)
    group.add_argument(
        "--rate", type=float, default=0.5, help="the schedules' rate"
    )
    group.add_argument(
        "--monitor-every",
        type=int,
        default=5,
        help="epochs between two CoAdaptationMonitor measurements",
    )
    group = parser.add_argument_group("paper baseline and underfitting")
    group.add_argument(
        "--anchor-width",
        type=int,
        default=100,
        help="hidden units of the paper's MLP",
    )
    group.add_argument(
        "--anchor-epochs",
        type=int,
        default=60,
        help="epochs of the paper's MLP",
    )
    group.add_argument(
        "--anchor-rate",
        type=float,
        default=0.1,
        help="dropout rate of the paper's MLP",
    )
    group.add_argument(
        "--small-width",
        type=int,
        default=16,
        help="hidden units of the narrow (underfitting) MLP",
    )
    group.add_argument(
        "--underfitting-epochs",
        type=int,
        default=60,
        help="epochs of the narrow MLP",
    )
    group.add_argument(
        "--underfitting-rate",
        type=float,
        default=0.1,
        help="dropout rate of the narrow MLP",
    )
    group.add_argument(
        "--full-batch-size",
        type=int,
        default=100,
        help="rows per batch, on all training data",
    )
    group.add_argument(
        "--full-learning-rate",
        type=float,
        default=1e-2,
        help="of Adam, on all training data",
    )
    group = parser.add_argument_group("ensemble view")
    group.add_argument(
        "--sample-counts",
        default="1,2,3,5,10,20,50,100",
        help="numbers of Monte-Carlo samples, comma-separated",
    )
    group.add_argument(
        "--mc-repeats",
        type=int,
        default=5,
        help="independent Monte-Carlo runs per sample count",
    )
    group.add_argument(
        "--exact-units",
        type=int,
        default=12,
        help="units of the exactly averaged layer (2^n masks)",
    )
    group.add_argument(
        "--exact-epochs",
        type=int,
        default=20,
        help="epochs of the exactly averaged model",
    )
    example_args.add_output_arguments(parser, NAME)
    args = example_args.parse_paired(parser, argv, NAME, QUICK)
    args.sample_counts = sorted(
        {int(count) for count in args.sample_counts.split(",")}
    )
    return args


if __name__ == "__main__":
    # `--help` and mistyped flags answer here, before TensorFlow loads.
    parse_args(sys.argv[1:])

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

# Every variant traces its own train step, which TensorFlow would warn
# about as "retracing".
tf.get_logger().setLevel("ERROR")

import example_tables
import example_utils

import kerasdrop

# ---------------------------------------------------------------------------
# The models and their paired training. One MLP builder serves every
# section: `width` hidden units in two ReLU layers, each followed by a
# `kerasdrop.ScheduledDropout` whose rate the scheduler sets (rate 0: the
# plain MLP). With `residual=True` it is the paper's MLP (`MLPBase` in the
# mnist1d repository's notebooks/models.py): `h = relu(W1 x); h = h +
# relu(W2 h)`. `kerasdrop.experiments.compare` trains every variant of a
# section, seed by seed: built after `keras.utils.set_random_seed(seed)`,
# all variants of a seed start from the same weights, see the same batches
# in the same order (`batch_order`) and draw the same dropout random
# numbers (the same dropout seeds); each variant traces its train step
# once and trains its later seeds on that compiled model. An
# `example_utils.Evaluation` callback logs, after every epoch, the test
# accuracy and the accuracy and loss on the training rows in inference mode
# (no dropout), so variants compare on the same footing whatever their
# rate.
# ---------------------------------------------------------------------------


def build_mlp(section, seed):
    """The compiled MLP of `section`, its dropout seeded by `seed`."""

    def dropout(index):
        # The same dropout seed in every variant: where two variants have
        # the same rate, they drop the same units.
        return kerasdrop.ScheduledDropout(
            0.0, seed=seed * 10 + index, name=f"dropout_{index}"
        )

    width, dense = section["width"], keras.layers.Dense
    inputs = keras.Input((40,))
    hidden = dense(width, activation="relu", name="dense_1")(inputs)
    hidden = dropout(1)(hidden)
    second = dense(width, activation="relu", name="dense_2")(hidden)
    if section.get("residual", False):
        second = keras.layers.Add(name="residual")([hidden, second])
    hidden = dropout(2)(second)
    outputs = dense(10, activation="softmax", name="output")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(section["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        # One compiled call per epoch: no Python between batches.
        steps_per_execution=example_utils.steps_per_call(
            section["train_rows"] // section["batch_size"]
        ),
    )
    return model


# What `compare` compares: the last epoch's values, with their directions.
METRICS = {
    "test_accuracy": "max",
    "train_accuracy": "max",
    "train_loss": "min",
    "test_loss": "min",
    "test_error": "min",
}


def train(section, seeds, training_data, test, callbacks=None):
    """Every variant of `section` over `seeds`, paired by seed.

    `training_data(seed)` gives the seed's `(x, y)`; `callbacks(variant,
    seed)` more callbacks of a run. Returns the `ExperimentResult`.
    """
    epochs = section["epochs"]

    def run_callbacks(variant):
        def make(seed):
            extra = callbacks(variant, seed) if callbacks else []
            train_rows = training_data(seed)
            return [example_utils.Evaluation(train_rows, test), *extra]

        return make

    variants = [
        kerasdrop.experiments.Variant(
            variant,
            schedule=example_utils.make_schedule(
                variant, section["rate"], epochs
            ),
            callbacks=run_callbacks(variant),
        )
        for variant in section["variants"]
    ]
    return kerasdrop.experiments.compare(
        lambda seed: build_mlp(section, seed),
        variants,
        training_data,
        seeds=seeds,
        epochs=epochs,
        batch_size=section["batch_size"],
        metrics=METRICS,
        verbose=2,
    )


# ---------------------------------------------------------------------------
# Summaries: per variant, the mean ± std over seeds of the last epoch's
# values, and the paired difference to no dropout, judged by
# `kerasdrop.experiments.verdict` (reproduced: the 95% Student t interval
# of the mean difference over seeds lies on the better side of zero;
# contradicted: on the worse side; else not distinguishable from noise
# here), as `compare`'s result holds them.
# ---------------------------------------------------------------------------


def summarize(result, keys):
    summary = {}
    for variant in result.variants:
        row = {}
        for key in keys:
            values = result.values(variant, key)
            row[key] = example_utils.mean_std(values)
            row[f"{key}_vs_none"] = (
                result.differences[variant][key]
                if variant != "none"
                else example_utils.paired_difference(values, values)
            )
        if "fixed" in result.variants and variant not in ("none", "fixed"):
            # Schedules against the fixed rate they start from or reach.
            row["test_accuracy_vs_fixed"] = example_utils.paired_difference(
                result.values(variant, "test_accuracy"),
                result.values("fixed", "test_accuracy"),
            )
        summary[variant] = row
    return summary


def correlation(a, b):
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


# ---------------------------------------------------------------------------
# Co-adaptation. During training, `CoAdaptationMonitor` measures the units
# of every variant's second hidden layer (the input of its second dropout
# layer) on a fixed probe of test rows. After training, `ablation_curve`
# zeroes a growing random fraction of those units and measures the test
# accuracy. Then: across all (variant, seed) pairs, does the change of a
# measure against no dropout go with the change of test accuracy, or only
# with the rate the variant ends with?
# ---------------------------------------------------------------------------


def ablation_areas(model, x_test, y_test, seed):
    curve = kerasdrop.analysis.ablation_curve(
        model, "dropout_2", x_test, y_test, num_orders=5, seed=seed
    )
    return {
        "fractions": curve["fractions"].tolist(),
        "mean": curve["mean"].tolist(),
        "area": curve["area"],
        # The area divided by the accuracy before ablation: how slowly the
        # model degrades, whatever its accuracy.
        "relative_area": curve["area"] / max(curve["mean"][0], 1e-12),
    }


def coadaptation_summary(args, runs, curves):
    variants = OVERFITTING_VARIANTS
    seeds = sorted({run["seed"] for run in runs})
    table = {}
    for variant in variants:
        row = {}
        for measure in COADAPTATION_MEASURES:
            key = f"coadaptation/dropout_2/{measure}"
            row[measure] = example_utils.mean_std(
                [
                    _last_measured(run["history"], key)
                    for run in _of(runs, variant)
                ]
            )
        for area in ("area", "relative_area"):
            row[f"ablation_{area}"] = example_utils.mean_std(
                [curves[seed][variant][area] for seed in seeds]
            )
        # Paired against no dropout; a win is less co-adaptation: lower
        # correlation, higher effective rank, slower ablation.
        for measure, higher in (
            ("correlation", False),
            ("effective_rank", True),
            ("ablation_relative_area", True),
        ):
            row[f"{measure}_vs_none"] = example_utils.paired_difference(
                _measure_values(runs, curves, variant, measure, seeds),
                _measure_values(runs, curves, "none", measure, seeds),
                higher_is_better=higher,
            )
        row["final_rate"] = example_utils.make_schedule(
            variant, args.rate, args.epochs
        )(args.epochs - 1)
        table[variant] = row

    # Paired changes against no dropout, one point per (variant, seed).
    points = {"accuracy": [], "final_rate": []}
    changes = {
        measure: []
        for measure in (*COADAPTATION_MEASURES, "area", "relative_area")
    }
    for variant in variants[1:]:
        for seed in seeds:
            run = _of(runs, variant, seed)
            base = _of(runs, "none", seed)
            points["accuracy"].append(
                run["history"]["test_accuracy"][-1]
                - base["history"]["test_accuracy"][-1]
            )
            points["final_rate"].append(table[variant]["final_rate"])
            for measure in COADAPTATION_MEASURES:
                key = f"coadaptation/dropout_2/{measure}"
                changes[measure].append(
                    _last_measured(run["history"], key)
                    - _last_measured(base["history"], key)
                )
            for area in ("area", "relative_area"):
                changes[area].append(
                    curves[seed][variant][area] - curves[seed]["none"][area]
                )
    predictive = {
        measure: {
            "r_with_accuracy_gain": correlation(values, points["accuracy"]),
            "r_with_final_rate": correlation(values, points["final_rate"]),
        }
        for measure, values in changes.items()
    }
    return {
        "per_variant": table,
        "predictive": predictive,
        "points": points,
        "changes": changes,
    }


def _measure_values(runs, curves, variant, measure, seeds):
    if measure.startswith("ablation_"):
        area = measure[len("ablation_") :]
        return [curves[seed][variant][area] for seed in seeds]
    key = f"coadaptation/dropout_2/{measure}"
    return [
        _last_measured(_of(runs, variant, seed)["history"], key)
        for seed in seeds
    ]


def _of(runs, variant, seed=None):
    chosen = [run for run in runs if run["variant"] == variant]
    if seed is None:
        return chosen
    return next(run for run in chosen if run["seed"] == seed)


def _last_measured(history, key):
    # The monitor logs NaN on the epochs it skips (`every`).
    values = [value for value in history[key] if not np.isnan(value)]
    return values[-1]


# ---------------------------------------------------------------------------
# The ensemble view. Monte-Carlo averaging on the fixed-dropout model of
# the first seed (`example_utils.monte_carlo_errors`). Then the exact
# average over all 2^n masks of one dropout layer on `--exact-units` hidden
# units, for a single softmax layer after the dropout (where weight scaling
# is the normalized geometric mean exactly) and for a hidden ReLU layer
# between them (where it is not).
# ---------------------------------------------------------------------------


def exactness_check(args, train, test):
    (x_train, y_train), (x_test, y_test) = train, test
    results = {}
    for name, hidden_units in (("softmax layer", None), ("hidden ReLU", 32)):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((40,))
        x = keras.layers.Dense(args.exact_units, activation="relu")(inputs)
        x = kerasdrop.ScheduledDropout(args.rate, seed=0, name="dropout")(x)
        if hidden_units:
            x = keras.layers.Dense(hidden_units, activation="relu")(x)
        outputs = keras.layers.Dense(10, activation="softmax")(x)
        model = keras.Model(inputs, outputs)
        model.compile(
            optimizer=keras.optimizers.Adam(args.full_learning_rate),
            loss="sparse_categorical_crossentropy",
        )
        model.fit(
            x_train,
            y_train,
            batch_size=args.full_batch_size,
            epochs=args.exact_epochs,
            verbose=0,
        )
        results[name] = example_utils.exact_average_summary(
            model, x_test, y_test
        )
        row = results[name]
        print(
            f"  {name}: {row['num_masks']} masks; max |geometric - "
            f"inference| = {row['max_abs_geometric_minus_inference']:.2e}, "
            "max |arithmetic - inference| = "
            f"{row['max_abs_arithmetic_minus_inference']:.2e}",
            flush=True,
        )
    return results


# ---------------------------------------------------------------------------
# Tables.
# ---------------------------------------------------------------------------


def _cell(mean_std, digits=3):
    return f"{mean_std[0]:.{digits}f} ± {mean_std[1]:.{digits}f}"


def format_tables(args, results):
    paired = example_utils.format_paired
    anchor = results["anchor"]["summary"]
    lines = [
        "Paper baseline: the paper's MLP on the standard split "
        f"({results['data']['train']}/{results['data']['test']})",
        "",
        "| model | test accuracy | vs no dropout [95% CI] (wins/seeds) "
        "| paper |",
        "|---|---:|---:|---:|",
    ]
    for variant, row in anchor.items():
        name = "MLP, no dropout" if variant == "none" else "MLP, dropout"
        paper = f"{PAPER_ACCURACY['MLP']:.2f}" if variant == "none" else ""
        lines.append(
            f"| {name} | {_cell(row['test_accuracy'])} | "
            f"{paired(row['test_accuracy_vs_none'])} | {paper} |"
        )

    lines += [
        "",
        "Overfitting regime: wide MLP, "
        f"{args.train_samples} training sequences",
        "",
        "| variant | test accuracy | vs no dropout [95% CI] (wins/seeds) "
        "| verdict "
        "| vs fixed [95% CI] (wins/seeds) | train accuracy | train loss |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for variant, row in results["overfitting"]["summary"].items():
        difference = row["test_accuracy_vs_none"]
        verdict = "" if variant == "none" else example_utils.verdict(difference)
        vs_fixed = row.get("test_accuracy_vs_fixed")
        vs_fixed = "" if vs_fixed is None else paired(vs_fixed)
        lines.append(
            f"| {variant} | {_cell(row['test_accuracy'])} | "
            f"{paired(difference)} | "
            f"{verdict} | "
            f"{vs_fixed} | "
            f"{_cell(row['train_accuracy'])} | {_cell(row['train_loss'])} |"
        )

    lines += [
        "",
        "Underfitting regime: narrow MLP, all training sequences "
        "(wins: lower is better)",
        "",
        "| variant | train loss | vs no dropout | test error | vs no dropout "
        "| train accuracy |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for variant, row in results["underfitting"]["summary"].items():
        lines.append(
            f"| {variant} | {_cell(row['train_loss'])} | "
            f"{paired(row['train_loss_vs_none'])} | "
            f"{_cell(row['test_error'])} | "
            f"{paired(row['test_error_vs_none'])} | "
            f"{_cell(row['train_accuracy'])} |"
        )

    lines += ["", "Liu et al. (2023), both halves", ""]
    for claim, row in results["liu_claims"].items():
        lines.append(
            f"- {claim}: {paired(row['difference'])} -> {row['verdict']}"
        )

    coadaptation = results["coadaptation"]
    lines += [
        "",
        "Co-adaptation of the second hidden layer (overfitting regime, "
        "last measurement)",
        "",
        "| variant | final rate | correlation | vs none | effective rank "
        "| vs none | ablation area | relative ablation area | vs none |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for variant, row in coadaptation["per_variant"].items():
        lines.append(
            f"| {variant} | {row['final_rate']:.2f} | "
            f"{_cell(row['correlation'])} | "
            f"{paired(row['correlation_vs_none'])} | "
            f"{_cell(row['effective_rank'], 1)} | "
            f"{paired(row['effective_rank_vs_none'], digits=1)} | "
            f"{_cell(row['ablation_area'])} | "
            f"{_cell(row['ablation_relative_area'])} | "
            f"{paired(row['ablation_relative_area_vs_none'])} |"
        )
    lines += [""] + example_tables.predictive_table(coadaptation["predictive"])

    lines += [""] + example_utils.monte_carlo_table(
        "Monte-Carlo averaging vs weight scaling (fixed dropout, seed 0, "
        "test error)",
        results["ensemble"]["monte_carlo"],
    )
    lines += [
        "",
        "Exact average over all masks of one dropout layer",
        "",
        "| after the dropout | masks | max abs(geometric - inference) "
        "| max abs(arithmetic - inference) |",
        "|---|---:|---:|---:|",
    ]
    for name, row in results["ensemble"]["exact"].items():
        lines.append(
            f"| {name} | {row['num_masks']} | "
            f"{row['max_abs_geometric_minus_inference']:.2e} | "
            f"{row['max_abs_arithmetic_minus_inference']:.2e} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Figures.
# ---------------------------------------------------------------------------


def _curves(runs, variant, key):
    return np.asarray(
        [run["history"][key] for run in _of(runs, variant)], "float64"
    )


def plot_results(results, args):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.lines import Line2D

    seeds = args.seeds
    band = f"mean ± std over {seeds} seeds"
    paths = []

    def style(variant, points):
        index = OVERFITTING_VARIANTS.index(variant)
        return example_utils.line_style(index, points)

    def color(variant):
        return style(variant, 1)["color"]

    def save(figure, name):
        figure.tight_layout()
        paths.append(os.path.join(args.output_dir, name))
        figure.savefig(paths[-1], dpi=120)
        plt.close(figure)

    def curves_panel(axis, runs, variants, key, label):
        for variant in variants:
            values = _curves(runs, variant, key)
            epochs = np.arange(1, values.shape[1] + 1)
            example_utils.plot_mean_band(
                axis,
                epochs,
                values,
                variant,
                style(variant, len(epochs)),
            )
        axis.set_xlabel("epoch")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
        example_utils.integer_epochs(axis)

    def paired_panel(axis, summary, key, scale, label):
        variants = [variant for variant in summary if variant != "none"]
        for index, variant in enumerate(variants):
            difference = summary[variant][f"{key}_vs_none"]
            values = scale * np.asarray(difference["differences"])
            axis.scatter(
                np.full(len(values), index), values, color=color(variant), s=14
            )
            axis.errorbar(
                index + 0.2,
                scale * difference["mean"],
                yerr=scale * difference["std"],
                color="black",
                marker="o",
                capsize=3,
            )
        axis.axhline(0.0, color="grey", linewidth=1)
        axis.set_xticks(range(len(variants)), variants)
        axis.set_ylabel(label)
        axis.legend(
            [
                Line2D([], [], color="grey", marker="o", linestyle=""),
                Line2D([], [], color="black", marker="o"),
            ],
            ["one seed", f"mean ± std over {seeds} seeds"],
            fontsize="x-small",
        )

    # 1. The overfitting regime: accuracy per epoch, paired differences.
    runs = results["overfitting"]["runs"]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4))
    curves_panel(
        axes[0], runs, OVERFITTING_VARIANTS, "test_accuracy", "test accuracy"
    )
    axes[0].set_title(f"Test accuracy ({band})")
    axes[0].legend(fontsize="small")
    curves_panel(
        axes[1],
        runs,
        OVERFITTING_VARIANTS,
        "train_accuracy",
        "training accuracy (inference mode)",
    )
    axes[1].set_title(f"Training accuracy ({band})")
    paired_panel(
        axes[2],
        results["overfitting"]["summary"],
        "test_accuracy",
        100,
        "test accuracy - no dropout (points)",
    )
    axes[2].set_title("Final test accuracy, paired by seed")
    save(figure, "mnist1d_overfitting.png")

    # 2. The underfitting regime: training loss per epoch, paired changes.
    figure, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    curves_panel(
        axes[0],
        results["underfitting"]["runs"],
        UNDERFITTING_VARIANTS,
        "train_loss",
        "training loss (inference mode)",
    )
    axes[0].set_title(f"Narrow MLP, all training data ({band})", fontsize=10)
    axes[0].legend(fontsize="small")
    summary = results["underfitting"]["summary"]
    paired_panel(axes[1], summary, "train_loss", 1, "train loss - no dropout")
    axes[1].set_title("Final training loss, paired by seed")
    paired_panel(
        axes[2], summary, "test_error", 100, "test error - no dropout (points)"
    )
    axes[2].set_title("Final test error, paired by seed")
    save(figure, "mnist1d_underfitting.png")

    # 3. Co-adaptation: monitor curves, ablation curves, and whether the
    # change of correlation goes with the accuracy gain.
    labels = {
        "correlation": "mean |correlation| between units",
        "effective_rank": "effective rank",
    }
    figure, axes = plt.subplots(1, 4, figsize=(19, 4))
    for axis, measure in zip(axes[:2], COADAPTATION_MEASURES):
        for variant in OVERFITTING_VARIANTS:
            values = _curves(runs, variant, f"coadaptation/dropout_2/{measure}")
            epochs = np.arange(1, values.shape[1] + 1)
            measured = ~np.isnan(values[0])
            example_utils.plot_mean_band(
                axis,
                epochs[measured],
                values[:, measured],
                variant,
                style(variant, int(measured.sum())),
            )
        axis.set_xlabel("epoch")
        axis.set_ylabel(labels[measure])
        axis.set_title(f"{measure.replace('_', ' ')} ({band})", fontsize=10)
        axis.grid(alpha=0.3)
        example_utils.integer_epochs(axis)
    axes[0].legend(fontsize="small")
    curves = results["coadaptation"]["ablation_curves"]
    for variant in OVERFITTING_VARIANTS:
        fractions = next(iter(curves.values()))[variant]["fractions"]
        example_utils.plot_mean_band(
            axes[2],
            fractions,
            [seed[variant]["mean"] for seed in curves.values()],
            variant,
            style(variant, len(fractions)),
        )
    axes[2].set_xlabel("fraction of units zeroed")
    axes[2].set_ylabel("test accuracy")
    axes[2].set_title(f"Ablation curves ({band})", fontsize=10)
    axes[2].grid(alpha=0.3)
    points = results["coadaptation"]["points"]
    changes = results["coadaptation"]["changes"]["correlation"]
    variants = [v for v in OVERFITTING_VARIANTS if v != "none"]
    per_variant = len(points["accuracy"]) // len(variants)
    for index, variant in enumerate(variants):
        part = slice(index * per_variant, (index + 1) * per_variant)
        axes[3].scatter(
            changes[part],
            100 * np.asarray(points["accuracy"][part]),
            color=color(variant),
            marker=style(variant, 1)["marker"],
            label=variant,
            s=18,
        )
    axes[3].axhline(0.0, color="grey", linewidth=1)
    axes[3].axvline(0.0, color="grey", linewidth=1)
    axes[3].set_xlabel("correlation - no dropout")
    axes[3].set_ylabel("test accuracy - no dropout (points)")
    axes[3].set_title("One point per seed and variant", fontsize=10)
    axes[3].legend(fontsize="x-small")
    save(figure, "mnist1d_coadaptation.png")

    # 4. Monte-Carlo averaging against weight scaling.
    mc = results["ensemble"]["monte_carlo"]
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    mean, std = np.array(mc["mc_error_mean"]), np.array(mc["mc_error_std"])
    axis.errorbar(
        mc["sample_counts"], 100 * mean, yerr=100 * std, marker="o",
        capsize=3,
        label=f"Monte-Carlo averaging (mean ± std, {args.mc_repeats} "
        "repeats)",
    )  # fmt: skip
    axis.axhline(
        100 * mc["weight_scaling_error"],
        color="black",
        linestyle="--",
        label="weight scaling (inference)",
    )
    axis.set_xscale("log")
    axis.set_xlabel("number of sampled subnetworks")
    axis.set_ylabel("test error (%)")
    axis.set_title("MNIST-1D MLP, fixed dropout")
    axis.legend(fontsize="small")
    save(figure, "mnist1d_mc_vs_weight_scaling.png")
    return paths


# ---------------------------------------------------------------------------
# The run.
# ---------------------------------------------------------------------------


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    if args.quick:
        print(example_args.QUICK_NOTE, flush=True)
    x_train, y_train, x_test, y_test = example_utils.load_mnist1d(
        args.num_samples
    )
    test = (x_test, y_test)
    print(
        f"MNIST-1D: {len(x_train)} training and {len(x_test)} test "
        f"sequences of 40 values; {args.seeds} seeds",
        flush=True,
    )
    full_data = {
        "batch_size": args.full_batch_size,
        "learning_rate": args.full_learning_rate,
    }
    sections = {
        "anchor": {
            "variants": ANCHOR_VARIANTS,
            "width": args.anchor_width,
            "residual": True,
            "epochs": args.anchor_epochs,
            "rate": args.anchor_rate,
            "train_rows": len(x_train),
            **full_data,
        },
        "overfitting": {
            "variants": OVERFITTING_VARIANTS,
            "width": args.width,
            "epochs": args.epochs,
            "rate": args.rate,
            "train_rows": args.train_samples,
            "batch_size": args.batch_size,
            "learning_rate": args.learning_rate,
        },
        "underfitting": {
            "variants": UNDERFITTING_VARIANTS,
            "width": args.small_width,
            "epochs": args.underfitting_epochs,
            "rate": args.underfitting_rate,
            "train_rows": len(x_train),
            **full_data,
        },
    }
    results = {
        "data": {"train": len(x_train), "test": len(x_test)},
        "paper_accuracy": PAPER_ACCURACY,
    }
    probe = x_test[:512]
    keys = ("test_accuracy", "train_accuracy", "train_loss", "test_loss")

    seeds = list(range(args.seeds))

    def all_training_rows(seed):
        return x_train, y_train

    print("1. The paper's MLP on the standard split", flush=True)
    result = train(sections["anchor"], seeds, all_training_rows, test)
    results["anchor"] = {
        "runs": result.runs,
        "summary": summarize(result, keys),
    }

    print(
        f"2. Overfitting: {args.train_samples} training sequences, "
        f"MLP {args.width}-{args.width}",
        flush=True,
    )

    def training_subset(seed):
        # The seed's training subset, the same for all its variants.
        rows = np.random.default_rng(seed).choice(
            len(x_train), args.train_samples, replace=False
        )
        return x_train[rows], y_train[rows]

    ablation = {seed: {} for seed in seeds}
    ensemble = {}

    def analyse(variant, seed, model):
        # After training, on the trained model, before `compare` gives it
        # the next seed's weights.
        ablation[seed][variant] = ablation_areas(model, x_test, y_test, seed)
        if variant == "fixed" and seed == seeds[0]:
            ensemble["monte_carlo"] = example_utils.monte_carlo_errors(
                model,
                x_test,
                y_test,
                args.sample_counts,
                args.mc_repeats,
                seed,
            )

    def overfitting_callbacks(variant, seed):
        monitor = kerasdrop.callbacks.CoAdaptationMonitor(
            probe,
            layers=["dropout_2"],
            measures=COADAPTATION_MEASURES,
            every=args.monitor_every,
            seed=seed,
        )
        return [
            monitor,
            example_utils.AfterTraining(
                lambda model: analyse(variant, seed, model)
            ),
        ]

    result = train(
        sections["overfitting"],
        seeds,
        training_subset,
        test,
        callbacks=overfitting_callbacks,
    )
    runs = result.runs
    results["overfitting"] = {
        "runs": runs,
        "summary": summarize(result, keys),
    }
    coadaptation = coadaptation_summary(args, runs, ablation)
    coadaptation["ablation_curves"] = ablation
    results["coadaptation"] = coadaptation

    print(
        f"3. Underfitting: all {len(x_train)} training sequences, "
        f"MLP {args.small_width}-{args.small_width}",
        flush=True,
    )
    result = train(sections["underfitting"], seeds, all_training_rows, test)
    results["underfitting"] = {
        "runs": result.runs,
        "summary": summarize(result, (*keys, "test_error")),
    }
    under = results["underfitting"]["summary"]["early"]
    over = results["overfitting"]["summary"]
    claims = {
        "early dropout lowers the final training loss (underfitting)": under[
            "train_loss_vs_none"
        ],
        "early dropout lowers the test error (underfitting)": under[
            "test_error_vs_none"
        ],
        "standard dropout raises the test accuracy (overfitting)": over[
            "fixed"
        ]["test_accuracy_vs_none"],
        "late dropout raises the test accuracy (overfitting)": over["late"][
            "test_accuracy_vs_none"
        ],
    }
    results["liu_claims"] = {
        claim: {
            "difference": difference,
            "verdict": example_utils.verdict(difference),
        }
        for claim, difference in claims.items()
    }

    print("4. The ensemble view", flush=True)
    results["ensemble"] = {
        "monte_carlo": ensemble["monte_carlo"],
        "exact": exactness_check(args, (x_train, y_train), test),
    }

    table = format_tables(args, results)
    print()
    print(table)
    figures = plot_results(results, args)
    example_utils.save_results(args, results, table, figures, STARTED)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
