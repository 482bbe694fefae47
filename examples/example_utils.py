"""What the example scripts share: paired comparisons, results, MNIST-1D.

Not an example itself. The scripts in this folder import it (Python puts
the folder of a script it runs on `sys.path`) after they have parsed their
arguments with `example_args`, which imports nothing heavy.

- `paired_difference`, `verdict` and `batch_order` are
  `kerasdrop.experiments`'s: a variant compared with a baseline seed by
  seed (each seed gives both the same data, initial weights and batch
  order), with a Student t interval of the mean difference, and a verdict
  only where that interval excludes zero.
- `save_results` writes `results.json` (with the configuration and the wall
  time), `results.md` and, with `--docs-images`, copies the figures into
  `docs/images/` and `results.json` into `docs/results/<folder>.json`,
  which the documentation's tables are checked against.
- `make_schedule` gives the dropout regimes the examples compare.
- `monte_carlo_errors`: test error of Monte-Carlo averaging over 1, 2, ...
  sampled subnetworks, against weight scaling.
- `load_mnist1d` generates MNIST-1D (Greydanus & Kobak, 2024) offline.
- `Evaluation` logs accuracy and loss in inference mode on the training
  and test rows, `AfterTraining` runs an analysis on the trained model:
  callbacks of the MNIST-1D examples' `kerasdrop.experiments.compare`
  runs.
- `ordered_dataset` gives `batch_order`'s batches as a `tf.data` pipeline,
  for examples that train in their own loop.
"""

import json
import os
import shutil
import time

import keras
import numpy as np
from example_args import DOCS_IMAGES_DIR
from example_args import DOCS_RESULTS_DIR
from example_args import QUICK_NOTE

import kerasdrop
from kerasdrop import experiments
from kerasdrop import schedules

# The statistics and the verdict are the library's: mean ± standard
# deviation over seeds, the paired difference with its Student t interval,
# and "reproduced" / "contradicted" only when that interval excludes zero.
mean_std = experiments.mean_std
paired_difference = experiments.paired_difference
format_paired = experiments.format_paired
verdict = experiments.verdict


def verdict_line(differences, baseline):
    """The closing line: what `verdict` says of each variant's difference.

    `differences` maps each variant to its `paired_difference` against
    `baseline`. A variant is better or worse only when `verdict` says so;
    equal means and differences within the seed noise are ties.
    """
    groups = {name: [] for name in experiments.VERDICTS}
    for variant, difference in differences.items():
        groups[verdict(difference)].append(variant)
    better, worse, tied = (
        ", ".join(groups[key]) or "none" for key in experiments.VERDICTS
    )
    return (
        f"Against {baseline}, paired by seed: better {better}; worse "
        f"{worse}; no difference beyond the seed noise {tied}"
    )


# Figures: one style per variant -- colour, line style and marker -- so
# curves that lie on each other stay visible and print in grey too.
LINE_STYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (3, 2)))
MARKERS = ("o", "s", "^", "v", "D", "x", "P", "*")


def line_style(index, points):
    """Keyword arguments of `plot` for the `index`-th curve of `points`.

    Markers sit on a few points only, offset per curve so that they do not
    hide each other either.
    """
    from matplotlib import pyplot as plt

    colors = plt.get_cmap("tab10").colors
    every = max(points // 8, 1)
    return {
        "color": colors[index % len(colors)],
        "linestyle": LINE_STYLES[index % len(LINE_STYLES)],
        "marker": MARKERS[index % len(MARKERS)],
        "markersize": 4,
        "markevery": (min(index * max(every // 5, 1), points - 1), every),
    }


def integer_epochs(axis):
    """Epoch ticks at whole numbers (a quick run has only a few epochs)."""
    from matplotlib.ticker import MaxNLocator

    steps = [1, 2, 5, 10]  # Ticks at 0, 10, 20, not 0, 8, 16.
    axis.xaxis.set_major_locator(
        MaxNLocator(integer=True, steps=steps, min_n_ticks=1)
    )


def plot_mean_band(axis, x, values, label, style, alpha=0.15):
    """The mean of `values` (one row per seed) and a mean ± std band."""
    values = np.asarray(values, dtype="float64")
    mean, std = values.mean(0), values.std(0)
    axis.plot(x, mean, label=label, **style)
    axis.fill_between(
        x, mean - std, mean + std, color=style["color"], alpha=alpha
    )


def save_results(args, results, table, figures, started, private=()):
    """Writes `results.json` and `results.md`; copies figures to the docs.

    Adds `"config"` (the arguments, except the output folder, the
    `--docs-images` flag and the names in `private`), `"backend"` and
    `"wall_time_seconds"` (since `started`, a `time.perf_counter()` value)
    to `results`, prints where everything went (and the `--quick` note) and
    returns the wall time.
    """
    docs_images = getattr(args, "docs_images", False)
    skipped = {"output_dir", "docs_images", *private}
    results["config"] = {
        key: value for key, value in vars(args).items() if key not in skipped
    }
    elapsed = time.perf_counter() - started
    results["backend"] = keras.backend.backend()
    results["wall_time_seconds"] = elapsed
    with open(os.path.join(args.output_dir, "results.json"), "w") as file:
        json.dump(results, file, indent=1)
    with open(os.path.join(args.output_dir, "results.md"), "w") as file:
        file.write(table + "\n")
    if docs_images:
        os.makedirs(DOCS_IMAGES_DIR, exist_ok=True)
        for path in figures:
            shutil.copy(path, DOCS_IMAGES_DIR)
        # The tables of the docs are checked against this copy.
        os.makedirs(DOCS_RESULTS_DIR, exist_ok=True)
        name = os.path.basename(os.path.normpath(args.output_dir))
        shutil.copy(
            os.path.join(args.output_dir, "results.json"),
            os.path.join(DOCS_RESULTS_DIR, f"{name}.json"),
        )
    written = "Results and figures" if figures else "Results"
    print(f"{written} written to {args.output_dir}")
    if docs_images:
        print(
            f"Figures copied into {DOCS_IMAGES_DIR}, results.json into "
            f"{DOCS_RESULTS_DIR}"
        )
    if getattr(args, "quick", False):
        print(QUICK_NOTE)
    print(f"Total wall time: {elapsed:.1f} s")
    return elapsed


def load_mnist1d(num_samples=5000):
    """MNIST-1D, generated here: `mnist1d.data.make_dataset`, no download.

    With the default `num_samples` this is the standard dataset of the
    paper: 4000 training and 1000 test sequences of 40 values, 10 classes.
    (`mnist1d.data.get_dataset` would download a copy instead.)

    Returns:
        `(x_train, y_train, x_test, y_test)`: float32 arrays of shape
        `(samples, 40)` and int32 labels.
    """
    from mnist1d.data import get_dataset_args
    from mnist1d.data import make_dataset

    config = get_dataset_args()
    config.num_samples = num_samples
    data = make_dataset(config)
    return (
        data["x"].astype("float32"),
        data["y"].astype("int32"),
        data["x_test"].astype("float32"),
        data["y_test"].astype("int32"),
    )


# The dropout regimes, as schedules of the rate over the epochs, driven by
# `kerasdrop.callbacks.DropoutScheduler`.
SCHEDULES = {
    "none": "no dropout: Constant(0)",
    "fixed": "Constant(rate)",
    "annealed": "Linear(rate, 0, epochs - 1), Rennie et al. (2014)",
    "curriculum": "Curriculum(rate, gamma=10 / epochs), Morerio et al. (2017)",
    "early": "EarlyDropout(rate, cutoff=epochs // 4), Liu et al. (2023)",
    "late": "LateDropout(rate, cutoff=epochs // 4), Liu et al. (2023)",
}


def make_schedule(variant, rate, epochs):
    """The schedule of `variant` (a key of `SCHEDULES`) over `epochs`."""
    cutoff = max(epochs // 4, 1)
    if variant in ("none", "no-dropout"):
        return schedules.Constant(0.0)
    if variant == "fixed":
        return schedules.Constant(rate)
    if variant == "annealed":
        # Reaches 0 at the last epoch.
        return schedules.Linear(rate, 0.0, duration=max(epochs - 1, 1))
    if variant == "curriculum":
        # Morerio et al. use gamma = 10 / (number of steps).
        return schedules.Curriculum(rate, gamma=10.0 / epochs)
    if variant == "early":
        return schedules.EarlyDropout(rate, cutoff=cutoff)
    if variant == "late":
        return schedules.LateDropout(rate, cutoff=cutoff)
    raise ValueError(f"Unknown variant {variant!r}")


def test_error(probabilities, labels):
    """Fraction of rows whose arg-max is not the label."""
    return float(np.mean(np.argmax(probabilities, axis=-1) != labels))


def monte_carlo_errors(model, x, y, sample_counts, repeats, seed):
    """Test error of Monte-Carlo averaging against weight scaling.

    For each repeat, `kerasdrop.analysis.mc_predict` draws
    `max(sample_counts)` subnetworks per row in one batched call; the first
    `k` of them give the `k`-sample average, so the whole curve costs one
    call per repeat. Srivastava et al. (2014), Fig. 11.

    Returns:
        A dict with `"sample_counts"`, `"weight_scaling_error"` (the
        ordinary inference pass), `"mc_error_mean"` and `"mc_error_std"`
        (over repeats, arithmetic mean of the samples) and
        `"mc_geometric_error_mean"` (their normalized geometric mean).
    """
    weight_scaling = test_error(model.predict_on_batch(x), y)
    counts = np.array(sorted(sample_counts))
    errors = {"mean": [], "geometric": []}
    for repeat in range(repeats):
        keras.utils.set_random_seed(seed + 1000 + repeat)
        # One call (`batch_size=None`): the test sets here are small.
        samples = kerasdrop.analysis.mc_predict(
            model,
            x,
            num_samples=int(counts.max()),
            batch_size=None,
            return_samples=True,
        )["samples"].astype("float64")
        log_samples = np.log(np.maximum(samples, 1e-30))
        for combine in errors:
            row = []
            for count in counts:
                if combine == "mean":
                    average = samples[:count].mean(axis=0)
                else:  # The arg-max of a normalized geometric mean.
                    average = log_samples[:count].mean(axis=0)
                row.append(test_error(average, y))
            errors[combine].append(row)
    return {
        "sample_counts": counts.tolist(),
        "weight_scaling_error": weight_scaling,
        "mc_error_mean": np.mean(errors["mean"], axis=0).tolist(),
        "mc_error_std": np.std(errors["mean"], axis=0).tolist(),
        "mc_geometric_error_mean": np.mean(errors["geometric"], 0).tolist(),
    }


def monte_carlo_table(title, curve):
    """Markdown lines: a `monte_carlo_errors` curve against weight scaling."""
    lines = [
        title,
        "",
        "| samples | MC mean ± std | MC geometric | weight scaling |",
        "|---:|---:|---:|---:|",
    ]
    for count, mean, std, geometric in zip(
        curve["sample_counts"],
        curve["mc_error_mean"],
        curve["mc_error_std"],
        curve["mc_geometric_error_mean"],
    ):
        lines.append(
            f"| {count} | {mean:.4f} ± {std:.4f} | {geometric:.4f} | "
            f"{curve['weight_scaling_error']:.4f} |"
        )
    return lines


def exact_average_summary(model, x, y, layer="dropout"):
    """The exact average over all `2^n` masks of `layer`, against inference.

    Returns the number of masks, the largest differences of the geometric
    and arithmetic averages from the ordinary inference pass (weight
    scaling), and the test error of each.
    """
    exact = kerasdrop.analysis.exact_average(model, x, layer)
    inference = exact["inference"]
    return {
        "num_masks": exact["num_masks"],
        "max_abs_geometric_minus_inference": float(
            np.max(np.abs(exact["geometric"] - inference))
        ),
        "max_abs_arithmetic_minus_inference": float(
            np.max(np.abs(exact["arithmetic"] - inference))
        ),
        "error_inference": test_error(inference, y),
        "error_geometric": test_error(exact["geometric"], y),
        "error_arithmetic": test_error(exact["arithmetic"], y),
    }


batch_order = experiments.batch_order


def steps_per_call(steps):
    """`steps_per_execution` for `compile`: `steps` batches per compiled
    call (no Python between them), or 1 on PyTorch, whose trainer runs one
    step per call and refuses more."""
    return 1 if keras.backend.backend() == "torch" else steps


def ordered_dataset(x, y, batch_size, epochs, seed):
    """A `tf.data` pipeline of the batches of `batch_order`, repeated.

    Returns the dataset and the number of steps per epoch, for
    `model.fit(dataset, steps_per_epoch=steps, epochs=epochs)`. `y` may be
    a dict of targets (one per output).
    """
    import tensorflow as tf

    order = batch_order(len(x), batch_size, epochs, seed)
    targets = keras.tree.map_structure(lambda array: array[order], y)
    dataset = tf.data.Dataset.from_tensor_slices((x[order], targets))
    return dataset.batch(batch_size).repeat(), len(x) // batch_size


def accuracy_and_loss(probabilities, labels):
    """Accuracy and mean cross-entropy of class probabilities."""
    picked = probabilities[np.arange(len(labels)), labels]
    accuracy = float(np.mean(np.argmax(probabilities, -1) == labels))
    return accuracy, float(-np.mean(np.log(np.maximum(picked, 1e-12))))


class Evaluation(keras.callbacks.Callback):
    """Writes `{train,test}_{accuracy,loss}` and `test_error` into `logs`.

    Measured after every epoch in inference mode (no dropout), on the
    training rows `train` and the test rows `test`, both `(x, y)`, so
    variants compare on the same footing whatever their rate.
    """

    def __init__(self, train, test):
        super().__init__()
        # One call on the training and test rows together.
        self.x = np.concatenate([train[0], test[0]])
        self.splits = {
            "train": (slice(0, len(train[0])), train[1]),
            "test": (slice(len(train[0]), None), test[1]),
        }

    def on_epoch_end(self, epoch, logs=None):
        probabilities = np.asarray(self.model.predict_on_batch(self.x))
        for split, (rows, labels) in self.splits.items():
            accuracy, loss = accuracy_and_loss(probabilities[rows], labels)
            logs[f"{split}_accuracy"] = accuracy
            logs[f"{split}_loss"] = loss
        logs["test_error"] = 1.0 - logs["test_accuracy"]


class AfterTraining(keras.callbacks.Callback):
    """Calls `function(model)` at the end of training, on the trained model
    (which `kerasdrop.experiments.compare` trains again for the next seed
    of the variant)."""

    def __init__(self, function):
        super().__init__()
        self.function = function

    def on_train_end(self, logs=None):
        self.function(self.model)
