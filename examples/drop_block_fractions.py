"""How much of a feature map DropBlock2D really drops.

`kerasdrop.DropBlock2D(rate, block_size)` draws block centres with the
probability `gamma` of Ghiasi et al. (2018, Eq. 1), which aims at dropping
`rate` of the units but counts overlapping blocks twice. This script draws
masks for several rates, block sizes and map sizes (square, non-square, odd
and even blocks) and prints, for each, the rate, `gamma`, the exact expected
fraction of dropped units (each unit stays only if none of the blocks that
can cover it is drawn) and the realised fraction over `--maps` maps, with
its standard error. It runs offline in seconds:

    python examples/drop_block_fractions.py
"""

import os
import sys

import example_args

# Overrides of the defaults for `--quick`.
QUICK = {"maps": 256}


def parse_args(argv=None):
    parser = example_args.make_parser(__doc__)
    parser.add_argument(
        "--maps", type=int, default=4096, help="masks drawn for each row"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the masks")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer maps (a smoke test; explicit flags still override it)",
    )
    args = parser.parse_args(argv)
    if args.quick:  # Parsed again, so explicit flags override `QUICK`.
        parser.set_defaults(**QUICK)
        args = parser.parse_args(argv)
    return args


if __name__ == "__main__":
    # `--help` and mistyped flags answer here, before TensorFlow loads.
    parse_args(sys.argv[1:])

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from kerasdrop.layers.drop_block import drop_block_gamma
from kerasdrop.layers.drop_block import drop_block_mask

# (rate, map height, map width, block size)
CASES = [
    (0.05, 14, 14, 7),
    (0.1, 14, 14, 7),
    (0.3, 14, 14, 7),
    (0.1, 16, 16, 3),
    (0.3, 16, 16, 3),
    (0.2, 8, 8, 2),
    (0.3, 12, 20, 5),
    (0.2, 28, 7, 4),
]


def expected_fraction(rate, height, width, block):
    """Exact expected dropped fraction: a unit covered by `c` possible
    blocks stays with probability `(1 - gamma)^c`."""
    block_height, block_width = min(block, height), min(block, width)
    gamma = float(
        drop_block_gamma(rate, height, width, block_height, block_width)
    )
    cover = np.zeros((height, width))
    for top in range(height - block_height + 1):
        for left in range(width - block_width + 1):
            cover[top : top + block_height, left : left + block_width] += 1
    return gamma, float(np.mean(1.0 - (1.0 - min(gamma, 1.0)) ** cover))


def realised_fraction(rate, height, width, block, num_maps, seed):
    keep = drop_block_mask((num_maps, height, width, 1), rate, block, seed)
    per_map = 1.0 - keras.ops.convert_to_numpy(keep).mean(axis=(1, 2, 3))
    return per_map.mean(), per_map.std() / np.sqrt(num_maps)


def main(argv=None):
    args = parse_args(argv)
    print(
        "| rate | map | block | gamma | expected fraction | realised (± s.e.) |"
    )
    print("|---|---|---|---|---|---|")
    rows = []
    for rate, height, width, block in CASES:
        gamma, expected = expected_fraction(rate, height, width, block)
        realised, error = realised_fraction(
            rate, height, width, block, args.maps, args.seed
        )
        rows.append((rate, height, width, block, gamma, expected, realised))
        print(
            f"| {rate} | {height}x{width} | {block}x{block} | {gamma:.4f} | "
            f"{expected:.3f} | {realised:.3f} ± {error:.3f} |"
        )
    print(f"\n{args.maps} maps per row, backend {keras.backend.backend()}.")
    print("Nothing written: the table above is the whole result.")
    if args.quick:
        print(example_args.QUICK_NOTE)
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
