"""Claims about dropout, each checked with `kerasdrop.experiments`.

Each `--claim` trains paired variants of one model on MNIST-1D (Greydanus
& Kobak, 2024; generated offline by the `mnist1d` package; tiny-data also
on scikit-learn's diabetes) with `kerasdrop.experiments.compare`: within a
seed, the same training rows (1000 unless said), the same initial
weights, the same batches in the same order. The verdict is
the library's: "reproduced" or "contradicted" only when the 95% Student t
interval of the paired mean difference over seeds excludes zero.

- `batch-norm`: an MLP 40 -> 128 -> 128 -> 10 with batch normalization in
  each hidden block, dropout 0.3 placed three ways -- after BN and ReLU
  (`Dense, BN, ReLU, Dropout`), before BN (`Dense, Dropout, BN, ReLU`),
  after the last block only -- against no dropout; the variance shift of
  Li et al. (2019) is measured at every BN layer after training with
  `kerasdrop.analysis.variance_shift`.
- `layer-rates`: an MLP 40 -> 256 -> 256 -> 256 -> 10 with dropout after
  each hidden layer, rates rising, uniform and falling with depth at the
  same mean 0.3 (`kerasdrop.layers.rate_profile`), against uniform.
- `convergence`: an MLP 40 -> 256 -> 256 -> 10 with dropout 0.5 after each
  hidden layer against no dropout: the epochs to the best validation loss
  and to `--target-accuracy` validation accuracy.
- `width`: Srivastava et al.'s n/p rule. An MLP 40 -> n -> n -> 10
  (`--width` n) without dropout, against dropout `--rate` at width n and
  at width 2n (its initial weights cannot be the reference's, so that pair
  shares the seed, data and batches only).

Three claims choose among variants on a validation split and report the
chosen one on a test split that played no part in training or choosing:

- `tiny-data`: dropout against L2 weight decay, both and neither, on
  little data: scikit-learn's diabetes regression (200 training, 100
  validation, 142 test rows; an MLP 10 -> 64 -> 64 -> 1) and MNIST-1D with
  `--tiny-samples` training rows (as many again validate; the 1000 test
  sequences test). Per seed, a new random split; the rate is chosen from
  `--rates`, the L2 factor of every kernel from `--l2`; "both" combines
  the rate and the factor that each chose alone.
- `concrete`: `kerasdrop.ConcreteDropout` (a rate learned by gradient
  descent, from 0.1 as in Gal et al.'s implementation) on the inputs of
  the second hidden layer and of the output layer of an MLP 40 -> 256 ->
  256 -> 10, against fixed dropout at the same places: 0.5, and the best
  of `--sweep` chosen per seed on 1000 validation rows.
- `adversarial`: the MLP 40 -> 256 -> 256 -> 10 with and without dropout
  `--rate`, attacked after training with FGSM and `--pgd-steps` of PGD at
  each L-infinity radius of `--epsilons`: the accuracy under attack, and
  that accuracy divided by the clean one (robustness that does not merely
  follow the clean accuracy). The input gradient is the backend's own
  (`input_gradient`).

Run (a few minutes per claim on two CPU cores):

    python examples/dropout_claims.py --claim batch-norm --docs-images
    python examples/dropout_claims.py --claim layer-rates --docs-images
    python examples/dropout_claims.py --claim convergence --rate 0.5 \
        --epochs 60 --docs-images
    python examples/dropout_claims.py --claim width --rate 0.5 --docs-images
    python examples/dropout_claims.py --claim tiny-data --docs-images
    python examples/dropout_claims.py --claim concrete --docs-images
    python examples/dropout_claims.py --claim adversarial --rate 0.5 \
        --docs-images
"""

import time

STARTED = time.perf_counter()  # The wall time reported includes imports.

import functools
import os
import sys

import example_args

NAME = "dropout_claims"
CLAIMS = (
    "batch-norm",
    "layer-rates",
    "convergence",
    "width",
    "tiny-data",
    "concrete",
    "adversarial",
)
# Per-claim defaults of `--seeds` and `--epochs` (40 epochs, 10 seeds
# otherwise): each claim's default run takes a few minutes on two cores.
SEEDS = {"tiny-data": 5}
EPOCHS = {"tiny-data": 100}
QUICK = {
    "seeds": 2,
    "epochs": 2,
    "train_samples": 200,
    "rates": "0.5",
    "l2": "1e-3",
    "sweep": "0.1,0.5",
    "epsilons": "0.1",
    "pgd_steps": 2,
}


def parse_args(argv=None):
    parser = example_args.make_parser(__doc__)
    parser.add_argument(
        "--claim", choices=CLAIMS, default="batch-norm", help="the claim"
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="paired seeds (default: 5 for tiny-data, 10 otherwise)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="epochs (default: 100 for tiny-data, 40 otherwise)",
    )
    parser.add_argument(
        "--train-samples",
        type=int,
        default=1000,
        help="training rows (a different subset per seed)",
    )
    parser.add_argument("--rate", type=float, default=0.3, help="(mean) rate")
    parser.add_argument(
        "--width", type=int, default=64, help="width: the narrow width n"
    )
    parser.add_argument(
        "--target-accuracy",
        type=float,
        default=0.4,
        help="convergence: the validation accuracy to reach",
    )
    parser.add_argument(
        "--rates",
        default="0.25,0.5,0.75",
        help="tiny-data: the dropout rates to choose from on validation",
    )
    parser.add_argument(
        "--l2",
        default="1e-3,1e-2,1e-1,1",
        help="tiny-data: the L2 factors (of every kernel) to choose from",
    )
    parser.add_argument(
        "--tiny-samples",
        type=int,
        default=300,
        help="tiny-data: MNIST-1D training rows (as many again validate)",
    )
    parser.add_argument(
        "--sweep",
        default="0.1,0.2,0.3,0.5",
        help="concrete: the fixed rates, the best chosen on validation",
    )
    parser.add_argument(
        "--epsilons",
        default="0.05,0.1,0.2",
        help="adversarial: L-infinity radii of the attacks",
    )
    parser.add_argument(
        "--pgd-steps",
        type=int,
        default=5,
        help="adversarial: steps of projected gradient descent",
    )
    example_args.add_output_arguments(parser, NAME, quick=True)
    explicit = "--output-dir" in (argv or [])
    args = example_args.parse(parser, argv, NAME, QUICK)
    if args.seeds is None:
        args.seeds = SEEDS.get(args.claim, 10)
    if args.epochs is None:
        args.epochs = EPOCHS.get(args.claim, 40)
    if args.seeds < 2:
        parser.error("paired differences need --seeds 2 or more")
    if not explicit:
        args.output_dir = example_args.default_output_dir(
            f"{NAME}_{args.claim.replace('-', '_')}", args.quick
        )
    return args


if __name__ == "__main__":
    # `--help` and mistyped flags answer here, before TensorFlow loads.
    parse_args(sys.argv[1:])

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import example_tables
import example_utils
import keras
import numpy as np

import kerasdrop
from kerasdrop.experiments import Variant

# ---------------------------------------------------------------------------
# Models. Every variant of a claim has the same weight layers in the same
# order, so `compare` gives them the same initial weights.
# ---------------------------------------------------------------------------


def compile_model(model):
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def batch_norm_model(placement, rate, width=128):
    """MLP with BN in each hidden block; dropout where `placement` says."""

    def build():
        layers = [keras.Input((40,))]
        for index in (1, 2):
            layers.append(keras.layers.Dense(width, name=f"hidden_{index}"))
            if placement == "dropout-bn":
                layers.append(
                    kerasdrop.ScheduledDropout(rate, name=f"dropout_{index}")
                )
            layers += [
                keras.layers.BatchNormalization(name=f"bn_{index}"),
                keras.layers.ReLU(),
            ]
            if placement == "bn-relu-dropout" or (
                placement == "last-only" and index == 2
            ):
                layers.append(
                    kerasdrop.ScheduledDropout(rate, name=f"dropout_{index}")
                )
        layers.append(
            keras.layers.Dense(10, activation="softmax", name="output")
        )
        return compile_model(keras.Sequential(layers))

    return build


def deep_model(rates, width=256):
    def build():
        layers = [keras.Input((40,))]
        for index, rate in enumerate(rates, start=1):
            layers += [
                keras.layers.Dense(width, activation="relu"),
                kerasdrop.ScheduledDropout(rate, name=f"dropout_{index}"),
            ]
        layers.append(
            keras.layers.Dense(10, activation="softmax", name="output")
        )
        return compile_model(keras.Sequential(layers))

    return build


class VarianceShift(keras.callbacks.Callback):
    """After training: `variance_shift` of every BN layer, on `x`."""

    def __init__(self, x, store, name):
        super().__init__()
        self.x, self.store, self.name = x, store, name

    def on_train_end(self, logs=None):
        shifts = {}
        for layer in self.model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                shift = kerasdrop.analysis.variance_shift(
                    self.model, layer, self.x
                )
                shifts[layer.name] = shift["mean_ratio"]
        self.store.setdefault(self.name, []).append(shifts)


def batch_norm_claim(args, x_val):
    shifts = {}

    def variant(name, placement):
        return Variant(
            name,
            build_model=batch_norm_model(placement, args.rate),
            callbacks=lambda: [VarianceShift(x_val, shifts, name)],
        )

    variants = [
        variant("none", "bn-relu-dropout"),
        variant("bn-relu-dropout", "bn-relu-dropout"),
        variant("dropout-bn", "dropout-bn"),
        variant("last-only", "last-only"),
    ]
    # The reference is the same network with every rate at 0.
    variants[0] = Variant(
        "none",
        rate=0.0,
        build_model=batch_norm_model("bn-relu-dropout", args.rate),
        callbacks=lambda: [VarianceShift(x_val, shifts, "none")],
    )
    return variants, "none", batch_norm_model("bn-relu-dropout", 0.0), shifts


def layer_rates_claim(args):
    variants = []
    for profile in ("uniform", "rising", "falling"):
        rates = kerasdrop.layers.rate_profile(args.rate, 3, profile)
        variants.append(
            Variant(
                profile,
                schedule={
                    f"dropout_{i}": rate for i, rate in enumerate(rates, 1)
                },
            )
        )
    return variants, "uniform", deep_model([args.rate] * 3), None


def convergence_claim(args):
    variants = [Variant("fixed", rate=args.rate)]
    return variants, "none", deep_model([args.rate] * 2), None


def width_claim(args):
    wide = deep_model([args.rate] * 2, width=2 * args.width)
    variants = [
        Variant(f"dropout-{args.width}", rate=args.rate),
        Variant(f"dropout-{2 * args.width}", rate=args.rate, build_model=wide),
    ]
    return variants, "none", deep_model([args.rate] * 2, args.width), None


def epochs_to(history, target):
    """1-based epochs to the best `val_loss` and to `target` accuracy.

    An accuracy never reached counts as one epoch past the end (a lower
    bound: the run was cut there)."""
    losses = np.asarray(history["val_loss"])
    reached = np.flatnonzero(np.asarray(history["val_accuracy"]) >= target)
    to_target = int(reached[0]) + 1 if len(reached) else len(losses) + 1
    return int(np.argmin(losses)) + 1, to_target


def convergence(result, target):
    """Paired differences (variant - reference) of the epochs `epochs_to`
    counts; fewer epochs is better."""
    counts = {}
    for variant in result.variants:
        runs = {r["seed"]: r for r in result.runs if r["variant"] == variant}
        counts[variant] = [
            epochs_to(runs[seed]["history"], target) for seed in result.seeds
        ]
    summary = {"target_accuracy": target, "epochs": {}, "differences": {}}
    for index, measure in enumerate(("to_best_val_loss", "to_target")):
        values = {v: [c[index] for c in counts[v]] for v in counts}
        summary["epochs"][measure] = {
            v: example_utils.mean_std(x) for v, x in values.items()
        }
        summary["differences"][measure] = {
            v: kerasdrop.experiments.paired_difference(
                values[v], values[result.reference], higher_is_better=False
            )
            for v in values
            if v != result.reference
        }
    return summary


# ---------------------------------------------------------------------------
# tiny-data and concrete choose among variants on a validation split and
# report the chosen one's score on a test split that played no part in
# training or choosing; adversarial attacks the trained networks. Their
# models compile with one call per epoch
# (`steps_per_execution`) and validate once, after the last epoch: the
# per-epoch overhead of `fit` would cost more than the training of these
# small networks.
# ---------------------------------------------------------------------------


def floats(text):
    return [float(value) for value in text.split(",")]


def mlp(
    inputs,
    outputs,
    width,
    rate=0.0,
    l2=0.0,
    depth=2,
    steps=1,
    concrete=None,
):
    """A compiled MLP: `depth` ReLU layers of `width` units, each followed
    by `ScheduledDropout(rate)`, L2 `l2` on every kernel; `outputs` 1 is a
    regression (MSE), more a softmax classifier. `concrete`, the number of
    training rows, puts a `ConcreteDropout` on the inputs of every layer
    after the first in place of the fixed dropout."""
    regularizer = keras.regularizers.L2(l2) if l2 else None

    def dense(units, index, activation=None):
        layer = keras.layers.Dense(
            units,
            activation=activation,
            kernel_regularizer=regularizer,
            name=f"dense_{index}",
        )
        if concrete is None or index == 1:
            return layer
        return kerasdrop.ConcreteDropout(
            layer,
            **kerasdrop.layers.concrete_dropout_regularizers(
                concrete, cross_entropy=outputs > 1
            ),
            seed=index,
            name=f"concrete_{index}",
        )

    def build():
        layers = [keras.Input((inputs,))]
        for index in range(1, depth + 1):
            layers.append(dense(width, index, "relu"))
            if concrete is None:
                layers.append(
                    kerasdrop.ScheduledDropout(rate, name=f"dropout_{index}")
                )
        activation = "softmax" if outputs > 1 else None
        layers.append(dense(outputs, depth + 1, activation))
        model = keras.Sequential(layers)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss="sparse_categorical_crossentropy" if outputs > 1 else "mse",
            # `val_loss` adds the L2 penalty: MSE is the score to choose by.
            metrics=["accuracy"] if outputs > 1 else ["mse"],
            steps_per_execution=example_utils.steps_per_call(steps),
            # XLA's compilation costs more than it saves on these steps.
            jit_compile=False,
        )
        return model

    return build


class Predictions(keras.callbacks.Callback):
    """After training: the model's inference outputs on `x` (or what
    `fn(model)` returns), appended to `store[name]`."""

    def __init__(self, x, store, name, fn=None):
        super().__init__()
        self.x, self.store, self.name, self.fn = x, store, name, fn

    def on_train_end(self, logs=None):
        if self.fn is not None:
            value = self.fn(self.model)
        else:
            value = keras.ops.convert_to_numpy(self.model(self.x))
        self.store.setdefault(self.name, []).append(value)


def paired(values, reference, higher_is_better=True):
    return kerasdrop.experiments.paired_difference(
        values, reference, higher_is_better=higher_is_better
    )


def fit_variants(
    variants, train, validation, args, batch_size, seeds, build=None
):
    """`compare` against the first variant, validated after the last
    epoch only; `build` is the model of the variants without their own
    (by default every variant brings its own)."""
    classifier = train[1].dtype.kind in "iu"  # Integer labels.
    return kerasdrop.experiments.compare(
        build or mlp(1, 1, 1),
        variants,
        *train,
        validation_data=validation,
        seeds=seeds,
        epochs=args.epochs,
        batch_size=batch_size,
        metrics=(
            {"val_accuracy": "max", "val_loss": "min"}
            if classifier
            else {"val_mse": "min"}
        ),
        reference=variants[0].name,
        fit_kwargs={"validation_freq": args.epochs},
        verbose=2,
    )


# ---------------------------------------------------------------------------
# tiny-data: dropout against L2 weight decay, both and neither, on little
# data, every strength chosen per seed on a validation split.
# ---------------------------------------------------------------------------


def tiny_splits(dataset, seed, args):
    """`((x_train, y_train), (x_val, y_val), (x_test, y_test), scale)` of
    `seed`: a new random split per seed, inputs standardized with the
    training rows' statistics (and the diabetes target, whose standard
    deviation `scale` turns MSE back into the target's units)."""
    rng = np.random.default_rng(seed)
    if dataset == "diabetes":
        from sklearn.datasets import load_diabetes

        x, y = load_diabetes(return_X_y=True)
        rows = rng.permutation(len(x))
        parts = rows[:200], rows[200:300], rows[300:]
        y = y.reshape(-1, 1)
        mean, scale = y[parts[0]].mean(), y[parts[0]].std()
        y = (y - mean) / scale
    else:
        x, y, x_test, y_test = example_utils.load_mnist1d()
        rows = rng.permutation(len(x))
        count = args.tiny_samples
        parts = rows[:count], rows[count : 2 * count], None
        scale = 1.0
    center = x[parts[0]].mean(0)
    spread = x[parts[0]].std(0) + 1e-8
    x = ((x - center) / spread).astype("float32")
    y = y.astype("float32" if dataset == "diabetes" else "int32")
    splits = [(x[rows], y[rows]) for rows in parts[:2]]
    if dataset == "diabetes":
        splits.append((x[parts[2]], y[parts[2]]))
    else:
        splits.append((((x_test - center) / spread).astype("float32"), y_test))
    return (*splits, scale)


TINY = {
    # dataset: (inputs, outputs, width, batch size, selection metric)
    "diabetes": (10, 1, 64, 20, "val_mse"),
    "mnist1d": (40, 10, 256, 30, "val_accuracy"),
}
FAMILIES = ("none", "dropout", "l2", "both")


def tiny_grid(args):
    """`(name, family, rate, l2)` of the variants of the first round."""
    grid = [("none", "none", 0.0, 0.0)]
    grid += [(f"dropout-{r:g}", "dropout", r, 0.0) for r in floats(args.rates)]
    grid += [(f"l2-{w:g}", "l2", 0.0, w) for w in floats(args.l2)]
    return grid


def tiny_variant(dataset, name, rate, l2, rows, x_test, predictions):
    """The variant `name` of `dataset`'s MLP; its test outputs go into
    `predictions[name]`."""
    inputs, outputs, width, batch_size, _ = TINY[dataset]
    return Variant(
        name,
        rate=rate,
        build_model=mlp(
            inputs, outputs, width, rate, l2, steps=rows // batch_size
        ),
        callbacks=lambda: [Predictions(x_test, predictions, name)],
    )


def score_of(output, labels, scale, outputs):
    """Test accuracy, or test MSE in the target's units (`scale`)."""
    if outputs > 1:
        return float(np.mean(np.argmax(output, -1) == labels))
    return float(np.mean((output - labels) ** 2)) * scale**2


def choose(result, names, selection):
    """The name among `names` with the best validation score (accuracy
    ties go to the lower validation loss)."""

    def score(name):
        if selection == "val_mse":
            return -result.values(name, "val_mse")[0]
        return (
            result.values(name, "val_accuracy")[0],
            -result.values(name, "val_loss")[0],
        )

    return max(names, key=score)


def tiny_dataset(dataset, args):
    """Every variant of the grid for every seed; the chosen test scores."""
    _, outputs, _, batch_size, selection = TINY[dataset]
    chosen = {family: [] for family in FAMILIES}
    test = {family: [] for family in FAMILIES}
    r2 = {family: [] for family in FAMILIES}
    grid_names, grid_scores = None, []
    for seed in range(args.seeds):
        train, validation, (x_test, y_test), scale = tiny_splits(
            dataset, seed, args
        )
        predictions = {}
        variant = functools.partial(
            tiny_variant,
            dataset,
            rows=len(train[0]),
            x_test=x_test,
            predictions=predictions,
        )
        families, variants = {}, []
        for name, family, rate, l2 in tiny_grid(args):
            families.setdefault(family, []).append((name, rate, l2))
            variants.append(variant(name, rate, l2))
        result = fit_variants(
            variants, train, validation, args, batch_size, [seed]
        )
        picked = {
            family: choose(result, [n for n, _, _ in grid], selection)
            for family, grid in families.items()
        }
        # Both: the rate and the factor that each chose alone, combined
        # (no joint search), trained in a second round.
        rate = dict((n, r) for n, r, _ in families["dropout"])[
            picked["dropout"]
        ]
        l2 = dict((n, w) for n, _, w in families["l2"])[picked["l2"]]
        picked["both"] = f"both-{rate:g}-{l2:g}"
        second = fit_variants(
            [variant(picked["both"], rate, l2)],
            train,
            validation,
            args,
            batch_size,
            [seed],
        )
        grid_names = {f: [n for n, _, _ in g] for f, g in families.items()}
        metric = "val_accuracy" if outputs > 1 else "val_mse"
        grid_scores.append(
            {
                name: {
                    "validation": (
                        result if name in result.variants else second
                    ).values(name, metric)[0],
                    "test": score_of(output[-1], y_test, scale, outputs),
                }
                for name, output in predictions.items()
            }
        )
        for family in FAMILIES:
            name = picked[family]
            chosen[family].append(name)
            test[family].append(grid_scores[-1][name]["test"])
            if outputs == 1:
                mse = test[family][-1] / scale**2
                r2[family].append(1.0 - mse / float(np.var(y_test)))
        print(
            f"{dataset} seed {seed}: "
            + "  ".join(
                f"{f} {chosen[f][-1]} {test[f][-1]:.4g}" for f in FAMILIES
            ),
            flush=True,
        )
    higher = outputs > 1
    summary = {
        "metric": "test_accuracy" if higher else "test_mse",
        "higher_is_better": higher,
        "selection": selection,
        "grid": grid_names,
        "chosen": chosen,
        # Per seed: every variant's validation and test score.
        "scores": grid_scores,
        "test": test,
        "summary": {f: example_utils.mean_std(v) for f, v in test.items()},
        "differences": {},
    }
    pairs = [(f, "none") for f in FAMILIES[1:]]
    pairs += [("l2", "dropout"), ("both", "dropout"), ("both", "l2")]
    for name, reference in pairs:
        summary["differences"][f"{name} vs {reference}"] = paired(
            test[name], test[reference], higher_is_better=higher
        )
    if not higher:
        summary["r2"] = {f: example_utils.mean_std(v) for f, v in r2.items()}
        summary["r2_values"] = r2
        summary["r2_differences"] = {
            f"{v} vs {r}": paired(r2[v], r2[r]) for v, r in pairs
        }
    return summary


def tiny_data_claim(args):
    results = {"claim": args.claim, "datasets": {}}
    for dataset in TINY:
        results["datasets"][dataset] = tiny_dataset(dataset, args)
    table = "\n".join(example_tables.tiny_data_table(results))
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    panels = {
        "diabetes": ("r2_values", "test $R^2$ (diabetes, 200 rows)"),
        "mnist1d": (
            "test",
            f"test accuracy (MNIST-1D, {args.tiny_samples} rows)",
        ),
    }
    for axis, (dataset, (key, label)) in zip(axes, panels.items()):
        values = results["datasets"][dataset][key]
        plot_paired_points(axis, FAMILIES, values)
        axis.set_ylabel(label)
        axis.set_xlabel("regularizer (strength chosen on validation)")
    axes[0].set_title("diabetes regression")
    axes[1].set_title("MNIST-1D classification")
    figure.tight_layout()
    return results, table, figure


def plot_paired_points(axis, names, values):
    """Per-seed points of each of `names`, a grey line joining each seed's
    points, and each name's mean ± std as a marker with error bars."""
    from matplotlib import pyplot as plt

    colors = plt.get_cmap("tab10").colors
    positions = np.arange(len(names))
    per_seed = np.array([values[name] for name in names])  # (names, seeds)
    for seed_values in per_seed.T:
        axis.plot(positions, seed_values, color="0.75", lw=0.8, zorder=1)
    for index in range(len(names)):
        marker = example_utils.MARKERS[index % len(example_utils.MARKERS)]
        offsets = np.linspace(-0.08, 0.08, per_seed.shape[1])
        axis.scatter(
            index + offsets,
            per_seed[index],
            color=colors[index],
            marker=marker,
            s=18,
            alpha=0.7,
            zorder=2,
        )
        mean, std = example_utils.mean_std(per_seed[index])
        axis.errorbar(
            index + 0.22,
            mean,
            yerr=std,
            color=colors[index],
            marker=marker,
            markersize=7,
            capsize=3,
            zorder=3,
        )
    axis.set_xticks(positions)
    axis.set_xticklabels(names)
    handles = [
        plt.Line2D([], [], color="0.75", lw=0.8, label="one seed"),
        plt.Line2D(
            [], [], color="0.3", marker="o", ls="none", label="mean ± std"
        ),
    ]
    axis.legend(handles=handles, fontsize=8)


# ---------------------------------------------------------------------------
# concrete: a learned rate (`kerasdrop.ConcreteDropout` on the inputs of
# the second hidden layer and of the output layer) against fixed rates at
# the same places: 0.5, and the best of `--sweep` chosen on validation.
# ---------------------------------------------------------------------------


# The layers whose inputs `ConcreteDropout` drops, for the figure.
CONCRETE_LAYERS = {
    "concrete_2": "hidden layer 2",
    "concrete_3": "the output layer",
}


class RateHistory(keras.callbacks.Callback):
    """The learned rate of every `ConcreteDropout` after every epoch."""

    def __init__(self, store):
        super().__init__()
        self.store = store

    def on_train_begin(self, logs=None):
        self.rates = {}

    def on_epoch_end(self, epoch, logs=None):
        for layer in self.model.layers:
            if isinstance(layer, kerasdrop.ConcreteDropout):
                self.rates.setdefault(layer.name, []).append(layer.rate)

    def on_train_end(self, logs=None):
        self.store.append(self.rates)


def mnist1d_splits(args):
    """`--train-samples` training rows and 1000 validation rows from
    MNIST-1D's training set (one split for every seed), and its test set."""
    x, y, x_test, y_test = example_utils.load_mnist1d()
    rows = np.random.default_rng(0).permutation(len(x))
    train = rows[: args.train_samples]
    validation = rows[args.train_samples : args.train_samples + 1000]
    return (
        (x[train], y[train]),
        (x[validation], y[validation]),
        (
            x_test,
            y_test,
        ),
    )


def accuracy(probabilities, labels):
    return float(np.mean(np.argmax(probabilities, -1) == labels))


def concrete_claim(args):
    train, validation, (x_test, y_test) = mnist1d_splits(args)
    batch_size, sweep = 50, floats(args.sweep)
    steps = len(train[0]) // batch_size
    predictions, rates = {}, []

    def test_callback(name):
        return lambda: [Predictions(x_test, predictions, name)]

    fixed = mlp(40, 10, 256, sweep[0], steps=steps)
    variants = [Variant("none", rate=0.0, callbacks=test_callback("none"))]
    variants += [
        Variant(f"fixed-{r:g}", rate=r, callbacks=test_callback(f"fixed-{r:g}"))
        for r in sweep
    ]
    variants.append(
        Variant(
            "concrete",
            build_model=mlp(40, 10, 256, steps=steps, concrete=len(train[0])),
            callbacks=lambda: [
                Predictions(x_test, predictions, "concrete"),
                RateHistory(rates),
            ],
        )
    )
    result = fit_variants(
        variants, train, validation, args, batch_size, range(args.seeds), fixed
    )
    test = {
        name: [accuracy(p, y_test) for p in outputs]
        for name, outputs in predictions.items()
    }
    fixed_names = [f"fixed-{r:g}" for r in sweep]
    chosen = []
    for index in range(args.seeds):
        chosen.append(
            max(
                fixed_names,
                key=lambda name: (
                    result.values(name, "val_accuracy")[index],
                    -result.values(name, "val_loss")[index],
                ),
            )
        )
    test["best-fixed"] = [
        test[name][index] for index, name in enumerate(chosen)
    ]
    half = "fixed-0.5" if "fixed-0.5" in test else fixed_names[-1]
    comparisons = {
        f"concrete vs {half}": paired(test["concrete"], test[half]),
        "concrete vs best-fixed": paired(test["concrete"], test["best-fixed"]),
        "concrete vs none": paired(test["concrete"], test["none"]),
        "best-fixed vs none": paired(test["best-fixed"], test["none"]),
        f"{half} vs none": paired(test[half], test["none"]),
    }
    final_rates = {
        layer: example_utils.mean_std([run[layer][-1] for run in rates])
        for layer in rates[0]
    }
    experiment = result.to_dict()
    del experiment["runs"]  # Histories of validation after the last epoch.
    results = {
        "claim": args.claim,
        "experiment": experiment,
        "test_accuracy": test,
        "summary": {k: example_utils.mean_std(v) for k, v in test.items()},
        "chosen": chosen,
        "differences": comparisons,
        "learned_rates": {"final": final_rates, "per_epoch": rates},
    }
    table = "\n".join(example_tables.concrete_table(results))
    from matplotlib import pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    for index, layer in enumerate(rates[0]):
        values = [run[layer] for run in rates]
        epochs = np.arange(1, len(values[0]) + 1)
        example_utils.plot_mean_band(
            left,
            epochs,
            values,
            f"learned, inputs of {CONCRETE_LAYERS.get(layer, layer)}",
            example_utils.line_style(index, len(epochs)),
        )
    for rate in sweep:
        left.axhline(rate, color="0.6", lw=0.8, ls=":")
    left.set_xlabel("epoch")
    left.set_ylabel("dropout rate (dotted: the fixed rates)")
    left.set_title("ConcreteDropout: learned rate, mean ± std")
    left.legend(fontsize=8)
    names = ["none", half, "best-fixed", "concrete"]
    plot_paired_points(right, names, test)
    right.set_ylabel("test accuracy")
    right.set_xlabel("variant")
    right.set_title(f"MNIST-1D, {len(train[0])} rows, {args.seeds} seeds")
    figure.tight_layout()
    return results, table, figure


# ---------------------------------------------------------------------------
# adversarial: the same network with and without dropout under the fast
# gradient sign method (FGSM, Goodfellow et al., 2015) and projected
# gradient descent (PGD, Madry et al., 2018) in an L-infinity ball.
# ---------------------------------------------------------------------------


def cross_entropy_sum(model, x, y):
    probabilities = model(x, training=False)
    picked = keras.ops.take_along_axis(
        probabilities, keras.ops.expand_dims(y, -1), axis=-1
    )
    return -keras.ops.sum(keras.ops.log(keras.ops.maximum(picked, 1e-12)))


def input_gradient(model, x, y):
    """The gradient of the summed cross-entropy with respect to the inputs.

    The loss is written with `keras.ops`; only the differentiation is the
    backend's own (Keras 3 has no backend-neutral gradient), one branch per
    backend: the examples run on TensorFlow, and this keeps them running on
    JAX and PyTorch too.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = cross_entropy_sum(model, x, y)
        return tape.gradient(loss, x).numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(lambda v: cross_entropy_sum(model, v, y))(x))
    if backend == "torch":
        import torch

        x = torch.tensor(x, requires_grad=True)
        cross_entropy_sum(model, x, torch.tensor(y)).backward()
        return x.grad.cpu().numpy()
    raise ValueError(f"No input gradient for the {backend!r} backend.")


def attack_accuracies(model, x, y, epsilons, steps):
    """Clean accuracy, and the accuracy under FGSM and under `steps` of PGD
    (step `2.5 * eps / steps`, from the clean input, projected back into
    the L-infinity ball of radius `eps`) at each radius."""

    def score(inputs):
        return accuracy(keras.ops.convert_to_numpy(model(inputs)), y)

    gradient = np.sign(input_gradient(model, x, y))
    scores = {"clean": score(x), "fgsm": [], "pgd": []}
    for eps in epsilons:
        scores["fgsm"].append(score(x + eps * gradient))
        adversarial = x.copy()
        for _ in range(steps):
            step = np.sign(input_gradient(model, adversarial, y))
            adversarial = adversarial + 2.5 * eps / steps * step
            adversarial = np.clip(adversarial, x - eps, x + eps)
        scores["pgd"].append(score(adversarial.astype("float32")))
    return scores


def adversarial_claim(args):
    x, y, x_test, y_test = example_utils.load_mnist1d()
    rows = np.random.default_rng(0).permutation(len(x))[: args.train_samples]
    epsilons = floats(args.epsilons)
    batch_size = 50
    scores = {}

    def attacked(name):
        def evaluate(model):
            return attack_accuracies(
                model, x_test, y_test, epsilons, args.pgd_steps
            )

        return lambda: [Predictions(None, scores, name, evaluate)]

    build = mlp(40, 10, 256, args.rate, steps=len(rows) // batch_size)
    variants = [
        Variant("none", rate=0.0, callbacks=attacked("none")),
        Variant(f"dropout-{args.rate:g}", rate=args.rate),
    ]
    variants[1].callbacks = attacked(variants[1].name)
    result = fit_variants(
        variants,
        (x[rows], y[rows]),
        (x_test, y_test),
        args,
        batch_size,
        range(args.seeds),
        build,
    )
    dropout = variants[1].name
    rows_out = []
    for attack in ("fgsm", "pgd"):
        for index, eps in enumerate(epsilons):
            row = {"attack": attack, "epsilon": eps}
            for name in ("none", dropout):
                adversarial = [s[attack][index] for s in scores[name]]
                relative = [
                    a / s["clean"] for a, s in zip(adversarial, scores[name])
                ]
                row[name] = {
                    "accuracy": adversarial,
                    "relative": relative,
                }
            row["accuracy_difference"] = paired(
                row[dropout]["accuracy"], row["none"]["accuracy"]
            )
            row["relative_difference"] = paired(
                row[dropout]["relative"], row["none"]["relative"]
            )
            rows_out.append(row)
    clean = {name: [s["clean"] for s in scores[name]] for name in scores}
    experiment = result.to_dict()
    del experiment["runs"]
    results = {
        "claim": args.claim,
        "experiment": experiment,
        "variants": ["none", dropout],
        "epsilons": epsilons,
        "pgd_steps": args.pgd_steps,
        "clean": clean,
        "clean_difference": paired(clean[dropout], clean["none"]),
        "attacks": rows_out,
    }
    table = "\n".join(example_tables.adversarial_table(results))
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(9.5, 3.6))
    radii = np.array([0.0, *epsilons])
    index = 0
    for name in ("none", dropout):
        for attack in ("fgsm", "pgd"):
            rows_of = [r for r in rows_out if r["attack"] == attack]
            for axis, key in zip(axes, ("accuracy", "relative")):
                start = (
                    clean[name]
                    if key == "accuracy"
                    else [1.0] * len(clean[name])
                )
                values = np.column_stack(
                    [start] + [r[name][key] for r in rows_of]
                )
                style = example_utils.line_style(index, len(radii))
                style["markevery"] = 1
                example_utils.plot_mean_band(
                    axis, radii, values, f"{name}, {attack.upper()}", style
                )
            index += 1
    axes[0].set_ylabel("test accuracy under attack")
    axes[1].set_ylabel("adversarial / clean accuracy")
    for axis in axes:
        axis.set_xlabel("L-infinity radius $\\epsilon$ (inputs have std 1)")
        axis.legend(fontsize=8)
    axes[0].set_title(f"MNIST-1D, mean ± std over {args.seeds} seeds")
    axes[1].set_title("robustness relative to clean accuracy")
    figure.tight_layout()
    return results, table, figure


SELECTED_CLAIMS = {
    "tiny-data": tiny_data_claim,
    "concrete": concrete_claim,
    "adversarial": adversarial_claim,
}


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    if args.claim in SELECTED_CLAIMS:
        import matplotlib

        matplotlib.use("Agg")
        results, table, figure = SELECTED_CLAIMS[args.claim](args)
        path = os.path.join(args.output_dir, f"claims_{args.claim}.png")
        figure.savefig(path, dpi=100, bbox_inches="tight")
        print(table)
        example_utils.save_results(args, results, table, [path], STARTED)
        return results
    x_train, y_train, x_test, y_test = example_utils.load_mnist1d()
    rng = np.random.default_rng(0)
    rows = rng.permutation(len(x_train))[: args.train_samples]
    x_train, y_train = x_train[rows], y_train[rows]
    if args.claim == "batch-norm":
        variants, reference, build, shifts = batch_norm_claim(args, x_test)
    elif args.claim == "layer-rates":
        variants, reference, build, shifts = layer_rates_claim(args)
    elif args.claim == "convergence":
        variants, reference, build, shifts = convergence_claim(args)
    else:
        variants, reference, build, shifts = width_claim(args)
    result = kerasdrop.experiments.compare(
        build,
        variants,
        x_train,
        y_train,
        validation_data=(x_test, y_test),
        seeds=range(args.seeds),
        epochs=args.epochs,
        batch_size=50,
        metrics={"val_accuracy": "max", "val_loss": "min"},
        reference=reference,
        verbose=2,
    )
    results = {"claim": args.claim, "experiment": result.to_dict()}
    table = result.to_markdown()
    if shifts is not None:
        results["variance_shift"] = {
            name: {
                layer: example_utils.mean_std([s[layer] for s in runs])
                for layer in runs[0]
            }
            for name, runs in shifts.items()
        }
        lines = [
            "",
            "Variance shift after training (inference input variance / "
            "moving variance, mean over channels; mean ± std over seeds):",
            "",
            "| variant | bn_1 | bn_2 |",
            "|---|---:|---:|",
        ]
        for name, layers in results["variance_shift"].items():
            cells = " | ".join(f"{m:.3f} ± {s:.3f}" for m, s in layers.values())
            lines.append(f"| {name} | {cells} |")
        table += "\n" + "\n".join(lines)
    if args.claim == "convergence":
        results["convergence"] = convergence(result, args.target_accuracy)
        lines = [
            "",
            "| measure | variant | epochs | vs none [95% CI] "
            "(wins/seeds) | verdict |",
            "|---|---|---:|---:|---|",
        ]
        for measure, by_variant in results["convergence"]["epochs"].items():
            for variant, (mean, std) in by_variant.items():
                d = results["convergence"]["differences"][measure].get(variant)
                paired = example_utils.format_paired(d, digits=1) if d else ""
                verdict = d["verdict"] if d else ""
                lines.append(
                    f"| {measure} | {variant} | {mean:.1f} ± {std:.1f} | "
                    f"{paired} | {verdict} |"
                )
        table += "\n" + "\n".join(lines)
    import matplotlib

    matplotlib.use("Agg")
    axes = result.plot("val_accuracy")
    axes.set_title(f"MNIST-1D, {args.claim}")
    figure = os.path.join(args.output_dir, f"claims_{args.claim}.png")
    axes.figure.savefig(figure, dpi=100, bbox_inches="tight")
    print(table)
    example_utils.save_results(args, results, table, [figure], STARTED)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
