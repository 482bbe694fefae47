"""The command lines of the example scripts: argparse only, nothing heavy.

Not an example itself. Every script parses its arguments with these
helpers before it imports Keras, TensorFlow or kerasdrop, so `--help` and a
mistyped flag answer at once, without a line of TensorFlow's logging.

- `make_parser` gives a parser whose help shows every option's default
  once (`HelpFormatter`).
- `add_output_arguments` adds `--output-dir`, `--docs-images` and
  `--quick`; `parse` applies the `--quick` settings and gives a quick run
  its own folder, `examples/results/<name>-quick`, so it never overwrites
  a full run's results.
- `QUICK_NOTE` is what a quick run prints next to its numbers.
"""

import argparse
import os

EXAMPLES_DIR = os.path.dirname(os.path.abspath(__file__))
DOCS_IMAGES_DIR = os.path.join(os.path.dirname(EXAMPLES_DIR), "docs", "images")
# Where `--docs-images` also copies `results.json`, as `<output folder>.json`:
# the numbers of the documentation's tables, checked by tests/test_docs.py.
DOCS_RESULTS_DIR = os.path.join(
    os.path.dirname(EXAMPLES_DIR), "docs", "results"
)
QUICK_NOTE = (
    "--quick: tiny settings that run every code path; its numbers and "
    "verdicts are a smoke test of the code, not a result."
)


def default_output_dir(name, quick=False):
    """`examples/results/<name>` (`<name>-quick` for a quick run)."""
    return os.path.join(
        EXAMPLES_DIR, "results", f"{name}-quick" if quick else name
    )


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds `(default: ...)` to an option's help unless it says it already.

    Flags (default `False`) and options whose default is `None` get no
    `(default: None)`: their help text says what happens without them.
    """

    def _get_help_string(self, action):
        text = action.help or ""
        if "(default" in text or action.default is None:
            return text
        if action.default is False:  # `0 == False`: compared by identity.
            return text
        return super()._get_help_string(action)


def make_parser(doc):
    """A parser described by the first paragraph of the docstring `doc`."""
    return argparse.ArgumentParser(
        description=doc.split("\n\n")[0], formatter_class=HelpFormatter
    )


def add_output_arguments(parser, name, docs_images=True, quick=True):
    """Adds `--output-dir` (and `--docs-images`, `--quick` if asked)."""
    folder = os.path.join("examples", "results", name)
    parser.add_argument(
        "--output-dir",
        default=None,
        help="folder for the results and figures (default: "
        f"{folder}; with --quick, {folder}-quick)"
        if quick
        else f"folder for the results and figures (default: {folder})",
    )
    if docs_images:
        parser.add_argument(
            "--docs-images",
            action="store_true",
            help=f"also copy the figures into {DOCS_IMAGES_DIR} and "
            f"results.json into {DOCS_RESULTS_DIR}",
        )
    if quick:
        parser.add_argument(
            "--quick",
            action="store_true",
            help="tiny settings that run every code path in little time "
            "(a smoke test; explicit flags still override them)",
        )


def add_training_arguments(
    parser, epochs, batch_size, learning_rate, epochs_help="epochs"
):
    """Adds `--epochs`, `--batch-size` and `--learning-rate` (of Adam) to
    `parser` (or an argument group) with these defaults."""
    parser.add_argument("--epochs", type=int, default=epochs, help=epochs_help)
    parser.add_argument(
        "--batch-size", type=int, default=batch_size, help="rows per batch"
    )
    parser.add_argument(
        "--learning-rate", type=float, default=learning_rate, help="of Adam"
    )


def add_recurrent_rate_arguments(parser, zoneout_gru=False):
    """Adds the rates of the recurrent regularizers the examples compare:
    the variational layers' `recurrent_rate`, the weight-dropped layers'
    rate, ZoneoutLSTM's `cell_rate` and `hidden_rate` (and ZoneoutGRU's
    `rate` if asked)."""
    parser.add_argument(
        "--recurrent-rate",
        type=float,
        default=0.25,
        help="recurrent_rate of the variational layers",
    )
    parser.add_argument(
        "--weight-drop-rate",
        type=float,
        default=0.3,
        help="rate of the weight-dropped layers",
    )
    if zoneout_gru:
        parser.add_argument(
            "--zoneout-rate", type=float, default=0.1, help="ZoneoutGRU's rate"
        )
    parser.add_argument(
        "--cell-rate", type=float, default=0.5, help="ZoneoutLSTM's cell_rate"
    )
    parser.add_argument(
        "--hidden-rate",
        type=float,
        default=0.05,
        help="ZoneoutLSTM's hidden_rate",
    )


def add_cache_dir_argument(parser, backbone="small ResNet"):
    """Adds `--cache-dir`, the folder of the cached pretrained `backbone`
    (with `--quick`, the output folder: see `use_quick_cache_dir`)."""
    parser.add_argument(
        "--cache-dir",
        default=None,
        help=f"cache folder of the pretrained {backbone} (default: "
        "$KERASDROP_CACHE_DIR or ~/.cache/kerasdrop; with --quick, the "
        "output folder)",
    )


def use_quick_cache_dir(args):
    """A quick run without `--cache-dir` caches into its output folder."""
    if args.quick and args.cache_dir is None:
        args.cache_dir = args.output_dir


def parse(parser, argv, name, quick=None):
    """Parses `argv`, with the `quick` defaults under `--quick`.

    Explicit flags override the `quick` defaults. Without `--output-dir`,
    the output folder is `default_output_dir(name, args.quick)`.
    `--docs-images` refuses `--quick`: the documentation shows full runs.
    """
    args = parser.parse_args(argv)
    if getattr(args, "quick", False) and quick:
        # Parsed again, so explicit flags override `quick`.
        parser.set_defaults(**quick)
        args = parser.parse_args(argv)
    if getattr(args, "quick", False) and getattr(args, "docs_images", False):
        parser.error("--docs-images needs a full run: drop --quick")
    if args.output_dir is None:
        args.output_dir = default_output_dir(
            name, getattr(args, "quick", False)
        )
    return args


def parse_paired(parser, argv, name, quick):
    """`parse`, then at least two seeds, for paired differences."""
    args = parse(parser, argv, name, quick)
    if args.seeds < 2:
        parser.error("paired differences need --seeds 2 or more")
    return args
