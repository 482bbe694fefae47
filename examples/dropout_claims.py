"""Claims about dropout, each checked with `kerasdrop.experiments`.

Each `--claim` trains paired variants of one MNIST-1D model (Greydanus &
Kobak, 2024; generated offline by the `mnist1d` package) with
`kerasdrop.experiments.compare`: per seed, the same 1000 training rows, the
same initial weights, the same batches in the same order. The verdict is
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

Run (a few minutes per claim on two CPU cores):

    python examples/dropout_claims.py --claim batch-norm --docs-images
    python examples/dropout_claims.py --claim layer-rates --docs-images
    python examples/dropout_claims.py --claim convergence --rate 0.5 \
        --epochs 60 --docs-images
    python examples/dropout_claims.py --claim width --rate 0.5 --docs-images
"""

import time

STARTED = time.perf_counter()  # The wall time reported includes imports.

import os
import sys

import example_args

NAME = "dropout_claims"
CLAIMS = ("batch-norm", "layer-rates", "convergence", "width")
QUICK = {"seeds": 2, "epochs": 2, "train_samples": 200}


def parse_args(argv=None):
    parser = example_args.make_parser(__doc__)
    parser.add_argument(
        "--claim", choices=CLAIMS, default="batch-norm", help="the claim"
    )
    parser.add_argument("--seeds", type=int, default=10, help="paired seeds")
    parser.add_argument("--epochs", type=int, default=40, help="epochs")
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
    example_args.add_output_arguments(parser, NAME, quick=True)
    explicit = "--output-dir" in (argv or [])
    args = example_args.parse(parser, argv, NAME, QUICK)
    if not explicit:
        args.output_dir = example_args.default_output_dir(
            f"{NAME}_{args.claim.replace('-', '_')}", args.quick
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


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
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
