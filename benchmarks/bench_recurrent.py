"""Benchmark: recurrent dropout layers against Keras's LSTM.

Times one training epoch of the same small sequence classifier built eight
ways, interleaved in one process: Keras's `LSTM` without dropout, a second
identical copy of it (an A/A control: its ratio to the first is the noise
floor of the run), Keras's `LSTM(recurrent_dropout=0.25)`,
`kerasdrop.VariationalLSTM`, `kerasdrop.WeightDropLSTM`,
`kerasdrop.ZoneoutLSTM`, Keras's `GRU` and `kerasdrop.ZoneoutGRU`. Prints
median epoch times and their ratios to the plain LSTM (GRU: to the plain
GRU). Goals: `WeightDropLSTM`, `ZoneoutLSTM`
and `ZoneoutGRU` <= 1.10x the plain Keras layer; `VariationalLSTM` <= 1.10x
Keras's recurrent-dropout LSTM.

    python benchmarks/bench_recurrent.py

On a CPU, Keras's LSTM runs its fused step in a backend loop; on a GPU it
uses cuDNN, which `recurrent_dropout` disables and `WeightDropLSTM` keeps.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import add_sequence_arguments  # noqa: I001
from common import classifier
from common import print_table
from common import sequence_data
from common import summarize
from common import time_interleaved
from common import write_results

import keras

import kerasdrop

PLAIN = "keras LSTM"
SECOND_PLAIN = "keras LSTM, second copy (A/A control)"
KERAS_DROPOUT = "keras LSTM(recurrent_dropout)"
PLAIN_GRU = "keras GRU"


def build_model(recurrent_layer, timesteps, features, seed):
    return classifier(
        [
            keras.Input((timesteps, features)),
            recurrent_layer,
            keras.layers.Dense(10),
        ],
        seed,
    )


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_sequence_arguments(parser, rounds=30)
    parser.add_argument(
        "--output",
        default=os.path.join(
            os.path.dirname(__file__), "results", "recurrent.json"
        ),
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    x, y = sequence_data(args)
    units, rate = args.units, args.rate
    layers = {
        PLAIN: lambda: keras.layers.LSTM(units),
        # An A/A control: the ratio of two identical models is the noise
        # floor of the other ratios in this run.
        SECOND_PLAIN: lambda: keras.layers.LSTM(units),
        KERAS_DROPOUT: lambda: keras.layers.LSTM(units, recurrent_dropout=rate),
        "VariationalLSTM": lambda: kerasdrop.VariationalLSTM(
            units, input_rate=0.0, recurrent_rate=rate
        ),
        "WeightDropLSTM": lambda: kerasdrop.WeightDropLSTM(units, rate=rate),
        "ZoneoutLSTM": lambda: kerasdrop.ZoneoutLSTM(
            units, cell_rate=rate, hidden_rate=rate
        ),
        PLAIN_GRU: lambda: keras.layers.GRU(units),
        "ZoneoutGRU": lambda: kerasdrop.ZoneoutGRU(units, rate=rate),
    }

    def fitter(model):
        def run():
            model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0)

        return run

    runs = {
        name: fitter(
            build_model(factory(), args.timesteps, args.features, seed=0)
        )
        for name, factory in layers.items()
    }
    times = time_interleaved(runs, args.rounds)
    lstms = {name: times[name] for name in list(times)[:6]}
    to_plain = summarize(lstms, PLAIN)
    to_keras_dropout = summarize(
        {name: times[name] for name in list(lstms)[2:]}, KERAS_DROPOUT
    )
    grus = {name: times[name] for name in (PLAIN_GRU, "ZoneoutGRU")}
    to_plain_gru = summarize(grus, PLAIN_GRU)
    steps = -(-args.rows // args.batch_size)
    print(
        f"One epoch = {steps} steps of batch {args.batch_size}, sequences "
        f"{args.timesteps}x{args.features}, {units} units, rates {rate}, "
        f"{args.rounds} interleaved rounds, backend "
        f"{keras.backend.backend()}, {os.cpu_count()} CPU cores."
    )
    print_table(
        f"Epoch time, ratio to {PLAIN}",
        to_plain,
        {"WeightDropLSTM": "<= 1.10", "ZoneoutLSTM": "<= 1.10"},
    )
    print_table(
        f"Epoch time, ratio to {KERAS_DROPOUT}",
        to_keras_dropout,
        {"VariationalLSTM": "<= 1.10"},
    )
    print_table(
        f"Epoch time, ratio to {PLAIN_GRU}",
        to_plain_gru,
        {"ZoneoutGRU": "<= 1.10"},
    )
    # Other processes on a shared machine only ever add time (epochs fall
    # into a fast and a slow mode when a core is taken), so the fastest
    # epoch of each variant is a second estimate, less sensitive to load.
    fastest = {name: min(values) for name, values in times.items()}
    print("\nRatio of fastest epochs:")
    for name in lstms:
        print(
            f"  {name:40s} {fastest[name] / fastest[PLAIN]:.3f} to plain, "
            f"{fastest[name] / fastest[KERAS_DROPOUT]:.3f} to "
            "recurrent_dropout"
        )
    for name in grus:
        print(
            f"  {name:40s} {fastest[name] / fastest[PLAIN_GRU]:.3f} to "
            "plain GRU"
        )
    write_results(
        args.output,
        {
            "to_plain": to_plain,
            "to_keras_recurrent_dropout": to_keras_dropout,
            "gru_to_plain_gru": to_plain_gru,
            "fastest_s": fastest,
            "times_s": times,
        },
        vars(args),
    )
    return to_plain, to_keras_dropout, to_plain_gru


if __name__ == "__main__":
    main()
