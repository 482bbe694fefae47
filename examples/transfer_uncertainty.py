"""What Monte-Carlo dropout buys a fine-tuned classifier: calibration,
selective prediction and out-of-distribution detection.

The head of the transfer demo (`examples/transfer_resnet_head.py`: a small
ResNet pretrained on the digits 0-4, a head trained on 20 labelled images of
each digit 5-9, with dropout at a fixed rate) is evaluated four ways:

- **single**: one deterministic pass (weight scaling, Keras's inference);
- **MC dropout**: the mean of `--num-samples` Monte-Carlo dropout samples
  (`kerasdrop.analysis.mc_predict`, dropout layers only);
- **temperature**: the single pass with a temperature fitted on a
  calibration half of the validation images
  (`kerasdrop.analysis.fit_temperature`);
- **MC + temperature**: the Monte-Carlo mean with a temperature fitted on
  the same calibration half, for the mean of the tempered softmaxes.

On the other half of the validation images it measures the negative
log-likelihood, the Brier score, the expected calibration error and the
area under the risk-coverage curve; and with the digits 0-4, which the head
has no class for, as out-of-distribution images, the AUROC and the FPR at
95% TPR of the predictive entropy (and, for Monte-Carlo dropout, of the
mutual information). Every seed trains one head on its own labelled images
and splits the validation images its own way; the four methods of a seed
share that head and those images, so their differences are paired. Each
method is compared with the single pass by the project's verdict rule
(`kerasdrop.experiments.verdict`): better or worse only when the 95%
Student t interval of the paired mean over seeds excludes zero.

Offline: the backbone is the cached pretrained small ResNet (pretrained
here first when it is missing). The softmax outputs stand in for the
logits: `log softmax(z)` differs from `z` by one number per row, which the
softmax of `log softmax(z) / T` ignores, so the temperature is the same.

Run (78 s of wall time measured on two CPU cores shared with other jobs,
with the backbone cached; the first run also pretrains it, about 100 s):

    python examples/transfer_uncertainty.py

and, to refresh the figures of the documentation:

    python examples/transfer_uncertainty.py --docs-images
"""

import time

STARTED = time.perf_counter()  # The wall time reported includes imports.

import os
import sys

import example_args

NAME = "transfer_uncertainty"
METHODS = ("single", "MC dropout", "temperature", "MC + temperature")
QUICK = {
    "epochs": 4,
    "seeds": 2,
    "pretrain_epochs": 1,
    "num_samples": 5,
    "hidden_units": 16,
}


def parse_args(argv=None):
    parser = example_args.make_parser(__doc__)
    parser.add_argument(
        "--image-size", type=int, default=32, help="height and width"
    )
    parser.add_argument(
        "--labels-per-class",
        type=int,
        default=20,
        help="labelled training images of each digit 5-9",
    )
    example_args.add_training_arguments(
        parser, 60, 32, 3e-3, epochs_help="epochs of head training"
    )
    parser.add_argument("--seeds", type=int, default=5, help="paired seeds")
    parser.add_argument(
        "--rate", type=float, default=0.5, help="the head's dropout rate"
    )
    parser.add_argument(
        "--hidden-units", type=int, default=128, help="width of the head"
    )
    parser.add_argument(
        "--num-samples",
        type=int,
        default=50,
        help="Monte-Carlo dropout samples per image",
    )
    parser.add_argument(
        "--num-bins", type=int, default=15, help="bins of the ECE"
    )
    parser.add_argument(
        "--pretrain-epochs",
        type=int,
        default=4,
        help="epochs of the small ResNet's pretraining, if not cached",
    )
    example_args.add_cache_dir_argument(parser)
    example_args.add_output_arguments(parser, NAME)
    args = example_args.parse_paired(parser, argv, NAME, QUICK)
    example_args.use_quick_cache_dir(args)
    return args


if __name__ == "__main__":
    # `--help` and mistyped flags answer here, before TensorFlow loads.
    parse_args(sys.argv[1:])

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

# Every seed builds and traces a new small model, which TensorFlow would
# warn about as "retracing".
tf.get_logger().setLevel("ERROR")

import example_utils

from kerasdrop import analysis
from kerasdrop import transfer
from kerasdrop.experiments import CONTRADICTED
from kerasdrop.experiments import NOT_DISTINGUISHABLE
from kerasdrop.experiments import REPRODUCED

# name -> (higher is better, printed digits)
MEASURES = {
    "accuracy": (True, 3),
    "nll": (False, 3),
    "brier": (False, 3),
    "ece": (False, 3),
    "aurc": (False, 4),
    "ood_auroc": (True, 3),
    "ood_fpr95": (False, 3),
}
# The tiniest float32: the log of a softmax output that rounded to 0.
TINY = np.finfo("float32").tiny


# ---------------------------------------------------------------------------
# Features: the frozen backbone runs once over the digits 5-9 (the task) and
# 0-4 (out of distribution for the head, which has no class for them).
# ---------------------------------------------------------------------------


def load_features(args):
    backbone = transfer.pretrained_small_resnet(
        cache_dir=args.cache_dir,
        image_size=args.image_size,
        epochs=args.pretrain_epochs,
    )
    height = backbone.inputs[0].shape[1]
    extractor = transfer.feature_extractor(
        transfer.build_classifier(
            backbone,
            len(transfer.TARGET_CLASSES),
            hidden_units=args.hidden_units,
            dropout_rate=args.rate,
        )
    )
    features = {}
    for name, classes in (
        ("target", transfer.TARGET_CLASSES),
        ("ood", transfer.SOURCE_CLASSES),
    ):
        images, labels = transfer.load_digits_images(classes, height)
        features[name] = (
            extractor.predict(images, batch_size=256, verbose=0),
            labels,
        )
    return features


# ---------------------------------------------------------------------------
# One seed: a head trained with dropout, its predictions four ways.
# ---------------------------------------------------------------------------


def train_head(args, x, y, seed):
    keras.utils.set_random_seed(seed)
    head = transfer.build_head(
        x.shape[1],
        len(transfer.TARGET_CLASSES),
        hidden_units=args.hidden_units,
        dropout_rate=args.rate,
        seed=seed,
    )
    head.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss="sparse_categorical_crossentropy",
    )
    head.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, verbose=0)
    return head


def predictions(args, head, x, seed):
    """`(single pass, Monte-Carlo samples)` of the head on features `x`."""
    single = head.predict(x, batch_size=1024, verbose=0).astype("float64")
    keras.utils.set_random_seed(seed)
    result = analysis.mc_predict(
        head, x, num_samples=args.num_samples, return_samples=True
    )
    return single, result["samples"].astype("float64")


def log(probabilities):
    return np.log(np.maximum(probabilities, TINY))


def evaluate_seed(args, features, seed):
    x, y = features["target"]
    x_ood, _ = features["ood"]
    train, validation = transfer.few_shot_split(
        y, args.labels_per_class, seed=seed
    )
    # Half of the validation images fit the temperatures, the other half
    # measures; the split is drawn per seed.
    validation = np.random.default_rng(seed).permutation(validation)
    calibration, test = np.array_split(validation, 2)
    head = train_head(args, x[train], y[train], seed)
    single, samples = {}, {}
    for name, rows in (
        ("calibration", x[calibration]),
        ("test", x[test]),
        ("ood", x_ood),
    ):
        single[name], samples[name] = predictions(args, head, rows, seed)
    temperature = analysis.fit_temperature(
        log(single["calibration"]), y[calibration]
    )
    mc_temperature = analysis.fit_temperature(
        log(samples["calibration"]), y[calibration]
    )
    probabilities = {
        name: {
            "single": single[name],
            "MC dropout": samples[name].mean(axis=0),
            "temperature": analysis.apply_temperature(
                log(single[name]), temperature
            ),
            "MC + temperature": analysis.apply_temperature(
                log(samples[name]), mc_temperature
            ),
        }
        for name in ("test", "ood")
    }
    labels = y[test]
    rows = {}
    for method in METHODS:
        p_test = probabilities["test"][method]
        p_ood = probabilities["ood"][method]
        entropy_in = analysis.predictive_entropy(p_test[None])
        entropy_out = analysis.predictive_entropy(p_ood[None])
        rows[method] = {
            "accuracy": float(np.mean(p_test.argmax(-1) == labels)),
            "nll": analysis.negative_log_likelihood(p_test, labels),
            "brier": analysis.brier_score(p_test, labels),
            "ece": analysis.expected_calibration_error(
                p_test, labels, args.num_bins
            ),
            "aurc": analysis.area_under_risk_coverage(p_test, labels),
            "ood_auroc": analysis.ood_auroc(entropy_in, entropy_out),
            "ood_fpr95": analysis.fpr_at_tpr(entropy_in, entropy_out),
        }
    # The mutual information of the samples as the OOD score (it needs
    # samples: no single-pass counterpart).
    information_in = analysis.mutual_information(samples["test"])
    information_out = analysis.mutual_information(samples["ood"])
    rows["MC dropout"]["ood_auroc_mi"] = analysis.ood_auroc(
        information_in, information_out
    )
    rows["MC dropout"]["ood_fpr95_mi"] = analysis.fpr_at_tpr(
        information_in, information_out
    )
    figure_data = {
        "labels": labels,
        "probabilities": probabilities,
        "entropy": (
            analysis.predictive_entropy(single["test"][None]),
            analysis.predictive_entropy(single["ood"][None]),
        ),
        "information": (information_in, information_out),
    }
    return {
        "seed": seed,
        "temperature": temperature,
        "mc_temperature": mc_temperature,
        "rows": rows,
        "sizes": {
            "train": len(train),
            "calibration": len(calibration),
            "test": len(test),
            "ood": len(x_ood),
        },
    }, figure_data


# ---------------------------------------------------------------------------
# Summary, table and figures.
# ---------------------------------------------------------------------------


mean_std = example_utils.mean_std


def summarize(runs):
    summary = {}
    measures = list(MEASURES) + ["ood_auroc_mi", "ood_fpr95_mi"]
    for method in METHODS:
        row = {}
        for measure in measures:
            values = [run["rows"][method].get(measure) for run in runs]
            if None in values:
                continue
            row[measure] = mean_std(values)
            if method != "single" and measure in MEASURES:
                higher = MEASURES[measure][0]
                baseline = [run["rows"]["single"][measure] for run in runs]
                difference = example_utils.paired_difference(
                    values, baseline, higher_is_better=higher
                )
                difference["verdict"] = example_utils.verdict(difference)
                row[f"{measure}_vs_single"] = difference
        summary[method] = row
    # The MI score of the samples against the single pass's entropy.
    mi = example_utils.paired_difference(
        [run["rows"]["MC dropout"]["ood_auroc_mi"] for run in runs],
        [run["rows"]["single"]["ood_auroc"] for run in runs],
    )
    mi["verdict"] = example_utils.verdict(mi)
    summary["MC dropout"]["ood_auroc_mi_vs_single"] = mi
    summary["temperatures"] = {
        "temperature": mean_std([run["temperature"] for run in runs]),
        "mc_temperature": mean_std([run["mc_temperature"] for run in runs]),
    }
    return summary


def format_table(summary):
    header = "| method | " + " | ".join(MEASURES) + " |"
    lines = [header, "|---|" + "---:|" * len(MEASURES)]
    for method in METHODS:
        row = summary[method]
        cells = [method]
        for measure, (_, digits) in MEASURES.items():
            mean, std = row[measure]
            cell = f"{mean:.{digits}f} ± {std:.{digits}f}"
            difference = row.get(f"{measure}_vs_single")
            if difference is not None:
                cell += (
                    "<br>"
                    + example_utils.format_paired(difference, digits=digits)
                    + f" {short_verdict(difference['verdict'])}"
                )
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def short_verdict(verdict):
    return {
        REPRODUCED: "**better**",
        CONTRADICTED: "**worse**",
        NOT_DISTINGUISHABLE: "(no difference)",
    }[verdict]


def closing_lines(summary):
    lines = []
    for method in METHODS[1:]:
        verdicts = {
            measure: summary[method][f"{measure}_vs_single"]["verdict"]
            for measure in MEASURES
        }
        better = [m for m, v in verdicts.items() if v == REPRODUCED]
        worse = [m for m, v in verdicts.items() if v == CONTRADICTED]
        same = [m for m, v in verdicts.items() if v == NOT_DISTINGUISHABLE]
        lines.append(
            f"{method} vs single, paired by seed: better on "
            f"{', '.join(better) or 'nothing'}; worse on "
            f"{', '.join(worse) or 'nothing'}; no difference beyond the "
            f"seed noise on {', '.join(same) or 'nothing'}"
        )
    mi = summary["MC dropout"]["ood_auroc_mi_vs_single"]
    lines.append(
        "OOD AUROC of the MC mutual information vs the single pass's "
        f"entropy: {example_utils.format_paired(mi)} ({mi['verdict']})"
    )
    temperatures = summary["temperatures"]
    lines.append(
        "Fitted temperatures: single pass "
        f"{temperatures['temperature'][0]:.2f} ± "
        f"{temperatures['temperature'][1]:.2f}, MC dropout "
        f"{temperatures['mc_temperature'][0]:.2f} ± "
        f"{temperatures['mc_temperature'][1]:.2f}"
    )
    return lines


def plot_results(figure_data, args):
    """The figures of the first seed; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    labels = figure_data["labels"]
    test = figure_data["probabilities"]["test"]
    paths = []

    figure, axes = plt.subplots(1, 4, figsize=(15, 3.8))
    for axis, method in zip(axes, METHODS):
        analysis.reliability_diagram(test[method], labels, num_bins=10, ax=axis)
        axis.set_title(f"{method}\n{axis.get_title()}")
    figure.tight_layout()
    paths.append(os.path.join(args.output_dir, f"{NAME}_reliability.png"))
    figure.savefig(paths[-1], dpi=110)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(5.5, 4))
    for method in METHODS:
        analysis.risk_coverage_plot(test[method], labels, ax=axis)
        line = axis.get_lines()[-1]
        line.set_label(f"{method}, {line.get_label()}")
    axis.legend(loc="upper left", fontsize=8)
    axis.set_title("Risk-coverage on the test half (seed 0)")
    figure.tight_layout()
    paths.append(os.path.join(args.output_dir, f"{NAME}_risk_coverage.png"))
    figure.savefig(paths[-1], dpi=110)
    plt.close(figure)

    figure, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    analysis.ood_histogram(
        *figure_data["entropy"],
        ax=axes[0],
        xlabel="predictive entropy of the single pass (nats)",
    )
    analysis.ood_histogram(
        *figure_data["information"],
        ax=axes[1],
        xlabel="mutual information of the MC samples (nats)",
    )
    for axis in axes:
        axis.set_title(f"digits 5-9 vs 0-4 (seed 0), {axis.get_title()}")
    figure.tight_layout()
    paths.append(os.path.join(args.output_dir, f"{NAME}_ood.png"))
    figure.savefig(paths[-1], dpi=110)
    plt.close(figure)
    return paths


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    if args.quick:
        print(example_args.QUICK_NOTE, flush=True)
    features = load_features(args)
    runs, first = [], None
    for seed in range(args.seeds):
        tick = time.perf_counter()
        run, figure_data = evaluate_seed(args, features, seed)
        runs.append(run)
        first = first or figure_data
        single, mc = run["rows"]["single"], run["rows"]["MC dropout"]
        print(
            f"[{seed + 1}/{args.seeds}] seed {seed}: NLL single "
            f"{single['nll']:.3f} MC {mc['nll']:.3f}; OOD AUROC single "
            f"{single['ood_auroc']:.3f} MC {mc['ood_auroc']:.3f} (MI "
            f"{mc['ood_auroc_mi']:.3f}); T {run['temperature']:.2f} / "
            f"{run['mc_temperature']:.2f}  {time.perf_counter() - tick:.1f} s",
            flush=True,
        )
    summary = summarize(runs)
    table = format_table(summary)
    sizes = runs[0]["sizes"]
    print()
    print(
        f"Head with dropout {args.rate}, {args.labels_per_class} labels per "
        f"class, {args.epochs} epochs, {args.seeds} seeds, "
        f"{args.num_samples} MC samples; {sizes['calibration']} calibration "
        f"and {sizes['test']} test images of 5-9, {sizes['ood']} "
        "out-of-distribution images of 0-4"
    )
    print(table)
    closing = closing_lines(summary)
    for line in closing:
        print(line)
    figures = plot_results(first, args)
    results = {"summary": summary, "runs": runs, "closing": closing}
    example_utils.save_results(
        args,
        results,
        table + "\n\n" + "\n".join(closing),
        figures,
        STARTED,
        private=("cache_dir",),
    )
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
