"""Plot kerasdrop's rate schedules.

Draws every schedule in `kerasdrop.schedules` (and a Keras learning-rate
schedule reused as a rate schedule) over the same number of epochs, to see at
a glance what each one does to the dropout rate. This is the figure of the
"Scheduling dropout" guide:

    python examples/plot_schedules.py --output docs/images/schedules.png
"""

import os
import sys

import example_args

NAME = "schedules"


def parse_args(argv=None):
    parser = example_args.make_parser(__doc__)
    parser.add_argument(
        "--epochs", type=int, default=40, help="epochs T on the x axis"
    )
    parser.add_argument(
        "--rate", type=float, default=0.5, help="the schedules' rate"
    )
    parser.add_argument(
        "--output",
        default=None,
        help="the figure's file (default: examples/results/schedules/"
        "schedules.png; with --quick, examples/results/schedules-quick/"
        "schedules.png)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="8 epochs (a smoke test; explicit flags still override it)",
    )
    args = parser.parse_args(argv)
    if args.quick:  # Parsed again, so explicit flags override `--quick`.
        parser.set_defaults(epochs=8)
        args = parser.parse_args(argv)
    if args.output is None:
        folder = example_args.default_output_dir(NAME, args.quick)
        args.output = os.path.join(folder, "schedules.png")
    return args


if __name__ == "__main__":
    # `--help` and mistyped flags answer here, before TensorFlow loads.
    parse_args(sys.argv[1:])

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import matplotlib

matplotlib.use("Agg")
import example_utils
import matplotlib.pyplot as plt

from kerasdrop import schedules

# Each schedule is a pure function of the step, so plotting it needs no model:
# call it at every step and draw the values.


def example_schedules(epochs, rate):
    half = epochs // 2
    return {
        f"Constant({rate})": schedules.Constant(rate),
        f"Linear({rate} -> 0) (annealed)": schedules.Linear(rate, 0.0, epochs),
        f"Cosine({rate} -> 0.05)": schedules.Cosine(rate, 0.05, epochs),
        f"Exponential({rate}, decay 0.9)": schedules.Exponential(rate, 0.9),
        f"Curriculum({rate}, gamma=10/T)": schedules.Curriculum(
            rate, 10 / epochs
        ),
        f"EarlyDropout({rate}, cutoff=T/2)": schedules.EarlyDropout(rate, half),
        "EarlyDropout linear (cutoff=T/2)": schedules.EarlyDropout(
            rate, half, mode="linear"
        ),
        f"LateDropout({rate}, cutoff=T/2)": schedules.LateDropout(rate, half),
        "Piecewise": schedules.Piecewise(
            [epochs // 4, half], [rate, rate / 2, rate / 4]
        ),
        "keras ExponentialDecay": keras.optimizers.schedules.ExponentialDecay(
            rate, decay_steps=epochs // 3, decay_rate=0.5
        ),
    }


def main(argv=None):
    args = parse_args(argv)

    steps = list(range(args.epochs + 1))
    curves = {
        name: [schedules.evaluate(schedule, step) for step in steps]
        for name, schedule in example_schedules(args.epochs, args.rate).items()
    }

    figure, axes = plt.subplots(2, 5, figsize=(16, 6), sharex=True, sharey=True)
    for axis, (name, values) in zip(axes.flat, curves.items()):
        # A rate holds for a whole epoch, so draw steps, not ramps.
        axis.step(steps, values, where="post", color="tab:blue")
        axis.set_title(name, fontsize=9)
        axis.set_ylim(-0.03, args.rate + 0.05)
        axis.grid(alpha=0.3)
        example_utils.integer_epochs(axis)
    for axis in axes[-1]:
        axis.set_xlabel("epoch")
    for axis in axes[:, 0]:
        axis.set_ylabel("dropout rate")
    figure.suptitle(f"kerasdrop rate schedules over T={args.epochs} epochs")
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    figure.savefig(args.output, dpi=110)
    for name, values in curves.items():
        print(f"{name:36s} start {values[0]:.3f}  end {values[-1]:.3f}")
    print(f"Wrote {args.output}")
    if args.quick:
        print(example_args.QUICK_NOTE)
    return curves


if __name__ == "__main__":
    main(sys.argv[1:])
