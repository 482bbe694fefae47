"""Early and late stochastic depth on a small ViT, paired by seed.

Liu et al. (2023), "Dropout Reduces Underfitting", report that dropout (and
stochastic depth) used only in the first part of training -- early -- helps
models that underfit, and that used only in the last part -- late -- helps
models that overfit. This script checks the second half on a small vision
transformer fine-tuned on few labels, a model that overfits: it fits its
training images perfectly.

A KerasHub `ViTBackbone` (16x16 images, patches of 4, 4 blocks of width 32,
random initialization) is pretrained here on scikit-learn's digits 0-4,
each shown at four rotations (the label is the digit and the rotation, as
for the transfer demo's small ResNet), and cached. It is then fine-tuned,
whole, with a new softmax layer on its class token, on the digits 5-9,
never seen in pretraining, with `--labels-per-class` labelled images per
class; every other image of 5-9 is the validation set. Four variants, by
`kerasdrop.experiments.compare` (per seed: the same initial weights, the
same batches in the same order):

- none: no stochastic depth;
- standard: `kerasdrop.add_stochastic_depth(backbone, rate)`, a DropPath on
  the attention and MLP branches of every block, its rate rising linearly
  with depth from 0 to `--rate` at the last branch, throughout training;
- early: the same profile for the first `--cutoff` epochs, then off
  (`DropoutScheduler(EarlyDropout(1.0, cutoff), relative=True)`: the
  schedule scales every branch's rate, so the profile is kept);
- late: off for the first `--cutoff` epochs, then the profile
  (`LateDropout(1.0, cutoff)`).

The verdict is the library's: "reproduced" or "contradicted" only when the
95% Student t interval of the paired mean difference to `none` over the
seeds excludes zero. It writes `results.json`, `results.md` and a figure.

`--preset vit_base_patch16_224_imagenet` (or another KerasHub ViT preset)
fine-tunes a pretrained ViT from KerasHub instead of the small one; that
downloads the weights once, so it needs a network, and it is far slower.

Run (about 5 minutes of CPU time on two cores, the pretraining of the
small ViT included, which only the first run does: 314 s of CPU and 490 s
of wall time measured on a busy shared 2-core machine):

    python examples/vit_stochastic_depth.py --docs-images
"""

import time

STARTED = time.perf_counter()  # The wall time reported includes imports.

import os
import sys

import example_args

NAME = "vit_stochastic_depth"
VARIANTS = ("none", "standard", "early", "late")
# `--quick`: every code path in seconds -- a ViT of one block, two epochs
# (early stochastic depth is on for the first, late for the second) --
# pretrained into the quick run's own folder, so the cached backbone of
# full runs is left alone.
QUICK = {"seeds": 2, "epochs": 2, "num_layers": 1, "pretrain_epochs": 1}


def parse_args(argv=None):
    parser = example_args.make_parser(__doc__)
    parser.add_argument(
        "--preset",
        default=None,
        help="a KerasHub ViTBackbone preset to fine-tune, e.g. "
        "vit_base_patch16_224_imagenet, downloaded once: needs a network "
        "(default: none, the small ViT pretrained here on digits 0-4)",
    )
    small = parser.add_argument_group("the small ViT (ignored with --preset)")
    small.add_argument(
        "--image-size", type=int, default=16, help="height and width"
    )
    small.add_argument("--patch-size", type=int, default=4, help="patch side")
    small.add_argument(
        "--num-layers", type=int, default=4, help="transformer blocks"
    )
    small.add_argument(
        "--hidden-dim", type=int, default=32, help="width of the tokens"
    )
    small.add_argument(
        "--num-heads", type=int, default=2, help="attention heads"
    )
    small.add_argument(
        "--mlp-dim", type=int, default=64, help="hidden units of each MLP"
    )
    small.add_argument(
        "--pretrain-epochs",
        type=int,
        default=40,
        help="epochs of the pretraining on digits 0-4, if not cached",
    )
    example_args.add_cache_dir_argument(parser, backbone="small ViT")
    parser.add_argument(
        "--labels-per-class",
        type=int,
        default=20,
        help="labelled training images of each digit 5-9",
    )
    parser.add_argument(
        "--seeds", type=int, default=5, help="paired seeds of every variant"
    )
    example_args.add_training_arguments(
        parser, 30, 20, 1e-3, epochs_help="epochs of fine-tuning"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.1,
        help="drop-path rate of the deepest branch (linear in depth from 0)",
    )
    parser.add_argument(
        "--cutoff",
        type=int,
        default=None,
        help="epoch where early stochastic depth stops and late starts "
        "(default: epochs // 4, at least 1)",
    )
    example_args.add_output_arguments(parser, NAME)
    args = example_args.parse_paired(parser, argv, NAME, QUICK)
    if args.cutoff is None:
        args.cutoff = max(args.epochs // 4, 1)
    if not 0 < args.cutoff < args.epochs:
        parser.error(
            f"--cutoff must be between 1 and epochs - 1 = {args.epochs - 1}"
        )
    example_args.use_quick_cache_dir(args)
    return args


if __name__ == "__main__":
    # `--help` and mistyped flags answer here, before TensorFlow loads.
    parse_args(sys.argv[1:])

import logging
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Every run builds and traces a new model, which TensorFlow would warn
# about as "retracing".
logging.getLogger("tensorflow").setLevel(logging.ERROR)

import example_tables
import example_utils
import keras
import keras_hub
import numpy as np

import kerasdrop
from kerasdrop import schedules
from kerasdrop import transfer
from kerasdrop.experiments import Variant

# The ViT's own dropout layers (at rate 0 here) are Keras's: the scheduler
# says it cannot drive them, which is as meant (it drives the DropPaths).
warnings.filterwarnings("ignore", message="DropoutScheduler cannot change")

# Predictions for the per-epoch accuracies are made this many images at a
# time (a preset's 224x224 images do not fit in one call).
EVAL_BATCH_SIZE = 256


# ---------------------------------------------------------------------------
# The backbone. The small ViT is pretrained offline on the source task of
# `kerasdrop.transfer.source_task` (digits 0-4 at four rotations, 20
# classes), with random shifts of up to 10%, and cached as a `.keras` file
# whose name holds every setting that changes its weights. A preset is
# KerasHub's, with the image converter of that preset.
# ---------------------------------------------------------------------------


def small_vit_config(args):
    return {
        "image_shape": (args.image_size, args.image_size, 1),
        "patch_size": args.patch_size,
        "num_layers": args.num_layers,
        "num_heads": args.num_heads,
        "hidden_dim": args.hidden_dim,
        "mlp_dim": args.mlp_dim,
        "dropout_rate": 0.0,
    }


def small_vit_path(args, seed=0):
    cache_dir = args.cache_dir or transfer.default_cache_dir()
    name = (
        f"vit_digits0-4_rot4_{args.image_size}px_p{args.patch_size}"
        f"_l{args.num_layers}_d{args.hidden_dim}_h{args.num_heads}"
        f"_m{args.mlp_dim}_e{args.pretrain_epochs}_seed{seed}.keras"
    )
    return os.path.join(os.path.expanduser(cache_dir), name)


def pretrain_small_vit(args, seed=0):
    """The small ViT trained on the source task, and its accuracy on the
    held-out fifth of the source images (every rotation of an image on the
    same side)."""
    keras.utils.set_random_seed(seed)
    images, labels, index = transfer.source_task(args.image_size)
    originals = index.max() + 1
    held_out = np.random.default_rng(seed).permutation(originals)
    held_out = np.isin(index, held_out[: originals // 5])
    backbone = keras_hub.models.ViTBackbone(**small_vit_config(args))
    inputs = keras.Input(images.shape[1:], name="image")
    x = transfer.random_shift(seed=seed)(inputs)
    outputs = keras.layers.Dense(
        int(labels.max()) + 1, activation="softmax", name="source_output"
    )(backbone(x)[:, 0])  # The class token.
    model = keras.Model(inputs, outputs, name="small_vit_pretraining")
    steps = int((~held_out).sum()) // 64
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        # One compiled call per epoch.
        steps_per_execution=example_utils.steps_per_call(steps),
    )
    model.fit(
        images[~held_out],
        labels[~held_out],
        batch_size=64,
        epochs=args.pretrain_epochs,
        steps_per_epoch=steps,
        verbose=2,
    )
    _, accuracy = model.evaluate(
        images[held_out], labels[held_out], batch_size=512, verbose=0
    )
    return backbone, float(accuracy)


def pretrained_small_vit(args):
    """`(backbone, pretraining summary)`, from the cache or pretrained."""
    path = small_vit_path(args)
    if os.path.exists(path):
        print(f"Loading the pretrained small ViT from {path}")
        backbone = keras.saving.load_model(path, compile=False)
        return backbone, {"path": path, "cached": True}
    print(
        f"No pretrained small ViT at {path}: pretraining it on the digits "
        f"0-4 at four rotations ({args.pretrain_epochs} epochs)."
    )
    started = time.perf_counter()
    backbone, accuracy = pretrain_small_vit(args)
    seconds = time.perf_counter() - started
    print(
        "Source-task accuracy (digit and rotation) on held-out images: "
        f"{accuracy:.3f} ({seconds:.0f} s)"
    )
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # Written under another name, then renamed: a concurrent reader never
    # sees half a file.
    temporary = f"{path[: -len('.keras')]}.{os.getpid()}.tmp.keras"
    backbone.save(temporary)
    os.replace(temporary, path)
    return backbone, {
        "path": path,
        "cached": False,
        "source_accuracy": accuracy,
        "seconds": seconds,
    }


def load_backbone(args):
    """`(backbone, preprocess, pretraining summary)`.

    `preprocess` maps images in [0, 1] (height, width and channels the
    backbone's) to its inputs.
    """
    if args.preset is None:
        backbone, summary = pretrained_small_vit(args)
        return backbone, lambda images: images, summary
    backbone = keras_hub.models.ViTBackbone.from_preset(args.preset)
    converter = keras_hub.layers.ViTImageConverter.from_preset(args.preset)

    def preprocess(images):
        # The converter takes pixel values in [0, 255], as the preset's
        # training images were.
        return keras.ops.convert_to_numpy(converter(images * 255.0))

    return backbone, preprocess, {"preset": args.preset}


def load_target(backbone, preprocess, labels_per_class):
    """Digits 5-9 at the backbone's input shape: labelled and validation
    rows (the same split for every seed)."""
    height, width, channels = backbone.image_shape
    images, labels = transfer.load_digits_images(
        transfer.TARGET_CLASSES, image_size=height, channels=channels
    )
    images = np.asarray(preprocess(images), dtype="float32")
    train, validation = transfer.few_shot_split(labels, labels_per_class)
    return (images[train], labels[train]), (
        images[validation],
        labels[validation],
    )


# ---------------------------------------------------------------------------
# The classifier. Every run builds the backbone anew from its config and
# the pretrained weights (held in memory), puts DropPath on its branches
# with `add_stochastic_depth` -- the same layers in every variant, so
# `compare` gives every variant of a seed the same initial weights -- and a
# softmax layer on the class token. A variant changes only the rates.
# ---------------------------------------------------------------------------


class HeldOutAccuracy(keras.callbacks.Callback):
    """Writes `val_accuracy`, `val_loss` and `train_accuracy` (on the
    labelled images, in inference mode: without stochastic depth, so the
    variants compare on the same footing) into `logs` after every epoch.

    A few `predict_on_batch` calls cost far less than `fit`'s
    `validation_data` for a model this small.
    """

    def __init__(self, train, validation):
        super().__init__()
        self.train, self.validation = train, validation

    def _probabilities(self, x):
        return np.concatenate(
            [
                np.asarray(
                    self.model.predict_on_batch(x[i : i + EVAL_BATCH_SIZE])
                )
                for i in range(0, len(x), EVAL_BATCH_SIZE)
            ]
        )

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for prefix, (x, y) in (("train", self.train), ("val", self.validation)):
            accuracy, loss = example_utils.accuracy_and_loss(
                self._probabilities(x), y
            )
            logs[f"{prefix}_accuracy"] = accuracy
            if prefix == "val":
                logs["val_loss"] = loss


def model_builder(args, backbone, num_classes, steps):
    """`build_model(seed)` for `compare`: the compiled classifier."""
    config = backbone.get_config()
    weights = backbone.get_weights()
    backbone_class = type(backbone)

    def build_model(seed):
        fresh = backbone_class.from_config(config)
        fresh.set_weights(weights)
        deep = kerasdrop.add_stochastic_depth(
            fresh, rate=args.rate, profile="linear", seed=seed
        )
        inputs = keras.Input(fresh.image_shape, name="image")
        outputs = keras.layers.Dense(
            num_classes,
            activation="softmax",
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
            name="classifier",
        )(deep(inputs)[:, 0])  # The class token.
        model = keras.Model(inputs, outputs, name="vit_classifier")
        model.compile(
            optimizer=keras.optimizers.Adam(args.learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            # One compiled call per epoch.
            steps_per_execution=example_utils.steps_per_call(steps),
        )
        return model

    return build_model


def variants(args, evaluation):
    """The four variants; `none` is the reference. `evaluation()` returns
    the callback that logs the held-out accuracies of a run."""

    def callbacks(schedule=None):
        def make():
            made = [evaluation()]
            if schedule is not None:
                # `relative=True`: the schedule is a factor of each
                # branch's rate, so the profile over depth is kept.
                made.insert(
                    0,
                    kerasdrop.callbacks.DropoutScheduler(
                        schedule, relative=True
                    ),
                )
            return made

        return make

    return [
        Variant("none", rate=0.0, callbacks=callbacks()),
        # The rates as built, throughout.
        Variant("standard", callbacks=callbacks()),
        Variant(
            "early",
            callbacks=callbacks(
                schedules.EarlyDropout(1.0, cutoff=args.cutoff)
            ),
        ),
        Variant(
            "late",
            callbacks=callbacks(schedules.LateDropout(1.0, cutoff=args.cutoff)),
        ),
    ]


def deepest_rate(variant, args, epoch):
    """The drop-path rate of the deepest branch at `epoch` (0-based)."""
    factor = {
        "none": 0.0,
        "standard": 1.0,
        "early": float(epoch < args.cutoff),
        "late": float(epoch >= args.cutoff),
    }[variant]
    return factor * args.rate


# ---------------------------------------------------------------------------
# Summary, table and figure.
# ---------------------------------------------------------------------------


def summarize(result):
    summary = {}
    for variant in result.variants:
        row = {
            "val_accuracy": example_utils.mean_std(
                result.values(variant, "val_accuracy")
            ),
            "val_loss": example_utils.mean_std(
                result.values(variant, "val_loss")
            ),
            "train_accuracy": example_utils.mean_std(
                result.history(variant, "train_accuracy")[:, -1]
            ),
        }
        if variant != result.reference:
            for metric in ("val_accuracy", "val_loss"):
                difference = result.differences[variant][metric]
                row[f"{metric}_vs_none"] = difference
                row[f"{metric}_verdict"] = difference["verdict"]
        summary[variant] = row
    return summary


def plot(result, args, path):
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(10, 7))
    epochs = np.arange(1, args.epochs + 1)
    panels = (
        (axes[0, 0], "val_accuracy", "validation accuracy"),
        (axes[0, 1], "train_accuracy", "training accuracy (no drop path)"),
    )
    for axis, metric, label in panels:
        for index, variant in enumerate(result.variants):
            example_utils.plot_mean_band(
                axis,
                epochs,
                result.history(variant, metric),
                variant,
                example_utils.line_style(index, len(epochs)),
            )
        axis.set_xlabel("epoch")
        axis.set_ylabel(label)
        axis.set_title(label)
        axis.legend()
        example_utils.integer_epochs(axis)
    axis = axes[1, 0]
    # Lifted a little per variant: the schedules share their values.
    lift = 0.03 * args.rate
    for index, variant in enumerate(result.variants):
        style = example_utils.line_style(index, len(epochs))
        axis.step(
            epochs,
            [deepest_rate(variant, args, e) + index * lift for e in epochs - 1],
            where="mid",
            label=variant,
            **style,
        )
    axis.set_xlabel("epoch")
    axis.set_ylabel("drop-path rate of the deepest branch")
    axis.set_title("schedules (lifted apart; rates rise with depth)")
    axis.set_ylim(-0.05 * args.rate, 1.4 * args.rate)
    axis.legend(ncol=2)
    example_utils.integer_epochs(axis)
    axis = axes[1, 1]
    compared = [v for v in result.variants if v != result.reference]
    for index, variant in enumerate(compared, start=1):
        d = result.differences[variant]["val_accuracy"]
        style = example_utils.line_style(index, 2)
        points = np.asarray(d["differences"])
        axis.scatter(
            np.full(len(points), index) + np.linspace(-0.1, 0.1, len(points)),
            points,
            color=style["color"],
            marker=style["marker"],
            alpha=0.6,
            label=f"{variant}: per seed",
        )
        axis.errorbar(
            index + 0.25,
            d["mean"],
            yerr=[[d["mean"] - d["ci_low"]], [d["ci_high"] - d["mean"]]],
            color=style["color"],
            marker="_",
            markersize=14,
            capsize=4,
        )
    axis.axhline(0.0, color="grey", linewidth=1, linestyle=":")
    axis.set_xticks(range(1, len(compared) + 1), compared)
    axis.set_xlabel("variant (bar: mean and 95% t interval)")
    axis.set_ylabel("final validation accuracy - none's")
    axis.set_title("paired differences to none")
    axis.legend(fontsize="small")
    figure.suptitle(
        f"Small ViT fine-tuned on digits 5-9: mean ± std over "
        f"{len(result.seeds)} seeds"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    backbone, preprocess, pretraining = load_backbone(args)
    train, validation = load_target(backbone, preprocess, args.labels_per_class)
    steps = len(train[0]) // args.batch_size
    print(
        f"Fine-tuning on {len(train[0])} labelled images of the digits 5-9 "
        f"({len(validation[0])} for validation), {args.epochs} epochs, "
        f"{args.seeds} seeds; stochastic depth up to rate {args.rate}, "
        f"cutoff at epoch {args.cutoff}.",
        flush=True,
    )
    result = kerasdrop.experiments.compare(
        model_builder(args, backbone, len(transfer.TARGET_CLASSES), steps),
        variants(args, lambda: HeldOutAccuracy(train, validation)),
        train[0],
        train[1],
        seeds=range(args.seeds),
        epochs=args.epochs,
        batch_size=args.batch_size,
        metrics={"val_accuracy": "max", "val_loss": "min"},
        verbose=2,
    )
    summary = summarize(result)
    # The rows the documentation shows, made by the same function.
    text = "\n".join(
        example_tables.vit_stochastic_depth_table({"summary": summary})
    )
    closing = example_utils.verdict_line(
        {
            variant: row["val_accuracy_vs_none"]
            for variant, row in summary.items()
            if "val_accuracy_vs_none" in row
        },
        "none (final validation accuracy)",
    )
    print(text)
    print(closing)
    figure = os.path.join(args.output_dir, "vit_stochastic_depth.png")
    plot(result, args, figure)
    results = {
        "pretraining": pretraining,
        "num_train": len(train[0]),
        "num_validation": len(validation[0]),
        "summary": summary,
        "experiment": result.to_dict(),
    }
    markdown = "\n\n".join([text, closing, result.to_markdown()])
    example_utils.save_results(args, results, markdown, [figure], STARTED)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
