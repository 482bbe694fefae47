"""Scheduled dropout under MirroredStrategy, in a separate process.

Several worker processes (MultiWorkerMirroredStrategy) are tested in
`tests/distributed/test_tf_workers.py`.
"""

import json
import os
import subprocess
import sys

import keras
import pytest

from tests.distributed.harness import HANG_TIMEOUT

SCRIPT = os.path.join(os.path.dirname(__file__), "distributed_fit.py")
RATES = [0.1, 0.6, 0.3]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="tf.distribute strategies need the TensorFlow backend",
    ),
]


def _env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **extra)
    env["PYTHONPATH"] = os.pathsep.join(
        [REPO] + [p for p in [env.get("PYTHONPATH")] if p]
    )
    return env


def _check(result, num_replicas):
    assert result["num_replicas"] == num_replicas
    history = result["history"]
    assert history["dropout/rate"] == pytest.approx(RATES)
    # The aggregated loss is the fraction dropped across all replicas.
    assert history["loss"] == pytest.approx(RATES, abs=0.01)
    # Each replica's own copy of the layer drops at the scheduled rate.
    for epoch, fractions in enumerate(result["replica_zero_fractions"]):
        assert len(fractions) == num_replicas
        assert fractions == pytest.approx([RATES[epoch]] * len(fractions),
                                          abs=0.02)  # fmt: skip
    assert result["final_rate"] == pytest.approx(RATES[-1])
    monitor_keys = [k for k in history if k.startswith("coadaptation/")]
    assert monitor_keys, "CoAdaptationMonitor logged nothing"
    for key in monitor_keys:
        assert len(history[key]) == len(RATES)
    for name, value in result["expected_coadaptation"].items():
        assert history[f"coadaptation/dropout/{name}"] == pytest.approx(
            [value] * len(RATES), rel=1e-4, abs=1e-6
        )


@pytest.mark.parametrize("unit", ["epoch", "batch"])
def test_mirrored_strategy_two_devices_use_scheduled_rates(tmp_path, unit):
    output = tmp_path / "mirrored.json"
    subprocess.run(
        [sys.executable, SCRIPT, "mirrored", str(output), unit],
        env=_env(),
        check=True,
        timeout=HANG_TIMEOUT,
    )
    _check(json.loads(output.read_text()), num_replicas=2)
