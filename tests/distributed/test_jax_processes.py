"""kerasdrop under `keras.distribution` in two JAX processes on loopback.

One run of `jax_data_parallel.py` in two processes of two CPU devices each
(see that script for what each process does) serves every test here:
`harness.shared_run` starts it once per pytest session, however the tests
are spread over pytest's workers, and each test checks one property of
what the processes wrote.
`KERASDROP_TEST_PROCESSES=4 KERASDROP_TEST_DEVICES_PER_PROCESS=1` runs
them with four processes of one device each instead.
"""

import math
import os

import keras
import numpy as np
import pytest

from kerasdrop import schedules
from tests.distributed import harness

SCRIPT = os.path.join(harness.HERE, "jax_data_parallel.py")
NUM_PROCESSES = int(os.environ.get("KERASDROP_TEST_PROCESSES", 2))
DEVICES_PER_PROCESS = int(
    os.environ.get("KERASDROP_TEST_DEVICES_PER_PROCESS", 2)
)
EPOCH_RATES = [0.1, 0.6, 0.3]
STEPS, EPOCHS = 4, 3
BATCH_SCHEDULE = schedules.Linear(0.05, 0.65, EPOCHS * STEPS)
# The loss is the fraction of zeros over one epoch's global rows: 4 steps
# of 16 rows per process of 512 Bernoulli draws, so with two processes or
# more its standard deviation is at most sqrt(0.25 / 65536) = 0.002; 0.01
# is five of them.
LOSS_TOLERANCE = 0.01

pytestmark = [
    pytest.mark.slow,
    pytest.mark.multiprocess,
    pytest.mark.skipif(
        keras.backend.backend() != "jax",
        reason="keras.distribution across processes needs the JAX backend",
    ),
]


@pytest.fixture(scope="session")
def processes(tmp_path_factory):
    return harness.shared_run(
        tmp_path_factory,
        "jax_processes",
        script=SCRIPT,
        num_processes=NUM_PROCESSES,
        devices_per_process=DEVICES_PER_PROCESS,
    )


def same_on_every_process(processes, *keys):
    values = []
    for result in processes:
        for key in keys:
            result = result[key]
        values.append(result)
    for value in values[1:]:
        assert value == values[0]
    return values[0]


def test_every_process_sees_every_device(processes):
    indices = [r["process_index"] for r in processes]
    assert indices == list(range(NUM_PROCESSES))
    for result in processes:
        assert result["process_count"] == NUM_PROCESSES
        assert result["num_local_devices"] == DEVICES_PER_PROCESS
        assert result["num_devices"] == NUM_PROCESSES * DEVICES_PER_PROCESS


def test_epoch_schedule_logs_the_same_rates_and_losses_everywhere(
    processes,
):
    history = same_on_every_process(processes, "epoch")
    assert history["dropout/rate"] == pytest.approx(EPOCH_RATES)
    # The loss is the fraction the train step dropped: the logged rate.
    assert history["loss"] == pytest.approx(EPOCH_RATES, abs=LOSS_TOLERANCE)


def test_batch_schedule_gives_every_step_its_rate_everywhere(processes):
    history = same_on_every_process(processes, "batch")
    expected = [BATCH_SCHEDULE(step) for step in range(EPOCHS * STEPS)]
    assert history["step_rates"] == pytest.approx(expected, abs=1e-6)
    epoch_means = np.reshape(expected, (EPOCHS, STEPS)).mean(axis=1)
    assert history["loss"] == pytest.approx(epoch_means, abs=LOSS_TOLERANCE)


def test_model_converted_by_make_schedulable_is_driven(processes):
    # The per-batch run trains a model built with Keras's Dropout.
    converted = same_on_every_process(processes, "converted")
    assert converted == "ScheduledDropout"


def test_backup_and_restore_resumes_at_the_scheduled_rate(processes):
    assert same_on_every_process(processes, "interrupted") == "interrupted"
    resumed = same_on_every_process(processes, "resume")
    # Interrupted after epoch 1: only epoch 2 runs again, at its rate.
    assert resumed["dropout/rate"] == pytest.approx(EPOCH_RATES[2:])
    expected = EPOCH_RATES[2:]
    assert resumed["loss"] == pytest.approx(expected, abs=LOSS_TOLERANCE)
    assert resumed["final_rate"] == pytest.approx(EPOCH_RATES[2])


def test_coadaptation_monitor_measures_the_same_values_everywhere(
    processes,
):
    history = same_on_every_process(processes, "epoch")
    expected = same_on_every_process(processes, "expected_coadaptation")
    assert expected
    for name, value in expected.items():
        assert history[f"coadaptation/dropout/{name}"] == pytest.approx(
            [value] * EPOCHS, rel=1e-4, abs=1e-6
        )


def test_masks_differ_across_devices_and_processes(processes):
    shards = {}
    for result in processes:
        assert len(result["masks"]) == DEVICES_PER_PROCESS
        shards.update(result["masks"])
    masks = [np.array(mask) for mask in shards.values()]
    assert len(masks) == NUM_PROCESSES * DEVICES_PER_PROCESS
    for index, mask in enumerate(masks):
        # Two rows of 64 draws at rate 0.5: equal masks are a 2^-128 event.
        assert 0 < mask.mean() < 1
        assert not np.array_equal(mask[0], mask[1])
        for other in masks[index + 1 :]:
            assert not np.array_equal(mask, other)


def test_mc_predict_gives_each_process_its_rows_and_gathers_them(processes):
    gathered = same_on_every_process(processes, "mc_predict", "gathered")
    for index, result in enumerate(processes):
        local = result["mc_predict"]["local"]
        assert np.shape(local["mean"]) == (6, 3)
        assert np.shape(local["predictive_entropy"]) == (6,)
        np.testing.assert_allclose(np.sum(local["mean"], axis=-1), 1, 1e-5)
        entropy = np.array(local["predictive_entropy"])
        information = np.array(local["mutual_information"])
        assert np.all((entropy >= 0) & (entropy <= math.log(3) + 1e-6))
        assert np.all((information >= -1e-6) & (information <= entropy))
        assert np.all(np.array(local["std"]) > 0)
        for name, value in local.items():
            # JAX gathers in float32 (float64 needs `jax_enable_x64`).
            np.testing.assert_allclose(gathered[name][index], value, 1e-6)
    # The processes predicted different rows.
    assert not np.allclose(
        processes[0]["mc_predict"]["local"]["mean"],
        processes[1]["mc_predict"]["local"]["mean"],
    )


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="Keras 3.15's `predict` fetches its sharded outputs whole, which "
    "a process cannot do for other processes' devices",
)
def test_keras_predict_works_across_processes(processes):
    assert same_on_every_process(processes, "predict_error") is None


def test_model_parallel_keeps_rates_replicated_and_scheduled(processes):
    result = same_on_every_process(processes, "model_parallel")
    assert result["rates_replicated"] == [True]
    # The layout is applied: the kernel is split over the devices of each
    # process (a `model` axis of one device splits nothing).
    assert result["kernel_replicated"] is (DEVICES_PER_PROCESS == 1)
    expected = [BATCH_SCHEDULE(step) for step in range(EPOCHS * STEPS)]
    assert result["batch"]["step_rates"] == pytest.approx(expected, abs=1e-6)
    # The same rows on every process: the same Monte-Carlo mean.
    assert np.shape(result["mc_mean"]) == (4, 4)
