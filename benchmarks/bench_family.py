"""Benchmark: DropBlock2D and EmbeddingDropout against the same models
without dropout and with Keras's nearest layers.

Times one training epoch of two small models, each built several ways from
the same seed and timed interleaved in one process, in wall time and in
this process's CPU time:

- a convolutional network on 32x32x16 inputs, three `Conv2D(32, 3)` layers
  each followed by the dropout, pooling and `Dense`, batch 64: with no
  dropout, a second copy of that model (the A/A control: its ratio to the
  first shows how far two identical models' times differ in this run),
  `keras.layers.SpatialDropout2D` (Keras's structured dropout for feature
  maps), `kerasdrop.DropBlock2D`, a layer that only draws one random
  number per unit (the floor of any per-unit mask, DropBlock's included),
  `DropBlock2D(couple_channels=True)`, and
  keras-cv's `DropBlock2D` when `keras_cv` imports and its layer runs in a
  compiled `fit` (keras-cv 0.9 calls `int()` on a symbolic tensor there
  under Keras 3.15; the row is then left out and the error printed);
- a bag-of-embeddings classifier, `Embedding -> [dropout] -> pooling ->
  Dense`, vocabulary 20,000, batches of 64 sequences of 70 ids: a plain
  `keras.layers.Embedding`, its A/A copy, `Embedding` followed by
  `keras.layers.Dropout` (units of the embedded sequence), and
  `kerasdrop.EmbeddingDropout` (whole words per sequence).

The models are small, so the dropout is a large share of each step: the
ratios are an upper bound for larger models. Epochs must be long enough
for the A/A ratios to stay within a few percent of 1; otherwise the run
cannot resolve the goals (DropBlock2D <= 1.10x SpatialDropout2D,
EmbeddingDropout <= 1.05x Embedding).

    python benchmarks/bench_family.py
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import print_table  # noqa: I001
from common import classifier
from common import summarize
from common import time_interleaved
from common import write_results

import keras
import numpy as np
from keras import ops

import kerasdrop


def build_conv(dropout_factory, args, seed=0):
    keras.utils.set_random_seed(seed)
    size = args.image_size
    layers = [keras.Input((size, size, args.channels))]
    for _ in range(args.conv_layers):
        layers.append(
            keras.layers.Conv2D(
                args.filters, 3, padding="same", activation="relu"
            )
        )
        if dropout_factory is not None:
            layers.append(dropout_factory())
    layers += [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)]
    return classifier(layers, seed)


class OneDrawPerUnit(keras.layers.Layer):
    """A floor for any mask with one random number per unit: draws them
    and multiplies by a mask that keeps every unit (no pooling, no
    counting). What a per-unit DropBlock costs above this is its own."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(0)

    def call(self, inputs, training=False):
        if not training:
            return inputs
        noise = keras.random.uniform(
            ops.shape(inputs), seed=self.seed_generator
        )
        return inputs * ops.cast(noise >= 0.0, inputs.dtype)


def keras_cv_drop_block(args):
    """keras-cv's `DropBlock2D` factory, or the reason it cannot be timed."""
    try:
        import keras_cv

        def factory():
            return keras_cv.layers.DropBlock2D(
                args.rate, block_size=args.block_size
            )

        model = build_conv(factory, args)
        size = args.image_size
        x = np.zeros((2, size, size, args.channels), "float32")
        model.fit(x, np.zeros(2), batch_size=2, epochs=1, verbose=0)
    except Exception as error:  # noqa: BLE001 -- any failure leaves it out
        return None, f"{type(error).__name__}: {error}".splitlines()[0]
    return factory, None


def build_bag_of_words(embedding_factory, args, seed=0):
    return classifier(
        [
            keras.Input((args.sequence_length,), dtype="int32"),
            *embedding_factory(),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(2),
        ],
        seed,
    )


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--rate", type=float, default=0.1)
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--conv-layers", type=int, default=3)
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--block-size", type=int, default=5)
    parser.add_argument("--sequences", type=int, default=8192)
    parser.add_argument("--sequence-length", type=int, default=70)
    parser.add_argument("--vocabulary", type=int, default=20000)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--output",
        default=os.path.join(
            os.path.dirname(__file__), "results", "family.json"
        ),
    )
    return parser.parse_args(argv)


def fitter(model, x, y, batch_size):
    def run():
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)

    return run


def main(argv=None):
    args = parse_args(argv)
    rng = np.random.default_rng(0)
    size = args.image_size
    images = rng.standard_normal((args.images, size, size, args.channels))
    images = images.astype("float32")
    image_labels = rng.integers(0, 10, args.images)
    ids = rng.integers(
        1, args.vocabulary, (args.sequences, args.sequence_length)
    ).astype("int32")
    id_labels = rng.integers(0, 2, args.sequences)

    conv = {
        "no dropout": build_conv(None, args),
        "no dropout (A/A copy)": build_conv(None, args),
        "keras.layers.SpatialDropout2D": build_conv(
            lambda: keras.layers.SpatialDropout2D(args.rate), args
        ),
        "DropBlock2D": build_conv(
            lambda: kerasdrop.DropBlock2D(
                args.rate, block_size=args.block_size
            ),
            args,
        ),
        "one random number per unit (floor)": build_conv(OneDrawPerUnit, args),
        "DropBlock2D(couple_channels=True)": build_conv(
            lambda: kerasdrop.DropBlock2D(
                args.rate, block_size=args.block_size, couple_channels=True
            ),
            args,
        ),
    }
    keras_cv_factory, keras_cv_error = keras_cv_drop_block(args)
    if keras_cv_factory is not None:
        conv["keras_cv DropBlock2D"] = build_conv(keras_cv_factory, args)
    vocabulary, dim = args.vocabulary, args.embedding_dim
    words = {
        "Embedding (no dropout)": build_bag_of_words(
            lambda: [keras.layers.Embedding(vocabulary, dim)], args
        ),
        "Embedding (A/A copy)": build_bag_of_words(
            lambda: [keras.layers.Embedding(vocabulary, dim)], args
        ),
        "Embedding + keras.layers.Dropout": build_bag_of_words(
            lambda: [
                keras.layers.Embedding(vocabulary, dim),
                keras.layers.Dropout(args.rate),
            ],
            args,
        ),
        "EmbeddingDropout": build_bag_of_words(
            lambda: [kerasdrop.EmbeddingDropout(vocabulary, dim, args.rate)],
            args,
        ),
    }
    runs = {
        name: fitter(model, images, image_labels, args.batch_size)
        for name, model in conv.items()
    }
    runs.update(
        {
            name: fitter(model, ids, id_labels, args.batch_size)
            for name, model in words.items()
        }
    )
    cpu = {}
    wall = time_interleaved(runs, args.rounds, cpu_times=cpu)
    print(
        f"One epoch each, batch {args.batch_size}, rate {args.rate}, "
        f"{args.rounds} interleaved rounds, backend "
        f"{keras.backend.backend()}. Conv: {args.images} images "
        f"{size}x{size}x{args.channels}, {args.conv_layers} x "
        f"Conv2D({args.filters}), block size {args.block_size}. Words: "
        f"{args.sequences} sequences of {args.sequence_length} ids, "
        f"vocabulary {args.vocabulary}, embedding {args.embedding_dim}."
    )
    if keras_cv_error:
        print(f"keras-cv's DropBlock2D left out: {keras_cv_error}")
    results = {}
    for clock, times in (("wall", wall), ("cpu", cpu)):
        tables = {
            "conv": ({k: times[k] for k in conv}, "no dropout"),
            "conv_vs_keras": (
                {k: times[k] for k in list(conv)[2:]},
                "keras.layers.SpatialDropout2D",
            ),
            "words": ({k: times[k] for k in words}, "Embedding (no dropout)"),
            "words_vs_keras": (
                {k: times[k] for k in list(words)[2:]},
                "Embedding + keras.layers.Dropout",
            ),
        }
        titles = {
            "conv": "Conv model: ratio to no dropout",
            "conv_vs_keras": "Conv model: ratio to SpatialDropout2D",
            "words": "Bag of words: ratio to plain Embedding",
            "words_vs_keras": "Bag of words: ratio to Embedding + Dropout",
        }
        goals = {
            "conv_vs_keras": {"DropBlock2D": "<= 1.10"},
            "words": {"EmbeddingDropout": "<= 1.05"},
        }
        for key, (variants, baseline) in tables.items():
            rows = summarize(variants, baseline)
            results[f"{clock}_{key}"] = rows
            print_table(f"{titles[key]} ({clock} time)", rows, goals.get(key))
    write_results(args.output, results, vars(args))
    return results


if __name__ == "__main__":
    main()
