"""Starts N Python processes on loopback and collects what each one writes.

Every multi-process test goes through `run_processes`: it starts the
processes of one run together, each with its own CPU devices, its own
ports on 127.0.0.1 and its own log file, waits for them up to a hard
deadline, and kills every one still running when it returns, whether the
run passed, failed or timed out, so a hung process never outlives its
test. Each process gets, after the script:

    PROCESS_ID NUM_PROCESSES PORTS OUTPUT [ARGS...]

where `PORTS` is a comma-separated list of free ports on 127.0.0.1 (the
first is the coordinator's) and `OUTPUT` the JSON file the process must
write its results to (`command_line` gives a script its own flags
instead). `run_processes` returns those results, in process order.

`shared_run` makes one run serve the tests of every pytest worker: the
first worker to ask starts it, the others wait and read its results.
"""

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))
LOOPBACK = "127.0.0.1"

# Seconds a run of fresh processes may take before it counts as hung. A
# guard against a hang, not a speed check: on two cores shared by the
# test workers, a process that imports Keras and compiles a model has
# taken over 100 s, and a hang costs this long only when it happens.
# `KERASDROP_TEST_HANG_TIMEOUT` sets it for slower machines.
HANG_TIMEOUT = float(os.environ.get("KERASDROP_TEST_HANG_TIMEOUT", 600))


class ProcessesFailed(AssertionError):
    """A process exited with an error, wrote no result or timed out."""


def free_ports(count):
    """`count` distinct ports on 127.0.0.1 that are free right now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind((LOOPBACK, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def environment(backend, devices_per_process, **extra):
    """The environment of one process: this checkout first on the path,
    CPU only, `devices_per_process` CPU devices, quiet logs."""
    env = dict(os.environ)
    env.update(
        KERAS_BACKEND=backend,
        TF_CPP_MIN_LOG_LEVEL="3",
        JAX_PLATFORMS="cpu",
        CUDA_VISIBLE_DEVICES="",
        PYTHONPATH=os.pathsep.join(
            [REPO] + [p for p in [os.environ.get("PYTHONPATH")] if p]
        ),
    )
    flags = env.get("XLA_FLAGS", "").split()
    flags = [f for f in flags if "force_host_platform_device_count" not in f]
    flags.append(
        f"--xla_force_host_platform_device_count={devices_per_process}"
    )
    env["XLA_FLAGS"] = " ".join(flags)
    env.update(extra)
    return env


def _tail(path, lines=40):
    with open(path, errors="replace") as f:
        return "".join(f.readlines()[-lines:])


def _kill(process):
    """Kills the process and everything it started (its own session)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def run_processes(
    script,
    num_processes,
    folder,
    args=(),
    backend="jax",
    devices_per_process=1,
    num_ports=1,
    timeout=HANG_TIMEOUT,
    command_line=None,
):
    """Runs `script` in `num_processes` processes and returns their results.

    Args:
        script: The path of the Python script each process runs.
        num_processes: How many processes to start.
        folder: A folder for the logs and results (a test's `tmp_path`).
        args: Further arguments for every process, after `OUTPUT`.
        backend: The `KERAS_BACKEND` of every process.
        devices_per_process: CPU devices each process sees (JAX's
            `--xla_force_host_platform_device_count`).
        num_ports: How many free ports to hand to every process.
        timeout: Seconds the whole run may take, start-up included; then
            every process still running is killed and the run fails.
        command_line: A function `(index, num_processes, ports, output)`
            that returns the arguments of process `index` after the
            script (`ports` a list of ints), in place of the positional
            ones; `args` follow them.

    Returns:
        The JSON result each process wrote, in process order.

    Raises:
        ProcessesFailed: A process exited with an error or without writing
            its result, or the run went past `timeout`; the message holds
            the tail of each failed process's log.
    """
    folder = str(folder)
    ports = free_ports(num_ports)
    if command_line is None:

        def command_line(index, num_processes, ports, output):
            ports = ",".join(map(str, ports))
            return [index, num_processes, ports, output]

    env = environment(backend, devices_per_process)
    processes, logs, outputs = [], [], []
    deadline = time.monotonic() + timeout
    try:
        for index in range(num_processes):
            outputs.append(os.path.join(folder, f"process{index}.json"))
            logs.append(os.path.join(folder, f"process{index}.log"))
            with open(logs[-1], "w") as log:
                processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            script,
                            *map(
                                str,
                                command_line(
                                    index, num_processes, ports, outputs[-1]
                                ),
                            ),
                            *map(str, args),
                        ],
                        env=env,
                        cwd=REPO,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        # Its own session, so `_kill` reaches its children.
                        start_new_session=True,
                    )
                )
        timed_out = False
        for process in processes:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                timed_out = True
                break
    finally:
        for process in processes:
            _kill(process)
    failed = [
        index
        for index, process in enumerate(processes)
        if process.returncode != 0 or not os.path.exists(outputs[index])
    ]
    if timed_out or failed:
        what = f"timed out after {timeout:g} s" if timed_out else "failed"
        report = "\n".join(
            f"--- process {index} (exit code {processes[index].returncode})"
            f":\n{_tail(logs[index])}"
            for index in (failed or range(num_processes))
        )
        raise ProcessesFailed(
            f"{num_processes} processes of {os.path.basename(script)} "
            f"{what}:\n{report}"
        )
    results = []
    for output in outputs:
        with open(output) as f:
            results.append(json.load(f))
    return results


def _shared_folder(tmp_path_factory, name):
    """A folder that every pytest-xdist worker of this session sees."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # The workers' folders share this parent.
    folder = root / name
    folder.mkdir(exist_ok=True)
    return folder


def shared_run(tmp_path_factory, name, **kwargs):
    """`run_processes(folder=..., **kwargs)`, once per pytest session.

    Tests of one run may be spread over several pytest-xdist workers: the
    first worker to call this starts the run, under a lock, and stores its
    results, or its failure, next to its logs; the others wait for the
    lock and return the stored results (or raise the stored failure). So
    the processes start once per session, however the tests are spread.
    """
    folder = _shared_folder(tmp_path_factory, name)
    stored = folder / "results.json"
    with open(folder / "lock", "w") as lock, contextlib.ExitStack() as stack:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stack.callback(fcntl.flock, lock, fcntl.LOCK_UN)
        if not stored.exists():
            try:
                results = run_processes(folder=folder, **kwargs)
                record = {"results": results}
            except ProcessesFailed as error:
                record = {"failure": str(error)}
            stored.write_text(json.dumps(record))
        record = json.loads(stored.read_text())
    if "failure" in record:
        raise ProcessesFailed(record["failure"])
    return record["results"]
