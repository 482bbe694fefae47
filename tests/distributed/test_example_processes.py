"""The two-process example runs, and its processes log the same values."""

import os

import keras
import numpy as np
import pytest

from tests.distributed import harness
from tests.example_scripts import EXAMPLES

SCRIPT = os.path.join(EXAMPLES, "multi_process_training.py")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.multiprocess,
    pytest.mark.skipif(
        keras.backend.backend() != "jax",
        reason="the example runs keras.distribution on JAX",
    ),
]


def test_example_processes_log_the_same_rates_and_losses(tmp_path):
    def command_line(index, num_processes, ports, output):
        return [
            "--process-id",
            index,
            "--num-processes",
            num_processes,
            "--coordinator",
            f"127.0.0.1:{ports[0]}",
            "--output-dir",
            os.path.dirname(output),
        ]

    results = harness.run_processes(
        SCRIPT,
        2,
        tmp_path,
        args=["--quick", "--epochs", "1", "--rows", "128"],
        command_line=command_line,
    )
    histories = [result["history"] for result in results]
    assert histories[0] == histories[1]
    # Linear(0.5 -> 0) over 4 steps: the epoch logs the last step's rate.
    assert histories[0]["dropout/rate"] == pytest.approx([0.125])
    assert np.isfinite(histories[0]["loss"]).all()
    # Each process gathered every process's entropies, in process order.
    entropies = [np.array(r["predictive_entropy"]) for r in results]
    np.testing.assert_array_equal(entropies[0], entropies[1])
    assert entropies[0].shape == (2, 8)
    assert (tmp_path / "results.md").exists()
