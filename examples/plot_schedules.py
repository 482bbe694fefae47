"""Plot kerasdrop's rate schedules.

Draws every schedule in `kerasdrop.schedules` (and a Keras learning-rate
schedule reused as a rate schedule) over the same number of epochs, to see at
a glance what each one does to the dropout rate. This is the figure of the
"Scheduling dropout" guide:

    python examples/plot_schedules.py --output docs/images/schedules.png
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import matplotlib

matplotlib.use("Agg")
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--rate", type=float, default=0.5)
    parser.add_argument(
        "--output", default="examples/results/schedules/schedules.png"
    )
    args = parser.parse_args(argv)

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
    for axis in axes[-1]:
        axis.set_xlabel("epoch")
    for axis in axes[:, 0]:
        axis.set_ylabel("dropout rate")
    figure.suptitle(f"kerasdrop rate schedules over T={args.epochs} epochs")
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    figure.savefig(args.output, dpi=110)
    print(f"Wrote {args.output}")
    for name, values in curves.items():
        print(f"{name:36s} start {values[0]:.3f}  end {values[-1]:.3f}")
    return curves


if __name__ == "__main__":
    main()
