"""Benchmark: DropBlock2D and EmbeddingDropout against the same models
without dropout and with Keras's nearest layers.

Times one training epoch of two small models, each built several ways from
the same seed and timed interleaved in one process:

- a convolutional network, `Conv2D -> [dropout] -> Conv2D -> [dropout] ->
  pooling -> Dense`, with no dropout, with `keras.layers.SpatialDropout2D`
  (Keras's structured dropout for feature maps) and with
  `kerasdrop.DropBlock2D`;
- a bag-of-embeddings classifier, `Embedding -> [dropout] -> pooling ->
  Dense`, with a plain `keras.layers.Embedding`, with `Embedding` followed
  by `keras.layers.Dropout` (units of the embedded sequence), and with
  `kerasdrop.EmbeddingDropout` (whole words per sequence).

Both models are small, so the dropout is a large share of each step: the
ratios are an upper bound for larger models. Prints median epoch times and
the ratios to the model without dropout and to the Keras variant.

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

import kerasdrop


def build_conv(dropout_factory, args, seed=0):
    keras.utils.set_random_seed(seed)
    size = args.image_size
    layers = [keras.Input((size, size, 3))]
    for _ in range(2):
        layers.append(
            keras.layers.Conv2D(
                args.filters, 3, padding="same", activation="relu"
            )
        )
        if dropout_factory is not None:
            layers.append(dropout_factory())
    layers += [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)]
    return classifier(layers, seed)


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
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--image-size", type=int, default=28)
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--block-size", type=int, default=5)
    parser.add_argument("--sequences", type=int, default=4096)
    parser.add_argument("--sequence-length", type=int, default=128)
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
    images = rng.standard_normal((args.images, size, size, 3))
    images = images.astype("float32")
    image_labels = rng.integers(0, 10, args.images)
    ids = rng.integers(
        1, args.vocabulary, (args.sequences, args.sequence_length)
    ).astype("int32")
    id_labels = rng.integers(0, 2, args.sequences)

    conv = {
        "no dropout": build_conv(None, args),
        "keras.layers.SpatialDropout2D": build_conv(
            lambda: keras.layers.SpatialDropout2D(args.rate), args
        ),
        "DropBlock2D": build_conv(
            lambda: kerasdrop.DropBlock2D(
                args.rate, block_size=args.block_size
            ),
            args,
        ),
    }
    vocabulary, dim = args.vocabulary, args.embedding_dim
    words = {
        "Embedding (no dropout)": build_bag_of_words(
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
    times = time_interleaved(runs, args.rounds)
    conv_rows = summarize({k: times[k] for k in conv}, "no dropout")
    conv_vs_keras = summarize(
        {k: times[k] for k in list(conv)[1:]}, "keras.layers.SpatialDropout2D"
    )
    word_rows = summarize(
        {k: times[k] for k in words}, "Embedding (no dropout)"
    )
    word_vs_keras = summarize(
        {k: times[k] for k in list(words)[1:]},
        "Embedding + keras.layers.Dropout",
    )
    print(
        f"One epoch each, batch {args.batch_size}, rate {args.rate}, "
        f"{args.rounds} interleaved rounds, backend "
        f"{keras.backend.backend()}. Conv: {args.images} images "
        f"{size}x{size}x3, 2 x Conv2D({args.filters}), block size "
        f"{args.block_size}. Words: {args.sequences} sequences of "
        f"{args.sequence_length} ids, vocabulary {args.vocabulary}, "
        f"embedding {args.embedding_dim}."
    )
    print_table("Conv model: ratio to no dropout", conv_rows)
    print_table("Conv model: ratio to SpatialDropout2D", conv_vs_keras)
    print_table("Bag of words: ratio to plain Embedding", word_rows)
    print_table("Bag of words: ratio to Embedding + Dropout", word_vs_keras)
    write_results(
        args.output,
        {
            "conv": conv_rows,
            "conv_vs_keras": conv_vs_keras,
            "words": word_rows,
            "words_vs_keras": word_vs_keras,
        },
        vars(args),
    )
    return conv_rows, word_rows


if __name__ == "__main__":
    main()
