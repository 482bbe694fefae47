"""Early stochastic depth when fine-tuning a Keras application.

`keras.applications.EfficientNetB0` holds ten `keras.layers.Dropout`
layers: nine stochastic-depth dropouts, one per residual block (a `Dropout`
with `noise_shape=(None, 1, 1, 1)` drops a block's whole branch for a
sample), at rates rising with depth from 0.025 to 0.2, and the dropout of
its classifier. Keras keeps those rates as Python floats, fixed for the
whole training. `kerasdrop.make_schedulable` turns each of them, in place,
into a kerasdrop layer whose rate is a variable (same weights, same rates,
same inference outputs), so `kerasdrop.callbacks.DropoutScheduler` can run
the recipe of Liu et al. (2023, "Dropout Reduces Underfitting"): early
dropout / early stochastic depth, the model's own rates for the first epochs
and none afterwards. This script fine-tunes the same model under three
regimes, with the same initial weights and data:

- fixed: the rates the model was built with, throughout (what Keras does);
- early: each layer's own rate for the first `--cutoff` epochs, then 0;
- none: every rate 0 throughout;

and prints a table (validation accuracy, final training loss, wall time per
run) and writes `results.json` and `results.md` into the output folder.

Offline by default (`--model small_resnet`): the pretrained network is the
project's small ResNet, pretrained on scikit-learn's digits 0-4 (cached in
`~/.cache/kerasdrop`, pretrained first when missing, about half a minute),
built the way model-zoo networks are, from Keras's own layers: a
stochastic-depth `Dropout(noise_shape=(None, 1, 1, 1))` at the end of every
residual branch and a `Dropout` head. It is fine-tuned, whole, on the digits
5-9 with `--labels-per-class` labelled images per class (the other images
are the validation set), BatchNorm frozen in inference mode.

`--model efficientnet` fine-tunes `keras.applications.EfficientNetB0` (its
own ten `Dropout` layers) with a new 10-class head on all ten digits at
32x32, half for validation. `--weights imagenet` starts from Keras's
ImageNet weights (downloaded once: needs a network); the default, `none`,
starts from random weights, a stand-in that checks the code path offline
but trains poorly in a few epochs (its BatchNorm statistics are new).

Run (a few minutes on two CPU cores):

    python examples/finetune_pretrained_schedulable.py
"""

import time

STARTED = time.perf_counter()  # The wall time reported includes imports.

import os
import sys

import example_args

NAME = "finetune_pretrained_schedulable"
VARIANTS = ("fixed", "early", "none")
NUM_CLASSES = 10
# Overrides of the defaults for `--quick`: every code path, in seconds.
QUICK = {
    "epochs": 2,
    "cutoff": 1,
    "seeds": 1,
    "labels_per_class": 3,
    "num_images": 96,
}


def parse_args(argv=None):
    parser = example_args.make_parser(__doc__)
    parser.add_argument(
        "--model",
        choices=("small_resnet", "efficientnet"),
        default=None,
        help="the pretrained network (default: efficientnet with --weights "
        "imagenet, small_resnet otherwise)",
    )
    parser.add_argument(
        "--weights",
        default="none",
        help="efficientnet only: 'none' (random weights, offline) or "
        "'imagenet' (downloads Keras's ImageNet weights once)",
    )
    parser.add_argument(
        "--cache-dir",
        default=None,
        help="small_resnet: folder of the cached pretrained backbone "
        "(default: $KERASDROP_CACHE_DIR or ~/.cache/kerasdrop)",
    )
    parser.add_argument(
        "--image-size", type=int, default=32, help="height and width"
    )
    parser.add_argument(
        "--num-images",
        type=int,
        default=None,
        help="efficientnet: use this many digits images (default: all)",
    )
    parser.add_argument(
        "--labels-per-class",
        type=int,
        default=20,
        help="small_resnet: labelled training images of each digit 5-9",
    )
    parser.add_argument(
        "--drop-path-rate",
        type=float,
        default=0.2,
        help="small_resnet: rate of its stochastic depth",
    )
    parser.add_argument(
        "--head-rate",
        type=float,
        default=0.3,
        help="rate of the classifier's dropout",
    )
    example_args.add_training_arguments(
        parser, 30, 32, 1e-3, epochs_help="epochs of fine-tuning"
    )
    parser.add_argument(
        "--cutoff",
        type=int,
        default=8,
        help="epochs of dropout of the early variant",
    )
    parser.add_argument(
        "--seeds", type=int, default=3, help="seeds of every variant"
    )
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help="comma-separated subset of: " + ", ".join(VARIANTS),
    )
    example_args.add_output_arguments(parser, NAME, docs_images=False)
    args = example_args.parse(parser, argv, NAME, QUICK)
    if args.model is None:
        args.model = (
            "efficientnet" if args.weights != "none" else ("small_resnet")
        )
    args.variants = [name for name in args.variants.split(",") if name]
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {VARIANTS}")
    if args.weights not in ("none", "imagenet"):
        parser.error(f"--weights must be 'none' or 'imagenet': {args.weights}")
    return args


if __name__ == "__main__":
    # `--help` and mistyped flags answer here, before TensorFlow loads.
    parse_args(sys.argv[1:])

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import example_utils
import keras
import numpy as np

import kerasdrop
from kerasdrop import schedules
from kerasdrop import transfer


def load_data(args):
    """Training and validation images and labels for the chosen model."""
    if args.model == "efficientnet":
        # 0-255 RGB images (EfficientNet rescales them itself), shuffled
        # and split in half.
        images, labels = transfer.load_digits_images(
            image_size=args.image_size, channels=3
        )
        order = np.random.default_rng(0).permutation(len(labels))[
            : args.num_images
        ]
        images, labels = images[order] * 255.0, labels[order]
        half = len(labels) // 2
        return (images[:half], labels[:half]), (images[half:], labels[half:])
    # The digits the backbone never saw, a few labelled images per class.
    images, labels = transfer.load_digits_images(
        classes=transfer.TARGET_CLASSES, image_size=args.image_size
    )
    train, val = transfer.few_shot_split(labels, args.labels_per_class)
    return (images[train], labels[train]), (images[val], labels[val])


def build_model(args, seed):
    """The pretrained classifier, built from Keras's layers, converted.

    The same seed gives the same initial head (and, for a random
    EfficientNet, the same backbone), so every variant of a seed starts
    from the same network.
    """
    if args.model == "efficientnet":
        keras.utils.set_random_seed(seed)
        backbone = keras.applications.EfficientNetB0(
            include_top=False,
            weights=None if args.weights == "none" else args.weights,
            input_shape=(args.image_size, args.image_size, 3),
            pooling="avg",
        )
        num_classes = NUM_CLASSES
    else:
        backbone = transfer.pretrained_small_resnet(
            args.cache_dir, image_size=args.image_size, verbose=0
        )
        # Stochastic depth the Keras way, at the end of every residual
        # branch, as in EfficientNet: one draw per sample.
        branch_ends = transfer.residual_branch_ends(
            backbone, layers=[layer.name for layer in backbone.layers]
        )
        backbone = transfer.insert_dropout(
            backbone,
            after=[layer.name for layer in branch_ends],
            rate=args.drop_path_rate,
            dropout_class=keras.layers.Dropout,
            noise_shape=(None, 1, 1, 1),
        )
        transfer.freeze_batchnorm(backbone)
        num_classes = len(transfer.TARGET_CLASSES)
        keras.utils.set_random_seed(seed)
    inputs = keras.Input(backbone.input_shape[1:])
    features = backbone(inputs)
    if len(features.shape) == 4:  # The small ResNet has no pooling.
        features = keras.layers.GlobalAveragePooling2D()(features)
    features = keras.layers.Dropout(args.head_rate, name="head_dropout")(
        features
    )
    outputs = keras.layers.Dense(num_classes, activation="softmax")(features)
    model = keras.Model(inputs, outputs)
    # Every Keras dropout, in the backbone and in the head, becomes a
    # kerasdrop rate, in place.
    kerasdrop.make_schedulable(model)
    return model


def built_rates(model):
    """Each dropout rate as built: `"<layer>/rate"` -> rate."""
    return kerasdrop.find_rates(model)


def schedule_for(variant, cutoff):
    """A factor of each layer's own rate (`relative=True`), so every layer
    keeps its proportion (the rates of EfficientNet's blocks rise with
    depth)."""
    if variant == "fixed":
        return schedules.Constant(1.0)
    if variant == "early":
        return schedules.EarlyDropout(1.0, cutoff=cutoff)
    return schedules.Constant(0.0)


def run(args, variant, seed, data):
    (x_train, y_train), (x_val, y_val) = data
    model = build_model(args, seed)
    rates = built_rates(model)
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    scheduler = kerasdrop.callbacks.DropoutScheduler(
        schedule_for(variant, args.cutoff), unit="epoch", relative=True
    )
    start = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        batch_size=args.batch_size,
        epochs=args.epochs,
        callbacks=[scheduler],
        verbose=0,
    )
    seconds = time.perf_counter() - start
    return {
        "variant": variant,
        "seed": seed,
        "num_rates": len(rates),
        "built_rates": rates,
        "seconds": seconds,
        "history": {
            key: [float(value) for value in values]
            for key, values in history.history.items()
        },
    }


def summarize(runs):
    summary = {}
    for variant in dict.fromkeys(run["variant"] for run in runs):
        chosen = [run for run in runs if run["variant"] == variant]
        accuracy = [run["history"]["val_accuracy"][-1] for run in chosen]
        loss = [run["history"]["loss"][-1] for run in chosen]
        summary[variant] = {
            "val_accuracy": (float(np.mean(accuracy)), float(np.std(accuracy))),
            "train_loss": float(np.mean(loss)),
            "seconds": float(np.mean([run["seconds"] for run in chosen])),
        }
    return summary


def table(summary):
    lines = [
        "| variant | val accuracy (mean ± std) | final train loss | s / run |",
        "|---|---|---|---|",
    ]
    for variant, row in summary.items():
        mean, std = row["val_accuracy"]
        lines.append(
            f"| {variant} | {mean:.3f} ± {std:.3f} | "
            f"{row['train_loss']:.3f} | {row['seconds']:.1f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.quick:
        print(example_args.QUICK_NOTE, flush=True)
    data = load_data(args)
    runs = []
    total = len(args.variants) * args.seeds
    for seed in range(args.seeds):
        for variant in args.variants:
            print(
                f"[{len(runs) + 1}/{total}] seed {seed} {variant}", flush=True
            )
            runs.append(run(args, variant, seed, data))
            keras.backend.clear_session()
    summary = summarize(runs)
    results = {"summary": summary, "runs": runs}
    markdown = table(summary)
    print(markdown)
    os.makedirs(args.output_dir, exist_ok=True)
    example_utils.save_results(
        args, results, markdown, (), STARTED, private=("cache_dir",)
    )
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
