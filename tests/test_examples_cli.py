"""The command lines of the examples: `--help`, `--quick`, closing lines.

`--help` runs every script in a subprocess, the way a user does, and checks
that it answers before anything heavy is imported (so it answers in a
fraction of a second, without TensorFlow's log lines), and that every
option has help text that shows its default once.
"""

import glob
import json
import os
import subprocess
import sys

import pytest

from tests.distributed.harness import HANG_TIMEOUT
from tests.example_scripts import EXAMPLES
from tests.example_scripts import load_example

SCRIPTS = sorted(
    os.path.basename(path)[: -len(".py")]
    for path in glob.glob(os.path.join(EXAMPLES, "*.py"))
    if not os.path.basename(path).startswith("example_")
)
# Top-level packages that `--help` must not import.
HEAVY = (
    "jax",
    "keras",
    "keras_hub",
    "kerasdrop",
    "matplotlib",
    "mnist1d",
    "numpy",
    "sklearn",
    "tensorflow",
    "torch",
)
SEPARATOR = "\n--- parsers ---\n"
# Runs a script with `--help` as `python script.py --help` would, then
# prints what its parser holds and which heavy modules were imported.
WRAPPER = """
import argparse, json, os, runpy, sys

parsers = []
format_help = argparse.ArgumentParser.format_help


def recording_format_help(self):
    parsers.append(self)
    return format_help(self)


argparse.ArgumentParser.format_help = recording_format_help
path, separator, heavy = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.path.insert(0, os.path.dirname(path))
sys.argv = [path, "--help"]
try:
    runpy.run_path(path, run_name="__main__")
except SystemExit:
    pass
options = {}
for parser in parsers:
    formatter = parser._get_formatter()
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        options[action.option_strings[-1]] = {
            "help": formatter._expand_help(action) if action.help else "",
            "flag": action.nargs == 0,
        }
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(heavy))
sys.stdout.write(separator + json.dumps({"options": options, "heavy": heavy}))
"""


def test_every_example_is_checked():
    assert len(SCRIPTS) >= 10 and "transfer_resnet_head" in SCRIPTS


@pytest.mark.parametrize("name", SCRIPTS)
def test_help_imports_nothing_heavy_and_documents_every_option(name):
    path = os.path.join(EXAMPLES, f"{name}.py")
    environment = {**os.environ}
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)  # Logs would show.
    completed = subprocess.run(
        [sys.executable, "-c", WRAPPER, path, SEPARATOR, *HEAVY],
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT,
        env=environment,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""  # No log line, no warning.
    usage, _, report = completed.stdout.partition(SEPARATOR)
    assert usage.startswith("usage: "), usage
    report = json.loads(report)
    assert report["heavy"] == []
    assert report["options"], "no parser recorded"
    for option, entry in report["options"].items():
        assert option in usage
        assert entry["help"], f"{option} has no help text"
        shown = entry["help"].count("(default")
        # A flag's default is off; every other option says its default.
        assert shown == (0 if entry["flag"] else 1), (option, entry["help"])
        assert "(default: None)" not in entry["help"]


# The verdict rule decides the closing line: equal accuracies are a tie.


def test_closing_line_calls_a_tie_a_tie():
    demo = load_example("transfer_resnet_head")
    utils = demo.example_utils
    # As in a run of the demo: annealed ends where no-dropout does, fixed
    # with the same accuracies on other seeds (means equal but for the
    # last bit), early better on every seed.
    baseline = [0.9246231155778895, 0.9221105527638191, 0.9258793969849246]
    annealed = [0.9221105527638191, 0.9258793969849246, 0.9246231155778895]
    summary = {
        "no-dropout": {"difference_to_no_dropout": None},
        "annealed": {
            "difference_to_no_dropout": utils.paired_difference(
                list(baseline), baseline
            )
        },
        "fixed": {
            "difference_to_no_dropout": utils.paired_difference(
                annealed, baseline
            )
        },
        "early": {
            "difference_to_no_dropout": utils.paired_difference(
                [a + 0.01 for a in baseline], baseline
            )
        },
    }
    line = demo.closing_line(summary)
    assert line == (
        "Against no-dropout, paired by seed: better early; worse none; no "
        "difference beyond the seed noise annealed, fixed"
    )


def test_closing_line_without_baseline_names_every_tied_variant():
    demo = load_example("transfer_resnet_head")
    summary = {
        "fixed": {"val_accuracy": (0.9243718592964825, 0.01)},
        "annealed": {"val_accuracy": (0.9243718592964824, 0.01)},
        "early": {"val_accuracy": (0.91, 0.01)},
    }
    line = demo.closing_line(summary)
    assert line.startswith(
        "Highest mean final validation accuracy: fixed, annealed "
    )


# `--quick` writes into a folder of its own and leaves full runs alone.


@pytest.mark.parametrize(
    "name",
    [
        "concrete_dropout_rate",
        "ensemble_averaging",
        "finetune_pretrained_schedulable",
        "mnist1d_dropout",
        "mnist1d_recurrent",
        "transfer_resnet_head",
        "vit_stochastic_depth",
        "zoneout_sequential_digits",
    ],
)
def test_quick_run_writes_to_its_own_folder(name):
    example = load_example(name)
    utils = load_example("example_args")
    full = example.parse_args([])
    quick = example.parse_args(["--quick"])
    assert full.output_dir == utils.default_output_dir(name)
    assert quick.output_dir == utils.default_output_dir(name, quick=True)
    assert quick.output_dir != full.output_dir
    explicit = example.parse_args(["--quick", "--output-dir", "elsewhere"])
    assert explicit.output_dir == "elsewhere"


def test_quick_transfer_demo_pretrains_into_its_own_folder():
    demo = load_example("transfer_resnet_head")
    assert demo.parse_args([]).cache_dir is None  # The user's cache.
    quick = demo.parse_args(["--quick"])
    assert quick.cache_dir == quick.output_dir
    assert (quick.epochs, quick.seeds) == (4, 2)
    assert demo.parse_args(["--quick", "--epochs", "3"]).epochs == 3


def test_quick_refuses_to_replace_the_documentation_figures():
    demo = load_example("transfer_resnet_head")
    with pytest.raises(SystemExit):
        demo.parse_args(["--quick", "--docs-images"])


def test_backbone_choices_match_the_library():
    from kerasdrop import transfer

    demo = load_example("transfer_resnet_head")
    assert demo.BACKBONES == transfer.BACKBONES
