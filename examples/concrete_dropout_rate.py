"""Concrete dropout learns less dropout from more data.

Gal, Hron and Kendall (2017, "Concrete Dropout", Fig. 2 and the reference
notebook of github.com/yaringal/ConcreteDropout) fit a small network with a
learned dropout rate in every layer to a synthetic regression,
`y = 2 x + 8 + noise` with unit noise, for training sets of 10 to 10,000
points. The regularizer of concrete dropout is weighted by `1 / N`
(`weight_regularizer = l**2 / N`, `dropout_regularizer = 2 / N`), so with
few points the entropy term keeps the rates high -- the model is unsure of
its weights -- and with many the data term drives them down.

This script repeats the experiment with `kerasdrop.ConcreteDropout`, smaller
(hidden layers of `--width` units instead of 1024, and the same number of
gradient steps for every size instead of the paper's epochs), so it runs
offline in a few minutes on two CPU cores. The network is the reference's:
three hidden ReLU layers and two heads, a mean and a log-variance (the
observation noise), each layer wrapped in `ConcreteDropout`, trained with
the heteroscedastic Gaussian loss. It prints, and writes to `results.md`
and `results.json`, the learned rate of every layer for each training-set
size, averaged over `--repeats` runs.

    python examples/concrete_dropout_rate.py
"""

import time

STARTED = time.perf_counter()  # The wall time reported includes imports.

import os
import sys

import example_args

NAME = "concrete_dropout_rate"
# Overrides of the defaults for `--quick`: every code path, in seconds.
QUICK = {"sizes": "20,2000", "steps": 100, "width": 16, "repeats": 1}


def parse_args(argv=None):
    parser = example_args.make_parser(__doc__)
    parser.add_argument(
        "--sizes",
        default="10,100,1000,10000",
        help="training-set sizes N, comma separated",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=1500,
        help="gradient steps for every training-set size",
    )
    parser.add_argument(
        "--batch-size", type=int, default=20, help="rows per batch"
    )
    parser.add_argument(
        "--width", type=int, default=64, help="units of each hidden layer"
    )
    parser.add_argument(
        "--learning-rate", type=float, default=3e-3, help="of Adam"
    )
    parser.add_argument(
        "--length-scale", type=float, default=1e-4, help="prior l"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="runs per size, with seeds --seed, --seed + 1, ...",
    )
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    example_args.add_output_arguments(parser, NAME, docs_images=False)
    return example_args.parse(parser, argv, NAME, QUICK)


if __name__ == "__main__":
    # `--help` and mistyped flags answer here, before TensorFlow loads.
    parse_args(sys.argv[1:])

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import example_utils
import keras
import numpy as np
from keras import ops

import kerasdrop

# The reference's layers: three hidden layers, then the two heads.
LAYERS = ("hidden_1", "hidden_2", "hidden_3", "mean", "log_variance")


# ---------------------------------------------------------------------------
# Data: the reference's one-dimensional linear regression with unit noise.
# ---------------------------------------------------------------------------


def make_data(num_samples, rng):
    x = rng.standard_normal((num_samples, 1))
    y = 2.0 * x + 8.0 + rng.standard_normal((num_samples, 1))
    return x.astype("float32"), y.astype("float32")


def heteroscedastic_loss(y_true, y_pred):
    """Gaussian negative log-likelihood (up to constants) of the two heads."""
    mean, log_variance = y_pred[:, :1], y_pred[:, 1:]
    precision = ops.exp(-log_variance)
    return ops.sum(
        precision * ops.square(y_true - mean) + log_variance, axis=-1
    )


# ---------------------------------------------------------------------------
# The model: every layer's inputs dropped with a learned rate. The
# regularizer weights come from N, the only thing that changes with N.
# ---------------------------------------------------------------------------


def build_model(num_samples, width, length_scale, learning_rate, seed):
    keras.utils.set_random_seed(seed)
    regularizers = kerasdrop.layers.concrete_dropout_regularizers(
        num_samples, length_scale=length_scale
    )

    def concrete(units, name, activation=None):
        return kerasdrop.ConcreteDropout(
            keras.layers.Dense(units, activation=activation),
            **regularizers,
            seed=seed + len(name),
            name=name,
        )

    inputs = keras.Input((1,))
    hidden = inputs
    for name in LAYERS[:3]:
        hidden = concrete(width, name, activation="relu")(hidden)
    mean = concrete(1, "mean")(hidden)
    log_variance = concrete(1, "log_variance")(hidden)
    outputs = keras.layers.Concatenate()([mean, log_variance])
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=heteroscedastic_loss,
    )
    return model


def learned_rates(num_samples, config, seed):
    """Trains on `num_samples` points; returns each layer's learned rate."""
    rng = np.random.default_rng(seed)
    x, y = make_data(num_samples, rng)
    model = build_model(
        num_samples,
        config.width,
        config.length_scale,
        config.learning_rate,
        seed,
    )
    # The same number of gradient steps for every N: passes over the data,
    # each in a new random order, laid end to end and cut into batches (one
    # `fit` epoch, so a small N does not pay Keras's per-epoch overhead a
    # thousand times).
    rows = config.steps * config.batch_size
    passes = -(-rows // num_samples)
    order = np.concatenate(
        [rng.permutation(num_samples) for _ in range(passes)]
    )[:rows]
    model.fit(
        x[order], y[order], batch_size=config.batch_size, epochs=1,
        verbose=0, shuffle=False,
    )  # fmt: skip
    rates = {name: model.get_layer(name).rate for name in LAYERS}
    keras.backend.clear_session(free_memory=False)
    return rates


# ---------------------------------------------------------------------------
# The experiment: rates for each N, averaged over the repeats.
# ---------------------------------------------------------------------------


def run(config):
    sizes = [int(size) for size in config.sizes.split(",")]
    results = {}
    for size in sizes:
        runs = [
            learned_rates(size, config, config.seed + repeat)
            for repeat in range(config.repeats)
        ]
        results[size] = {
            name: float(np.mean([run[name] for run in runs])) for name in LAYERS
        }
        print(
            f"N={size:6d}  "
            + "  ".join(f"{k}={v:.3f}" for k, v in results[size].items()),
            flush=True,
        )
    return sizes, results


def table(sizes, results):
    header = "| N | " + " | ".join(LAYERS) + " |"
    lines = [header, "|" + "---|" * (len(LAYERS) + 1)]
    for size in sizes:
        rates = " | ".join(f"{results[size][name]:.3f}" for name in LAYERS)
        lines.append(f"| {size} | {rates} |")
    return "\n".join(lines)


def main(argv=None):
    config = parse_args(argv)
    sizes, results = run(config)
    markdown = table(sizes, results)
    print()
    print(markdown)
    os.makedirs(config.output_dir, exist_ok=True)
    example_utils.save_results(
        config,
        {"rates": {str(size): results[size] for size in sizes}},
        markdown,
        figures=(),
        started=STARTED,
    )
    return {"sizes": sizes, "rates": results}


if __name__ == "__main__":
    main(sys.argv[1:])
