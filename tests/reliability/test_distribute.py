"""Scheduled dropout under tf.distribute strategies, in separate processes."""

import json
import os
import socket
import subprocess
import sys

import keras
import pytest

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
        assert len(fractions) == num_replicas // result.get("workers", 1)
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
        timeout=300,
    )
    _check(json.loads(output.read_text()), num_replicas=2)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multi_worker_mirrored_strategy_two_workers(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        tf_config = {
            "cluster": {"worker": workers},
            "task": {"type": "worker", "index": index},
        }
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    SCRIPT,
                    "multi_worker",
                    str(tmp_path / f"worker{index}.json"),
                ],
                env=_env(TF_CONFIG=json.dumps(tf_config)),
            )  # fmt: skip
        )
    try:
        codes = [p.wait(timeout=300) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    assert codes == [0, 0]
    for index in range(2):
        result = json.loads((tmp_path / f"worker{index}.json").read_text())
        result["workers"] = 2
        _check(result, num_replicas=2)
