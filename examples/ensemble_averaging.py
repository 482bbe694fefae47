"""Dropout as an ensemble, and co-adaptation, on scikit-learn's digits.

A network trained with dropout is an ensemble of subnetworks that share
weights, one per dropout mask. At test time Srivastava et al. (2014,
"Dropout: A Simple Way to Prevent Neural Networks from Overfitting") do not
average the subnetworks: they scale the weights (kerasdrop and Keras scale
the kept units during training instead, so the ordinary inference pass is
the weight-scaled network). This script measures, on an MLP trained with
dropout on the 8x8 digits that ship with scikit-learn:

0. whether dropout lowers the test error at all: the MLP with and without
   dropout over `--seeds` seeds, paired (same split, initial weights and
   batch order within a seed), with the seeds where dropout is better;
1. the test error of Monte-Carlo model averaging (`mc_predict`) as a
   function of the number of sampled subnetworks, from 1 to
   `max(--sample-counts)`, against weight scaling -- the experiment of
   Srivastava et al. (2014), Fig. 11;
2. whether weight scaling is exact where theory says it is: for
   `Input -> dropout -> Dense(softmax)` on `--pca-components` principal
   components, the normalized geometric mean over all 2^n masks
   (`exact_average`) against the inference output, and the same with a
   hidden ReLU layer after the dropout, where it is not exact;
3. the co-adaptation of the hidden units of the same MLP trained with and
   without dropout (`kerasdrop.analysis.coadaptation`,
   `kerasdrop.analysis.ablation` and
   `CoAdaptationMonitor`): correlation, DeCov, effective rank,
   participation ratio, sparsity, the ablation curve and the pairwise
   ablation interaction.

It reports what it measures, whichever way it comes out: a table printed and
written to `results.md`, everything in `results.json`, and figures, in the
output folder.

Run (about a minute of CPU time; 150 s of wall time on two CPU cores shared
with other jobs):

    python examples/ensemble_averaging.py

and, to refresh the figures of the documentation:

    python examples/ensemble_averaging.py --docs-images
"""

import time

STARTED = time.perf_counter()  # The wall time reported includes imports.

import os
import sys

import example_args

NAME = "ensemble_averaging"
# Overrides of the defaults for `--quick`: every code path, in seconds.
QUICK = {
    "epochs": 3,
    "exact_epochs": 3,
    "hidden_units": 32,
    "seeds": 2,
    "sample_counts": "1,3",
    "repeats": 2,
    "num_pairs": 20,
}


def parse_args(argv=None):
    parser = example_args.make_parser(__doc__)
    parser.add_argument(
        "--epochs", type=int, default=60, help="epochs of the MLPs"
    )
    parser.add_argument(
        "--hidden-units",
        type=int,
        default=256,
        help="units of each of the two hidden layers",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.5,
        help="dropout rate of the hidden units",
    )
    parser.add_argument(
        "--input-rate",
        type=float,
        default=0.2,
        help="dropout rate of the input pixels",
    )
    parser.add_argument(
        "--batch-size", type=int, default=64, help="rows per batch"
    )
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=0.4,
        help="fraction of the digits held out for testing",
    )
    parser.add_argument(
        "--sample-counts",
        default="1,2,3,5,10,20,50,100",
        help="numbers of Monte-Carlo samples, comma-separated",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=10,
        help="independent Monte-Carlo runs per sample count",
    )
    parser.add_argument(
        "--pca-components",
        type=int,
        default=12,
        help="inputs of the exactly averaged models (2^n masks)",
    )
    parser.add_argument(
        "--exact-epochs",
        type=int,
        default=60,
        help="epochs of the exactly averaged models",
    )
    parser.add_argument(
        "--num-pairs",
        type=int,
        default=200,
        help="unit pairs of the pairwise ablation interaction",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the split, the models and the analyses",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=5,
        help="seeds --seed, --seed + 1, ... for the paired comparison of "
        "test errors with and without dropout",
    )
    example_args.add_output_arguments(parser, NAME)
    args = example_args.parse(parser, argv, NAME, QUICK)
    args.sample_counts = sorted(
        {int(count) for count in args.sample_counts.split(",")}
    )
    return args


if __name__ == "__main__":
    # `--help` and mistyped flags answer here, before TensorFlow loads.
    parse_args(sys.argv[1:])

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import example_utils
import keras
import numpy as np

import kerasdrop
from kerasdrop.analysis import ablation
from kerasdrop.analysis import coadaptation
from kerasdrop.analysis import probes

HIDDEN_LAYERS = ("dropout_1", "dropout_2")  # Read at their inputs.
ABLATION_ORDERS = 5  # Random orders in which the units are zeroed.


# ---------------------------------------------------------------------------
# Data: the 1797 digits of scikit-learn, 8x8 pixels scaled to [0, 1], split
# into training and test sets with every class in both.
# ---------------------------------------------------------------------------


def load_data(args, seed):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    return train_test_split(
        x,
        digits.target.astype("int32"),
        test_size=args.test_fraction,
        random_state=seed,
        stratify=digits.target,
    )


# ---------------------------------------------------------------------------
# The MLP: input dropout, then two ReLU layers each followed by dropout, as
# in Srivastava et al. (2014). The network "without dropout" is the same
# model with every rate at 0, so its layers have the same names. Both are
# built from the same seed, so they start from the same weights, and train
# on the same batches in the same order (`example_utils.ordered_dataset`):
# the difference of their test errors is a paired one.
# ---------------------------------------------------------------------------


def build_mlp(args, rate, input_rate, seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            kerasdrop.ScheduledDropout(input_rate, name="input_dropout"),
            keras.layers.Dense(args.hidden_units, activation="relu"),
            kerasdrop.ScheduledDropout(rate, name="dropout_1"),
            keras.layers.Dense(args.hidden_units, activation="relu"),
            kerasdrop.ScheduledDropout(rate, name="dropout_2"),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="mlp",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def train(args, model, data, label, seed, monitor=True):
    x_train, x_test, y_train, y_test = data
    callbacks = []
    if monitor:
        # Logs the co-adaptation of the hidden units every epoch.
        callbacks.append(
            kerasdrop.callbacks.CoAdaptationMonitor(
                x_test,
                layers=HIDDEN_LAYERS,
                measures=coadaptation.ACTIVATION_MEASURES,
                seed=seed,
            )
        )
    dataset, steps = example_utils.ordered_dataset(
        x_train, y_train, args.batch_size, args.epochs, seed
    )
    start = time.perf_counter()
    history = model.fit(
        dataset,
        steps_per_epoch=steps,
        epochs=args.epochs,
        callbacks=callbacks,
        verbose=0,
    )
    error = test_error(model.predict_on_batch(x_test), y_test)
    print(
        f"  seed {seed}, {label}: {args.epochs} epochs in "
        f"{time.perf_counter() - start:.1f} s, test error {error:.4f}",
        flush=True,
    )
    return history.history, error


test_error = example_utils.test_error


# ---------------------------------------------------------------------------
# 1. Monte-Carlo averaging against weight scaling
# (`example_utils.monte_carlo_errors`: one batched `mc_predict` call per
# repeat gives the whole curve).
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# 2. Exact averaging. `exact_average` needs a dropout layer with few units,
# so these models see the digits through their first principal components.
# ---------------------------------------------------------------------------


def principal_components(x_train, x_test, num_components):
    mean = x_train.mean(axis=0)
    _, _, basis = np.linalg.svd(x_train - mean, full_matrices=False)
    basis = basis[:num_components].T
    scale = (x_train - mean) @ basis
    scale = scale.std(axis=0)
    return [
        ((x - mean) @ basis / scale).astype("float32")
        for x in (x_train, x_test)
    ]


def exactness_check(args, data):
    x_train, x_test, y_train, y_test = data
    z_train, z_test = principal_components(x_train, x_test, args.pca_components)
    results = {}
    for name, hidden_units in (("softmax layer", None), ("hidden ReLU", 32)):
        keras.utils.set_random_seed(args.seed)
        inputs = keras.Input((args.pca_components,))
        x = kerasdrop.ScheduledDropout(args.rate, name="dropout")(inputs)
        if hidden_units:
            x = keras.layers.Dense(hidden_units, activation="relu")(x)
        outputs = keras.layers.Dense(10, activation="softmax")(x)
        model = keras.Model(inputs, outputs)
        model.compile(
            optimizer=keras.optimizers.Adam(3e-3),
            loss="sparse_categorical_crossentropy",
        )
        model.fit(
            z_train,
            y_train,
            batch_size=args.batch_size,
            epochs=args.exact_epochs,
            verbose=0,
        )
        results[name] = example_utils.exact_average_summary(
            model, z_test, y_test
        )
        print(
            f"  {name}: {results[name]['num_masks']} masks; max |geometric - "
            "inference| = "
            f"{results[name]['max_abs_geometric_minus_inference']:.2e}, "
            "max |arithmetic - inference| = "
            f"{results[name]['max_abs_arithmetic_minus_inference']:.2e}",
            flush=True,
        )
    return results


# ---------------------------------------------------------------------------
# 3. Co-adaptation of the hidden units, with and without dropout, on the
# test set: the activation measures, the ablation curve of each hidden layer
# (accuracy as a growing random fraction of its units is zeroed), and the
# pairwise ablation interaction on the loss.
# ---------------------------------------------------------------------------


def coadaptation_measures(args, model, x_test, y_test):
    measures = {}
    for layer in HIDDEN_LAYERS:
        activations = probes.layer_activations(model, layer, x_test)
        row = coadaptation.summarize(
            activations, coadaptation.ACTIVATION_MEASURES
        )
        curve = ablation.ablation_curve(
            model,
            layer,
            x_test,
            y_test,
            num_orders=ABLATION_ORDERS,
            seed=args.seed,
        )
        interaction = ablation.ablation_interaction(
            model,
            layer,
            x_test,
            y_test,
            num_pairs=args.num_pairs,
            seed=args.seed,
        )
        row["ablation_area"] = curve["area"]
        row["interaction"] = interaction["mean_absolute_interaction"]
        row["ablation_curve"] = curve["mean"].tolist()
        # Over the random orders in which the units are zeroed.
        row["ablation_curve_std"] = curve["values"].std(axis=0).tolist()
        row["fractions"] = curve["fractions"].tolist()
        row["unit_means"] = coadaptation.unit_mean_activations(
            activations
        ).tolist()
        measures[layer] = row
    return measures


# ---------------------------------------------------------------------------
# Tables and figures.
# ---------------------------------------------------------------------------

TABLE_MEASURES = (
    "correlation",
    "decov",
    "effective_rank",
    "participation_ratio",
    "sparsity",
    "ablation_area",
    "interaction",
)


def format_tables(results):
    comparison = results["comparison"]
    errors = comparison["test_error"]
    paired = example_utils.format_paired(
        comparison["with_minus_without"], digits=4
    )
    lines = [
        f"Test error over {len(comparison['seeds'])} seeds",
        "",
        "| with dropout | without dropout "
        "| with - without [95% CI] (wins/seeds) "
        "| verdict |",
        "|---:|---:|---:|---|",
        f"| {errors['with dropout'][0]:.4f} ± {errors['with dropout'][1]:.4f} "
        f"| {errors['without dropout'][0]:.4f} ± "
        f"{errors['without dropout'][1]:.4f} | "
        f"{paired} | {comparison['verdict']} |",
        "",
    ]
    lines += example_utils.monte_carlo_table(
        "Monte-Carlo averaging vs weight scaling (test error)",
        results["monte_carlo"],
    )
    lines += [
        "",
        "Exact averaging over all masks of one dropout layer",
        "",
        "| model | masks | max abs(geometric - inference) | "
        "max abs(arithmetic - inference) | error inference | "
        "error geometric | error arithmetic |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in results["exact"].items():
        lines.append(
            f"| {name} | {row['num_masks']} | "
            f"{row['max_abs_geometric_minus_inference']:.2e} | "
            f"{row['max_abs_arithmetic_minus_inference']:.2e} | "
            f"{row['error_inference']:.4f} | {row['error_geometric']:.4f} | "
            f"{row['error_arithmetic']:.4f} |"
        )
    lines += [
        "",
        "Co-adaptation of the hidden units on the test set",
        "",
        "| net | layer | " + " | ".join(TABLE_MEASURES) + " |",
        "|---|---|" + "---:|" * len(TABLE_MEASURES),
    ]
    for net, layers in results["coadaptation"].items():
        for layer, row in layers.items():
            values = " | ".join(f"{row[m]:.4g}" for m in TABLE_MEASURES)
            lines.append(f"| {net} | {layer} | {values} |")
    return "\n".join(lines)


def plot_results(results, histories, output_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    # Fig. 11 of Srivastava et al. (2014): error against number of samples.
    mc = results["monte_carlo"]
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    counts = np.array(mc["sample_counts"])
    mean, std = np.array(mc["mc_error_mean"]), np.array(mc["mc_error_std"])
    axis.errorbar(
        counts, 100 * mean, yerr=100 * std, marker="o", capsize=3,
        label="Monte-Carlo model averaging",
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
    axis.set_title("Digits MLP with dropout")
    axis.legend()
    figure.tight_layout()
    paths.append(os.path.join(output_dir, "ensemble_mc_vs_weight_scaling.png"))
    figure.savefig(paths[-1], dpi=120)
    plt.close(figure)

    # Co-adaptation measures over training, from CoAdaptationMonitor: the
    # first seed's pair of networks.
    seed = results["comparison"]["seeds"][0]
    colors = {"with dropout": "C0", "without dropout": "C3"}
    layer_styles = dict(zip(HIDDEN_LAYERS, ("-", ":")))
    markers = dict(zip(HIDDEN_LAYERS, ("o", "s")))
    shown = {
        "correlation": "mean |correlation| between units",
        "effective_rank": "effective rank",
        "sparsity": "fraction of zero activations",
    }
    figure, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown), 3.6))
    for axis, (measure, label) in zip(axes, shown.items()):
        for net, history in histories.items():
            for layer in HIDDEN_LAYERS:
                values = history[f"coadaptation/{layer}/{measure}"]
                axis.plot(
                    np.arange(1, len(values) + 1),
                    values,
                    linestyle=layer_styles[layer],
                    marker=markers[layer],
                    markersize=3,
                    markevery=max(len(values) // 8, 1),
                    color=colors[net],
                    label=f"{net}, {layer}",
                )
        axis.set_title(f"{measure.replace('_', ' ')} (seed {seed})")
        axis.set_xlabel("epoch")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
        example_utils.integer_epochs(axis)
    axes[0].legend(fontsize="small")
    figure.tight_layout()
    paths.append(os.path.join(output_dir, "ensemble_coadaptation_training.png"))
    figure.savefig(paths[-1], dpi=120)
    plt.close(figure)

    # Ablation curves and unit-mean histograms (Srivastava et al., Fig. 8).
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    largest = max(
        max(layers[HIDDEN_LAYERS[0]]["unit_means"])
        for layers in results["coadaptation"].values()
    )
    bins = np.linspace(0.0, max(largest, 1e-6), 41)
    for net, layers in results["coadaptation"].items():
        color = colors[net]
        for layer in HIDDEN_LAYERS:
            row = layers[layer]
            fractions = np.asarray(row["fractions"])
            mean = np.asarray(row["ablation_curve"])
            std = np.asarray(row["ablation_curve_std"])
            axes[0].plot(
                fractions,
                mean,
                linestyle=layer_styles[layer],
                marker=markers[layer],
                markersize=3,
                color=color,
                label=f"{net}, {layer}",
            )
            axes[0].fill_between(
                fractions, mean - std, mean + std, color=color, alpha=0.12
            )
        axes[1].hist(
            layers[HIDDEN_LAYERS[0]]["unit_means"],
            bins=bins,
            alpha=0.5,
            color=color,
            label=net,
        )
    axes[0].set_xlabel("fraction of units zeroed")
    axes[0].set_ylabel("test accuracy")
    axes[0].set_title(
        f"Ablation curves (seed {seed}; mean ± std over "
        f"{ABLATION_ORDERS} orders)",
        fontsize="medium",
    )
    axes[0].legend(fontsize="small")
    axes[0].grid(alpha=0.3)
    axes[1].set_xlabel(f"mean activation of a unit of {HIDDEN_LAYERS[0]}")
    axes[1].set_ylabel("units")
    axes[1].set_title(f"Mean activations (seed {seed})")
    axes[1].legend(fontsize="small")
    figure.tight_layout()
    paths.append(os.path.join(output_dir, "ensemble_ablation.png"))
    figure.savefig(paths[-1], dpi=120)
    plt.close(figure)
    return paths


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    if args.quick:
        print(example_args.QUICK_NOTE, flush=True)
    data = load_data(args, args.seed)
    x_train, x_test, y_train, y_test = data
    print(
        f"Digits: {len(x_train)} training and {len(x_test)} test images",
        flush=True,
    )

    # The first seed's pair of networks is analysed below; every seed gives
    # a paired difference of test errors (its own split, initial weights
    # and batch order, shared by the two networks).
    print("Training the MLP with and without dropout", flush=True)
    errors = {"with dropout": [], "without dropout": []}
    histories = {}
    for seed in range(args.seed, args.seed + args.seeds):
        first = seed == args.seed
        seed_data = data if first else load_data(args, seed)
        pair = {
            "with dropout": build_mlp(args, args.rate, args.input_rate, seed),
            "without dropout": build_mlp(args, 0.0, 0.0, seed),
        }
        for label, model in pair.items():
            history, error = train(
                args, model, seed_data, label, seed, monitor=first
            )
            errors[label].append(error)
            if first:
                histories[label] = history
        if first:
            nets = pair
    paired = example_utils.paired_difference(
        errors["with dropout"],
        errors["without dropout"],
        higher_is_better=False,
    )
    comparison = {
        "seeds": list(range(args.seed, args.seed + args.seeds)),
        "test_error": {
            label: example_utils.mean_std(values)
            for label, values in errors.items()
        },
        "test_error_per_seed": errors,
        "with_minus_without": paired,
        "verdict": example_utils.verdict(paired),
    }

    print(
        f"Monte-Carlo averaging: up to {max(args.sample_counts)} samples, "
        f"{args.repeats} repeats",
        flush=True,
    )
    monte_carlo = example_utils.monte_carlo_errors(
        nets["with dropout"],
        x_test,
        y_test,
        args.sample_counts,
        args.repeats,
        args.seed,
    )

    print(f"Exact averaging over 2^{args.pca_components} masks", flush=True)
    exact = exactness_check(args, data)

    print("Co-adaptation measures on the test set", flush=True)
    measures = {
        label: coadaptation_measures(args, model, x_test, y_test)
        for label, model in nets.items()
    }

    results = {
        "comparison": comparison,
        "monte_carlo": monte_carlo,
        "exact": exact,
        "coadaptation": measures,
    }
    table = format_tables(results)
    print()
    print(table)
    figures = plot_results(results, histories, args.output_dir)
    example_utils.save_results(args, results, table, figures, STARTED)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
