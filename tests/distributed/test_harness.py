"""The harness itself: results collected, failures and hangs reported, no
process left behind."""

import json
import os

import pytest

from tests.distributed import harness

# A stand-in for a training script: behaves as its first extra argument
# says, and records its pid so the test can check it is gone.
SCRIPT = """
import json, os, sys, time
index, count, ports, output, behaviour = sys.argv[1:6]
with open(output + ".pid", "w") as f:
    f.write(str(os.getpid()))
if behaviour == "hang" and index == "1":
    time.sleep(600)
if behaviour == "fail" and index == "1":
    sys.exit("process 1 gives up")
with open(output, "w") as f:
    json.dump({"index": int(index), "count": int(count),
               "ports": ports.split(","), "env": {
                   k: os.environ.get(k) for k in ("XLA_FLAGS", "JAX_PLATFORMS")
               }}, f)
"""


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "stand_in.py"
    path.write_text(SCRIPT)
    return str(path)


def pids(folder, count):
    return [
        int((folder / f"process{index}.json.pid").read_text())
        for index in range(count)
    ]


def is_running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_results_come_back_in_process_order(tmp_path, script):
    results = harness.run_processes(
        script,
        3,
        tmp_path,
        args=["ok"],
        devices_per_process=2,
        num_ports=2,
        timeout=30,
    )
    assert [r["index"] for r in results] == [0, 1, 2]
    assert {r["count"] for r in results} == {3}
    ports = results[0]["ports"]
    assert len(set(ports)) == 2 and all(r["ports"] == ports for r in results)
    for result in results:
        assert result["env"]["JAX_PLATFORMS"] == "cpu"
        assert "device_count=2" in result["env"]["XLA_FLAGS"]


def test_hung_process_is_killed_at_the_deadline(tmp_path, script):
    with pytest.raises(harness.ProcessesFailed, match="timed out after 3 s"):
        harness.run_processes(script, 2, tmp_path, args=["hang"], timeout=3)
    assert not any(is_running(pid) for pid in pids(tmp_path, 2))


def test_failed_process_is_reported_with_its_log(tmp_path, script):
    with pytest.raises(harness.ProcessesFailed) as error:
        harness.run_processes(script, 2, tmp_path, args=["fail"], timeout=30)
    assert "process 1 (exit code 1)" in str(error.value)
    assert "process 1 gives up" in str(error.value)
    assert json.loads((tmp_path / "process0.json").read_text())["index"] == 0


def test_shared_run_starts_the_processes_once(tmp_path_factory, script):
    kwargs = dict(script=script, num_processes=2, args=["ok"], timeout=30)
    first = harness.shared_run(tmp_path_factory, "shared_ok", **kwargs)
    folder = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        folder = folder.parent
    started = pids(folder / "shared_ok", 2)
    # A second call (another test, another worker) reads the stored run.
    assert harness.shared_run(tmp_path_factory, "shared_ok", **kwargs) == (
        first
    )
    assert pids(folder / "shared_ok", 2) == started


def test_shared_run_failure_fails_every_caller(tmp_path_factory, script):
    kwargs = dict(script=script, num_processes=2, args=["fail"], timeout=30)
    for _ in range(2):
        with pytest.raises(harness.ProcessesFailed, match="gives up"):
            harness.shared_run(tmp_path_factory, "shared_fail", **kwargs)


def test_hang_timeout_is_generous_and_set_by_the_environment():
    # Far above the slowest healthy run (over 100 s on a loaded 2-core
    # machine) by default; a slower machine may raise it.
    import subprocess
    import sys

    def hang_timeout(value):
        env = dict(os.environ, PYTHONPATH=harness.REPO)
        env.pop("KERASDROP_TEST_HANG_TIMEOUT", None)
        if value is not None:
            env["KERASDROP_TEST_HANG_TIMEOUT"] = value
        code = "from tests.distributed import harness\n"
        code += "print(harness.HANG_TIMEOUT)"
        result = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return float(result.stdout)

    assert hang_timeout(None) == 600
    assert hang_timeout("1234.5") == 1234.5
