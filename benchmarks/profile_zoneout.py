"""Profile: where a ZoneoutLSTM epoch spends its time beyond Keras's LSTM.

Times one training epoch of the classifier of `bench_recurrent.py` built
six ways, interleaved in one process, and prints each one's ratio to
Keras's `LSTM`, by wall time and by this process's CPU time (less sensitive
to other jobs on a shared machine, which only add wall time):

- `keras LSTM`: the baseline;
- `+ mask draw only`: Keras's `LSTM` plus the random numbers a
  `ZoneoutLSTM` draws for a batch (one 32-bit word per unit and step, split
  into the 16-bit integers of `h` and `c` and compared with the rates),
  drawn and consumed but not used in the loop: the cost of the random
  numbers;
- `+ float mask draw only`: the same with the draw this one replaced, one
  float32 uniform per unit of `h` and of `c` (twice the random words);
- `ZoneoutLSTM, fixed masks`: a `ZoneoutLSTM` whose keep masks come from a
  constant pattern instead of random numbers: the cost of feeding the masks
  to the loop and of the two selections per step, with their gradients;
- `ZoneoutLSTM`: both;
- `ZoneoutLSTM as before`: the previous design (float masks drawn before
  the loop in batch-major layout, `ops.where`), for a before/after.

    python benchmarks/profile_zoneout.py
"""

import argparse
import functools
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_recurrent import build_model  # noqa: I001
from common import add_sequence_arguments
from common import classifier
from common import sequence_data
from common import time_interleaved

import keras
import numpy as np
from keras import ops

import kerasdrop
from kerasdrop import _compat
from kerasdrop.rnn.zoneout_cell import keep_threshold

PLAIN = "keras LSTM"


class MaskDrawOnly(keras.layers.Layer):
    """Draws a ZoneoutLSTM's keep masks and adds 0 times their count."""

    def __init__(self, units, rate, float_draw=False, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.rate = rate
        self.float_draw = float_draw
        self.seed_generator = keras.random.SeedGenerator(0)

    def call(self, inputs, training=False):
        sequences, outputs = inputs
        if not training:
            return outputs
        batch_size, timesteps = ops.shape(sequences)[:2]
        if self.float_draw:
            noise = keras.random.uniform(
                (timesteps, batch_size, 2 * self.units),
                seed=self.seed_generator,
            )
            keep = [ops.less(noise, self.rate)]
        else:
            halves = _compat.random_uint16_pairs(
                (timesteps, batch_size, self.units), self.seed_generator
            )
            threshold = keep_threshold(self.rate)
            keep = [ops.less(half, threshold) for half in halves]
        kept = sum(ops.sum(ops.cast(k, outputs.dtype)) for k in keep)
        return outputs + 0.0 * kept


def draw_only_model(units, rate, timesteps, features, float_draw=False):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((timesteps, features))
    hidden = keras.layers.LSTM(units)(inputs)
    hidden = MaskDrawOnly(units, rate, float_draw)([inputs, hidden])
    return classifier(keras.layers.Dense(10)(hidden), inputs=inputs)


def fixed_masks_layer(units, rate, timesteps):
    """A ZoneoutLSTM whose masks repeat one pattern over the batch.

    Replaces the cell's mask draw wherever the layer draws: all steps at
    once before the loop (JAX) or each step inside it (TensorFlow).
    """
    layer = kerasdrop.ZoneoutLSTM(units, cell_rate=rate, hidden_rate=rate)
    pattern = np.random.default_rng(0).random((timesteps, 1, units)) < rate

    def keep_masks(leading_shape, seed=None, thresholds=None):
        fixed = pattern if len(leading_shape) == 2 else pattern[0]
        shape = tuple(leading_shape) + (units,)
        keep = ops.broadcast_to(ops.convert_to_tensor(fixed), shape)
        return [keep, keep]

    layer.cell._keep_masks = keep_masks
    return layer


class PreviousZoneoutLSTM(kerasdrop.ZoneoutLSTM):
    """The design this one replaced, for a before/after in one run.

    One float32 uniform per unit of `h` and `c` and step, drawn in one call
    before the loop in the layout `(batch, timesteps, 2 * units)` (so the
    loop transposes it), compared with the rates, split, and applied with
    `ops.where`.
    """

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not training:
            return super().inner_loop(
                sequences, initial_state, mask, training=training
            )
        batch_size, timesteps = ops.shape(sequences)[:2]
        units = self.units
        rates = ops.concatenate(
            [ops.broadcast_to(rate, (units,)) for rate in self.cell._rates()]
        )
        noise = keras.random.uniform(
            (batch_size, timesteps, 2 * units), seed=self.cell.seed_generator
        )
        keep = ops.split(ops.less(noise, rates), 2, axis=-1)

        def step(inputs, states):
            step_inputs, step_keep = inputs
            _, candidates = self.cell.cell(step_inputs, states, training=True)
            new_states = [
                ops.where(kept, state, candidate)
                for kept, state, candidate in zip(step_keep, states, candidates)
            ]
            return new_states[0], new_states

        return _compat.rnn_loop(
            step,
            (sequences, keep),
            initial_state,
            input_length=sequences.shape[1],
            return_all_outputs=self.return_sequences,
        )


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_sequence_arguments(parser, rounds=20)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    x, y = sequence_data(args)
    units, rate, steps = args.units, args.rate, args.timesteps

    def with_head(layer):
        return build_model(layer, args.timesteps, args.features, seed=0)

    models = {
        PLAIN: with_head(keras.layers.LSTM(units)),
        "+ mask draw only": draw_only_model(
            units, rate, args.timesteps, args.features
        ),
        "+ float mask draw only": draw_only_model(
            units, rate, args.timesteps, args.features, float_draw=True
        ),
        "ZoneoutLSTM, fixed masks": with_head(
            fixed_masks_layer(units, rate, steps)
        ),
        "ZoneoutLSTM": with_head(
            kerasdrop.ZoneoutLSTM(units, cell_rate=rate, hidden_rate=rate)
        ),
        "ZoneoutLSTM as before": with_head(
            PreviousZoneoutLSTM(units, cell_rate=rate, hidden_rate=rate)
        ),
    }
    cpu = {}
    wall = time_interleaved(
        {
            name: functools.partial(
                model.fit,
                x,
                y,
                batch_size=args.batch_size,
                epochs=1,
                verbose=0,
            )
            for name, model in models.items()
        },
        args.rounds,
        cpu_times=cpu,
    )

    print(
        f"One epoch = {-(-args.rows // args.batch_size)} steps of batch "
        f"{args.batch_size}, sequences {args.timesteps}x{args.features}, "
        f"{units} units, rates {rate}, {args.rounds} interleaved rounds, "
        f"backend {keras.backend.backend()}, {os.cpu_count()} CPU cores, "
        f"load average {os.getloadavg()[0]:.1f} at the end."
    )
    header = (
        f"{'variant':34s} {'wall s':>7s} {'ratio':>6s} {'paired':>6s} "
        f"{'fastest':>7s} {'cpu s':>7s} {'ratio':>6s} {'paired':>6s}"
    )
    print(f"\nEpoch time, ratio to {PLAIN}\n{header}\n{'-' * len(header)}")
    rows = {}
    for name in models:
        row = {}
        for kind, times in (("wall", wall), ("cpu", cpu)):
            base = times[PLAIN]
            row[kind] = (
                statistics.median(times[name]),
                statistics.median(times[name]) / statistics.median(base),
                statistics.median(v / b for v, b in zip(times[name], base)),
                min(times[name]) / min(base),
            )
        rows[name] = row
        print(
            f"{name:34s} {row['wall'][0]:7.4f} {row['wall'][1]:6.3f} "
            f"{row['wall'][2]:6.3f} {row['wall'][3]:7.3f} "
            f"{row['cpu'][0]:7.4f} {row['cpu'][1]:6.3f} {row['cpu'][2]:6.3f}"
        )
    return rows


if __name__ == "__main__":
    main()
