"""Fine-tuning a pretrained ResNet head with scheduled dropout.

A ResNet pretrained on one task gets a new classification head for another
task that has only a few labelled images per class. The head is small, but it
sees so few examples that it can memorise them, which is where dropout -- and
the way its rate changes during training -- matters. This script trains the
same head on the same labels under five dropout regimes:

- no-dropout (rate 0 throughout);
- fixed dropout (the same rate throughout);
- annealed dropout (linear from the rate to 0; Rennie et al., 2014);
- curriculum dropout (from 0 up towards the rate; Morerio et al., 2017);
- early dropout (the rate for the first quarter of training, then 0;
  Liu et al., 2023);

with several seeds each, and watches the units that dropout acts on with
`kerasdrop.callbacks.CoAdaptationMonitor`. It prints a table (validation
accuracy mean +- std over seeds, final co-adaptation measures, wall time)
and writes `results.json`, `results.md` and plots into the output folder.

Offline by default: the backbone is a small ResNet pretrained by
`examples/pretrain_small_resnet.py` on scikit-learn's digits 0-4 (each at
four rotations), cached in `~/.cache/kerasdrop` (or `$KERASDROP_CACHE_DIR`)
and pretrained here first when the file is missing. The target task is the
digits 5-9, never seen in pretraining, with `--labels-per-class` labelled
images per class; every other image of 5-9 is the validation set.
`--backbone resnet50` uses `keras.applications.ResNet50` with ImageNet
weights instead (Keras downloads them once, so that needs a network).

The backbone is frozen and runs in inference mode, so its pooled features do
not change during training: they are computed once, with one `predict`, and
the head -- built by the same code as the full classifier's head -- trains
on them. Every run of a seed starts from the same head and sees the same
labelled images, so the variants differ only by their schedule. At the end
the trained head is copied into the full classifier (backbone + head) to
check that it predicts the same from the images.
`--fine-tune-epochs N` then also fine-tunes the backbone's top stage, with
DropPath (stochastic depth) on its residual branches.

Run (a few minutes on two CPU cores: 78 s to 5 min measured with the
backbone cached, depending on what else the machine runs; the first run
also pretrains the backbone, about 100 s more):

    python examples/transfer_resnet_head.py

and, to refresh the figures of the documentation:

    python examples/transfer_resnet_head.py --docs-images
"""

import time

STARTED = time.perf_counter()  # The wall time reported includes imports.

import os
import sys

import example_args

NAME = "transfer_resnet_head"
VARIANTS = ("no-dropout", "fixed", "annealed", "curriculum", "early")
# `kerasdrop.transfer.BACKBONES`, named here so that `--help` needs no
# kerasdrop (the first call of `transfer.load_backbone` checks the name).
BACKBONES = ("small_resnet", "resnet50", "resnet50_v2")
# Overrides of the defaults for `--quick`: every code path, in seconds. The
# backbone is pretrained for one epoch into the quick run's own folder, so
# the cached backbone of full runs is left alone.
QUICK = {"epochs": 4, "seeds": 2, "pretrain_epochs": 1}


def parse_args(argv=None):
    parser = example_args.make_parser(__doc__)
    parser.add_argument(
        "--backbone",
        choices=BACKBONES,
        default="small_resnet",
        help="pretrained network whose pooled features the head learns from",
    )
    parser.add_argument(
        "--weights",
        default="default",
        help="weights of the backbone: 'imagenet', a weights file, 'none' "
        "(random) or 'default' (default: the cached digits pretraining for "
        "small_resnet, 'imagenet' for the resnet50 backbones)",
    )
    parser.add_argument(
        "--image-size", type=int, default=32, help="height and width"
    )
    parser.add_argument(
        "--labels-per-class",
        type=int,
        default=20,
        help="labelled training images of each digit 5-9",
    )
    parser.add_argument(
        "--epochs", type=int, default=60, help="epochs of head training"
    )
    parser.add_argument(
        "--seeds", type=int, default=5, help="seeds of every variant"
    )
    parser.add_argument(
        "--rate", type=float, default=0.5, help="the schedules' dropout rate"
    )
    parser.add_argument(
        "--hidden-units", type=int, default=128, help="width of the head"
    )
    parser.add_argument(
        "--batch-size", type=int, default=32, help="rows per training batch"
    )
    parser.add_argument(
        "--learning-rate", type=float, default=3e-3, help="of Adam"
    )
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help="comma-separated subset of: " + ", ".join(VARIANTS),
    )
    parser.add_argument(
        "--pretrain-epochs",
        type=int,
        default=4,
        help="epochs of the small ResNet's pretraining, if not cached",
    )
    example_args.add_cache_dir_argument(parser)
    parser.add_argument(
        "--fine-tune-epochs",
        type=int,
        default=0,
        help="after the head, fine-tune the backbone's top stage this many "
        "epochs (0: skip)",
    )
    parser.add_argument(
        "--drop-path-rate",
        type=float,
        default=0.1,
        help="final DropPath rate of the fine-tuned stage",
    )
    example_args.add_output_arguments(parser, NAME)
    args = example_args.parse(parser, argv, NAME, QUICK)
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {VARIANTS}")
    if args.weights.lower() == "none":
        args.weights = None
    example_args.use_quick_cache_dir(args)
    return args


if __name__ == "__main__":
    # `--help` and mistyped flags answer here, before TensorFlow loads.
    parse_args(sys.argv[1:])

import math

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

# Every run builds and traces a new small model, which TensorFlow would warn
# about as "retracing".
tf.get_logger().setLevel("ERROR")

import example_utils

import kerasdrop
from kerasdrop import schedules
from kerasdrop import transfer

# Co-adaptation measures of the head's hidden units shown in the table.
TABLE_MEASURES = ("correlation", "effective_rank")


# The dropout regimes: schedules of the rate over the epochs, driven by
# `kerasdrop.callbacks.DropoutScheduler` (`example_utils.make_schedule`); the
# model is the same for all.
make_schedule = example_utils.make_schedule


# ---------------------------------------------------------------------------
# The backbone and the target data.
# ---------------------------------------------------------------------------


def load_backbone(args):
    if args.backbone == "small_resnet" and args.weights == "default":
        backbone = transfer.pretrained_small_resnet(
            cache_dir=args.cache_dir,
            image_size=args.image_size,
            epochs=args.pretrain_epochs,
        )
        return backbone, lambda images: np.asarray(images) / 255.0
    input_shape = None
    if args.backbone != "small_resnet" or args.weights is None:
        channels = 1 if args.backbone == "small_resnet" else 3
        input_shape = (args.image_size, args.image_size, channels)
    return transfer.load_backbone(
        args.backbone, args.weights, input_shape, args.cache_dir
    )


def load_target_images(backbone, preprocess):
    """Digits 5-9 at the backbone's input size, preprocessed."""
    height, width, channels = backbone.inputs[0].shape[1:]
    images, labels = transfer.load_digits_images(
        transfer.TARGET_CLASSES, image_size=height, channels=channels
    )
    return preprocess(images * 255.0).astype("float32"), labels


# ---------------------------------------------------------------------------
# Training the heads. Every run starts from a known state: the weights of a
# head built with the run's seed, a fresh optimizer and the dropout layer's
# seed. Tracing a new model costs more than training this head, so one
# compiled head serves every run, and `HeadTrainer.restore` puts it back in
# that state (exactly what a newly built and compiled head would be).
#
# Validation accuracy is computed by a small callback on the cached
# validation features (one compiled call per epoch), which is far cheaper
# than `validation_data` for a model this small. The training data is a
# repeated `tf.data` pipeline with `steps_per_epoch`, so Keras keeps one
# iterator for the whole run instead of making one per epoch.
# ---------------------------------------------------------------------------


class ValidationAccuracy(keras.callbacks.Callback):
    """Writes the accuracy on fixed validation data into `logs`."""

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def on_epoch_end(self, epoch, logs=None):
        probabilities = self.model.predict_on_batch(self.x)
        accuracy = float(np.mean(np.argmax(probabilities, -1) == self.y))
        if logs is not None:
            logs["val_accuracy"] = accuracy


class HeadTrainer:
    """Trains `transfer.build_head` heads from a given seed and schedule."""

    def __init__(self, args, num_features, num_classes):
        self.args = args
        self.num_features = num_features
        self.num_classes = num_classes
        self.head = self.build(seed=0)
        self.head.compile(
            optimizer=keras.optimizers.Adam(args.learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        self.head.optimizer.build(self.head.trainable_variables)
        # Iteration 0, the learning rate, and zero moment estimates.
        self.fresh_optimizer = [
            keras.ops.convert_to_numpy(v) for v in self.head.optimizer.variables
        ]

    def build(self, seed):
        return transfer.build_head(
            self.num_features,
            self.num_classes,
            hidden_units=self.args.hidden_units,
            seed=seed,
        )

    def restore(self, seed):
        """Gives the head the state of a new head built with `seed`."""
        new = self.build(seed)
        self.head.set_weights(new.get_weights())
        for variable, value in zip(
            self.head.optimizer.variables, self.fresh_optimizer
        ):
            variable.assign(value)
        dropout = self.head.get_layer("head_dropout")
        # A NumPy copy: on JAX, assigning the variable itself would share
        # one buffer between the two models.
        dropout.seed_generator.state.assign(
            keras.ops.convert_to_numpy(
                new.get_layer("head_dropout").seed_generator.state
            )
        )

    def train(self, variant, seed, data, monitor):
        args = self.args
        x_train, y_train, x_val, y_val = data
        keras.utils.set_random_seed(seed)
        self.restore(seed)
        dataset = (
            tf.data.Dataset.from_tensor_slices((x_train, y_train))
            .shuffle(len(x_train), seed=seed)
            .batch(args.batch_size)
            .repeat()
        )
        callbacks = [
            kerasdrop.callbacks.DropoutScheduler(
                make_schedule(variant, args.rate, args.epochs)
            ),
            ValidationAccuracy(x_val, y_val),
            monitor,
        ]
        start = time.perf_counter()
        history = self.head.fit(
            dataset,
            steps_per_epoch=math.ceil(len(x_train) / args.batch_size),
            epochs=args.epochs,
            callbacks=callbacks,
            shuffle=False,  # The dataset shuffles itself.
            verbose=0,
        )
        return history.history, time.perf_counter() - start


# ---------------------------------------------------------------------------
# Fine-tuning the top stage (optional). A trained head goes into the full
# classifier; DropPath goes on the residual branches of the backbone's last
# stage, its rate rising linearly from 0; that stage is unfrozen (BatchNorm
# stays frozen, in inference mode) and the model is compiled with a ten times
# lower learning rate. The head's dropout keeps its schedule's last rate.
# ---------------------------------------------------------------------------


def fine_tune(args, classifier, head, variant, data, seed):
    x_train, y_train, x_val, y_val = data
    keras.utils.set_random_seed(seed)
    transfer.copy_head_weights(head, classifier)
    model = transfer.insert_drop_path(
        classifier, rate=args.drop_path_rate, seed=seed
    )
    unfrozen = transfer.unfreeze_top_stage(model)
    print(f"Unfrozen: {', '.join(unfrozen)}", flush=True)
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate / 10),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    # Keys are "<layer>/rate"; the scheduler takes the layer part.
    layers = [key.rpartition("/")[0] for key in kerasdrop.find_rates(model)]
    drop_path = schedules.Linear(
        0.0, args.drop_path_rate, max(args.fine_tune_epochs - 1, 1)
    )
    last_rate = make_schedule(variant, args.rate, args.epochs)(args.epochs - 1)
    scheduler = kerasdrop.callbacks.DropoutScheduler(
        {
            name: drop_path if name.endswith("_drop_path") else last_rate
            for name in layers
        }
    )
    history = model.fit(
        x_train,
        y_train,
        batch_size=args.batch_size,
        epochs=args.fine_tune_epochs,
        validation_data=(x_val, y_val),
        callbacks=[scheduler],
        verbose=2,
    )
    return {
        "variant": variant,
        "seed": seed,
        "unfrozen_layers": unfrozen,
        "history": {
            key: [float(v) for v in values]
            for key, values in history.history.items()
        },
    }


# ---------------------------------------------------------------------------
# Summaries, table and plots.
# ---------------------------------------------------------------------------


mean_std = example_utils.mean_std


def final_accuracies(runs, variant):
    chosen = sorted(
        (run for run in runs if run["variant"] == variant),
        key=lambda run: run["seed"],
    )
    return [run["history"]["val_accuracy"][-1] for run in chosen]


def summarize(runs, variants):
    summary = {}
    for variant in variants:
        chosen = [run for run in runs if run["variant"] == variant]
        final = final_accuracies(runs, variant)
        row = {
            "val_accuracy": mean_std(final),
            "best_val_accuracy": mean_std(
                [max(run["history"]["val_accuracy"]) for run in chosen]
            ),
            "train_accuracy": mean_std(
                [run["history"]["accuracy"][-1] for run in chosen]
            ),
            # Paired by seed: same labelled images and same initial head.
            "difference_to_no_dropout": (
                example_utils.paired_difference(
                    final, final_accuracies(runs, "no-dropout")
                )
                if "no-dropout" in variants
                else None
            ),
            "seconds_per_run": mean_std([run["seconds"] for run in chosen]),
        }
        if row["difference_to_no_dropout"] is not None:
            row["verdict"] = example_utils.verdict(
                row["difference_to_no_dropout"]
            )
        for measure in TABLE_MEASURES:
            key = f"coadaptation/head_dropout/{measure}"
            row[measure] = mean_std([run["history"][key][-1] for run in chosen])
        summary[variant] = row
    return summary


def format_table(summary):
    header = (
        "| variant | val acc (final) | vs no dropout [95% CI] (wins/seeds) "
        "| verdict "
        "| val acc (best) | train acc | correlation | effective rank "
        "| s / run |"
    )
    lines = [header, "|" + "---|" * 9]
    for variant, row in summary.items():
        difference = row["difference_to_no_dropout"]
        cells = [
            variant,
            f"{row['val_accuracy'][0]:.3f} ± {row['val_accuracy'][1]:.3f}",
            ""
            if difference is None
            else example_utils.format_paired(difference),
            "" if variant == "no-dropout" else row.get("verdict", ""),
        ]
        for key in ("best_val_accuracy", "train_accuracy", "correlation"):
            mean, std = row[key]
            cells.append(f"{mean:.3f} ± {std:.3f}")
        mean, std = row["effective_rank"]
        cells.append(f"{mean:.1f} ± {std:.1f}")
        cells.append(f"{row['seconds_per_run'][0]:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def closing_line(summary):
    """The verdict rule's answer against no dropout; ties are ties."""
    if "no-dropout" in summary:
        return example_utils.verdict_line(
            {
                variant: row["difference_to_no_dropout"]
                for variant, row in summary.items()
                if variant != "no-dropout"
            },
            "no-dropout",
        )
    means = {v: row["val_accuracy"][0] for v, row in summary.items()}
    top = max(means.values())
    best = [v for v, mean in means.items() if math.isclose(mean, top)]
    return (
        f"Highest mean final validation accuracy: {', '.join(best)} "
        "(without no-dropout there is no paired verdict)"
    )


def plot_results(runs, variants, output_dir):
    """Writes the three figures; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.lines import Line2D

    def curves(variant, key):
        chosen = sorted(
            (run for run in runs if run["variant"] == variant),
            key=lambda run: run["seed"],
        )
        return np.asarray(
            [run["history"][key] for run in chosen], dtype="float64"
        )

    num_epochs = curves(variants[0], "val_accuracy").shape[1]
    num_seeds = curves(variants[0], "val_accuracy").shape[0]
    epochs = np.arange(1, num_epochs + 1)
    styles = {
        variant: example_utils.line_style(VARIANTS.index(variant), num_epochs)
        for variant in variants
    }
    paths = []

    # Accuracy over epochs, one panel per variant (the validation curves of
    # the variants lie on each other), and the paired differences to no
    # dropout in the last panel, where they can be told apart.
    has_baseline = "no-dropout" in variants
    panels = len(variants) + (has_baseline and len(variants) > 1)
    columns = min(panels, 3)
    rows = math.ceil(panels / columns)
    figure, axes = plt.subplots(
        rows,
        columns,
        figsize=(4.0 * columns, 3.2 * rows),
        squeeze=False,
        sharex=True,
    )
    axes = list(axes.flat)
    for axis, variant in zip(axes, variants):
        color = styles[variant]["color"]
        if has_baseline and variant != "no-dropout":
            axis.plot(
                epochs,
                curves("no-dropout", "val_accuracy").mean(0),
                color="0.6",
                linewidth=1,
            )
        example_utils.plot_mean_band(
            axis,
            epochs,
            curves(variant, "val_accuracy"),
            None,
            {"color": color, "linestyle": "-"},
        )
        axis.plot(
            epochs,
            curves(variant, "accuracy").mean(0),
            color=color,
            linestyle=":",
        )
        axis.set_title(variant)
        axis.set_ylabel("accuracy")
        axis.grid(alpha=0.3)
    handles = [
        Line2D([], [], color="black", linestyle="-"),
        Line2D([], [], color="black", linestyle=":"),
    ]
    labels = [
        f"validation (mean ± std over {num_seeds} seeds)",
        "training (mean, dropout on)",
    ]
    if has_baseline:
        handles.append(Line2D([], [], color="0.6", linewidth=1))
        labels.append("no-dropout validation (mean)")
    if panels > len(variants):
        axis = axes[len(variants)]
        axis.axhline(0.0, color="0.6", linewidth=1)
        baseline = curves("no-dropout", "val_accuracy")
        # From the second quarter of a long run: the first epochs' large
        # differences would set the scale.
        start = num_epochs // 4 if num_epochs >= 20 else 0
        for variant in variants:
            if variant == "no-dropout":
                continue
            difference = curves(variant, "val_accuracy") - baseline
            example_utils.plot_mean_band(
                axis,
                epochs[start:],
                100 * difference[:, start:],
                variant,
                example_utils.line_style(
                    VARIANTS.index(variant), num_epochs - start
                ),
                alpha=0.08,  # Four bands on one another.
            )
        axis.set_title(f"Paired by seed, mean ± std, epochs {start + 1}+")
        axis.set_ylabel("val accuracy - no-dropout (points)")
        axis.legend(fontsize="x-small")
        axis.grid(alpha=0.3)
    for axis in axes[panels:]:
        axis.set_visible(False)
    for axis in axes[:panels]:
        axis.set_xlabel("epoch")
        axis.xaxis.set_tick_params(labelbottom=True)
        example_utils.integer_epochs(axis)
    figure.legend(handles, labels, loc="upper center", ncol=3, fontsize="small")
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (3.2 * rows)))
    paths.append(os.path.join(output_dir, "transfer_accuracy.png"))
    figure.savefig(paths[-1], dpi=120)
    plt.close(figure)

    # The rate each schedule set at each epoch, as logged by the scheduler,
    # one panel per schedule: on one axis they would hide each other.
    figure, axes = plt.subplots(
        1,
        len(variants),
        figsize=(2.6 * len(variants), 2.6),
        sharey=True,
        squeeze=False,
    )
    for axis, variant in zip(axes[0], variants):
        values = curves(variant, "head_dropout/rate")[0]
        axis.step(epochs, values, where="mid", color=styles[variant]["color"])
        axis.set_title(variant)
        axis.set_xlabel("epoch")
        axis.set_ylim(-0.03, max(float(np.max(values)), 0.5) + 0.05)
        axis.grid(alpha=0.3)
        example_utils.integer_epochs(axis)
    axes[0][0].set_ylabel("dropout rate")
    figure.suptitle("Rate schedules (logged by DropoutScheduler)")
    figure.tight_layout()
    paths.append(os.path.join(output_dir, "transfer_schedules.png"))
    figure.savefig(paths[-1], dpi=120)
    plt.close(figure)

    # Co-adaptation of the hidden units over the epochs.
    labels = {
        "correlation": "mean |correlation| of the hidden units",
        "effective_rank": "effective rank of the hidden units",
    }
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for axis, measure in zip(axes, TABLE_MEASURES):
        for variant in variants:
            example_utils.plot_mean_band(
                axis,
                epochs,
                curves(variant, f"coadaptation/head_dropout/{measure}"),
                variant,
                styles[variant],
            )
        axis.set_xlabel("epoch")
        axis.set_ylabel(labels.get(measure, measure))
        axis.set_title(
            f"{measure.replace('_', ' ')} (mean ± std over {num_seeds} seeds)"
        )
        axis.grid(alpha=0.3)
        example_utils.integer_epochs(axis)
    axes[0].legend(fontsize="small")
    figure.tight_layout()
    paths.append(os.path.join(output_dir, "transfer_coadaptation.png"))
    figure.savefig(paths[-1], dpi=120)
    plt.close(figure)
    return paths


# ---------------------------------------------------------------------------
# The run.
# ---------------------------------------------------------------------------


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    if args.quick:
        print(example_args.QUICK_NOTE, flush=True)

    print(f"Backbone: {args.backbone} (weights: {args.weights})", flush=True)
    backbone, preprocess = load_backbone(args)
    images, labels = load_target_images(backbone, preprocess)
    num_classes = len(transfer.TARGET_CLASSES)

    # The full classifier: frozen backbone (BatchNorm in inference mode),
    # pooling, hidden layer, scheduled dropout, output. Its pooled features
    # are computed once for every target image.
    classifier = transfer.build_classifier(
        backbone,
        num_classes,
        hidden_units=args.hidden_units,
        dropout_rate=args.rate,
    )
    tick = time.perf_counter()
    features = transfer.feature_extractor(classifier).predict(
        images, batch_size=256, verbose=0
    )
    print(
        f"Features of {len(images)} target images ({features.shape[1]} "
        f"per image) in {time.perf_counter() - tick:.1f} s",
        flush=True,
    )

    runs = []
    total = args.seeds * len(args.variants)
    splits = {}
    trainer = HeadTrainer(args, features.shape[1], num_classes)
    head = trainer.head
    for seed in range(args.seeds):
        # The same labelled images and the same initial head for every
        # variant of a seed, so the variants differ only by their schedule.
        train, validation = transfer.few_shot_split(
            labels, args.labels_per_class, seed=seed
        )
        splits[seed] = (train, validation)
        data = (
            features[train],
            labels[train],
            features[validation],
            labels[validation],
        )
        # Watches the input of the head's dropout layer (the hidden units)
        # on the validation features.
        monitor = kerasdrop.callbacks.CoAdaptationMonitor(
            features[validation], measures=TABLE_MEASURES, seed=seed
        )
        for variant in args.variants:
            history, seconds = trainer.train(variant, seed, data, monitor)
            runs.append(
                {
                    "variant": variant,
                    "seed": seed,
                    "seconds": seconds,
                    "history": {
                        key: [float(v) for v in values]
                        for key, values in history.items()
                    },
                }
            )
            print(
                f"[{len(runs):2d}/{total}] seed {seed} {variant:<11} "
                f"val acc {history['val_accuracy'][-1]:.3f}  train acc "
                f"{history['accuracy'][-1]:.3f}  correlation "
                f"{history['coadaptation/head_dropout/correlation'][-1]:.3f}"
                f"  {seconds:.1f} s",
                flush=True,
            )

    # The head trained on cached features is the classifier's head: copied
    # into the full model, it gives the same predictions from the images.
    transfer.copy_head_weights(head, classifier)
    train, validation = splits[args.seeds - 1]
    from_images = classifier.predict(
        images[validation], batch_size=256, verbose=0
    )
    from_features = head.predict_on_batch(features[validation])
    difference = float(np.max(np.abs(from_images - from_features)))
    print(
        "Full classifier (backbone + head) vs head on cached features: "
        f"max |difference| of the probabilities = {difference:.2e}"
    )

    fine_tuning = None
    if args.fine_tune_epochs > 0:
        variant, seed = runs[-1]["variant"], runs[-1]["seed"]
        print(
            f"Fine-tuning the top stage with the {variant} head of seed "
            f"{seed} for {args.fine_tune_epochs} epochs, DropPath rate "
            f"rising to {args.drop_path_rate}",
            flush=True,
        )
        fine_tuning = fine_tune(
            args,
            classifier,
            head,
            variant,
            (
                images[train],
                labels[train],
                images[validation],
                labels[validation],
            ),
            seed,
        )
        before = runs[-1]["history"]["val_accuracy"][-1]
        after = fine_tuning["history"]["val_accuracy"][-1]
        print(
            f"Validation accuracy: head only {before:.3f}, after fine-tuning "
            f"the top stage {after:.3f}"
        )

    summary = summarize(runs, args.variants)
    table = format_table(summary)
    print()
    print(
        f"{args.backbone}, digits 5-9, {args.labels_per_class} labels per "
        f"class, {args.epochs} epochs, {args.seeds} seeds, rate {args.rate}"
    )
    print(table)
    print(closing_line(summary))

    figures = plot_results(runs, args.variants, args.output_dir)
    results = {
        "num_target_images": len(images),
        "num_features": int(features.shape[1]),
        "summary": summary,
        "runs": runs,
        "classifier_vs_head_max_difference": difference,
        "fine_tuning": fine_tuning,
    }
    # The wall time runs from the start of the script (imports included)
    # to the last figure.
    example_utils.save_results(
        args, results, table, figures, STARTED, private=("cache_dir",)
    )
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
