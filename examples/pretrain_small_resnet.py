"""Pretraining the offline backbone: a small ResNet on digits 0-4.

`examples/transfer_resnet_head.py` needs a pretrained ResNet but must run
offline, so kerasdrop pretrains its own: `kerasdrop.transfer.small_resnet`
(a 3x3 stem and three stages of basic residual blocks with BatchNorm, 16, 32
and 64 channels), trained on scikit-learn's digits 0-4 upscaled to 32x32.
Each image is shown at four rotations and the label is (digit, rotation),
20 classes: learning the rotation too keeps the features from collapsing
onto five classes, so they transfer better to the digits 5-9 of the target
task. Random shifts of up to 10% augment the images. One fifth of the source
images is held out to report the source accuracy.

The result is cached as a `.keras` file in `~/.cache/kerasdrop` (or
`$KERASDROP_CACHE_DIR`, or `--cache-dir`), under a name that holds the
settings. The demo calls the same function when the file is missing, so
running this script first is optional. With the same seed, the weights are
the same on every run on the same machine (`keras.utils.set_random_seed`).

Run (well under a minute on two CPU cores):

    python examples/pretrain_small_resnet.py
"""

import os
import sys
import time

import example_args

NAME = "pretrain_small_resnet"


def parse_args(argv=None):
    parser = example_args.make_parser(__doc__)
    parser.add_argument(
        "--cache-dir",
        default=None,
        help="folder of the cached backbone (default: $KERASDROP_CACHE_DIR "
        "or ~/.cache/kerasdrop; with --quick, "
        f"examples/results/{NAME}-quick)",
    )
    parser.add_argument(
        "--image-size", type=int, default=32, help="height and width"
    )
    parser.add_argument(
        "--epochs", type=int, default=4, help="epochs of pretraining"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of weights and batches"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="pretrain again even if the cached file exists",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one epoch, cached in its own folder, not the cache of full "
        "runs (a smoke test; explicit flags still override it)",
    )
    args = parser.parse_args(argv)
    if args.quick:  # Parsed again, so explicit flags override `--quick`.
        parser.set_defaults(epochs=1)
        args = parser.parse_args(argv)
        if args.cache_dir is None:
            args.cache_dir = example_args.default_output_dir(NAME, quick=True)
    return args


if __name__ == "__main__":
    # `--help` and mistyped flags answer here, before TensorFlow loads.
    parse_args(sys.argv[1:])

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from kerasdrop import transfer


def main(argv=None):
    args = parse_args(argv)
    path = transfer.small_resnet_path(
        args.cache_dir,
        image_size=args.image_size,
        epochs=args.epochs,
        seed=args.seed,
    )
    if args.force and os.path.exists(path):
        os.remove(path)
    started = time.perf_counter()
    # Loads the cached file, or pretrains (one line per epoch) and saves it.
    backbone = transfer.pretrained_small_resnet(
        cache_dir=args.cache_dir,
        image_size=args.image_size,
        epochs=args.epochs,
        seed=args.seed,
    )
    print(
        f"Small ResNet ready: {backbone.count_params():,} parameters, "
        f"output {tuple(backbone.outputs[0].shape[1:])}, "
        f"{time.perf_counter() - started:.1f} s"
    )
    print(f"Cached at {path}")
    if args.quick:
        print(example_args.QUICK_NOTE)
    return path


if __name__ == "__main__":
    main(sys.argv[1:])
