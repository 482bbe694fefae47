"""kerasdrop under `MultiWorkerMirroredStrategy`: two workers on loopback.

One run of `tf_multi_worker.py` in two worker processes (see that script)
serves every test here: `harness.shared_run` starts it once per pytest
session, however the tests are spread over pytest's workers.
"""

import os

import keras
import numpy as np
import pytest

from tests.distributed import harness

SCRIPT = os.path.join(harness.HERE, "tf_multi_worker.py")
RATES = [0.1, 0.6, 0.3]
# Each worker's loss is the mean fraction of zeros over 4 steps of 16 rows
# of 2000 draws: a standard deviation of at most 0.002; 0.01 is five.
LOSS_TOLERANCE = 0.01

pytestmark = [
    pytest.mark.slow,
    pytest.mark.multiprocess,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="tf.distribute strategies need the TensorFlow backend",
    ),
]


@pytest.fixture(scope="session")
def workers(tmp_path_factory):
    return harness.shared_run(
        tmp_path_factory,
        "tf_workers",
        script=SCRIPT,
        num_processes=2,
        backend="tensorflow",
        num_ports=2,
    )


def test_custom_loop_drives_the_scheduled_rates_on_both_workers(workers):
    for result in workers:
        assert result["num_replicas"] == 2
        history = result["history"]
        assert history["dropout/rate"] == pytest.approx(RATES)
        assert history["loss"] == pytest.approx(RATES, abs=LOSS_TOLERANCE)
        # Each worker's own copy of the layer drops at the scheduled rate:
        # 64 rows of 2000 draws, a standard deviation of at most 0.0014.
        for epoch, fractions in enumerate(result["replica_zero_fractions"]):
            assert fractions == pytest.approx([RATES[epoch]], abs=0.01)
        assert result["final_rate"] == pytest.approx(RATES[-1])
    assert (
        workers[0]["history"]["dropout/rate"]
        == (workers[1]["history"]["dropout/rate"])
    )


def test_coadaptation_monitor_measures_the_same_values_on_both(workers):
    for result in workers:
        history = result["history"]
        expected = result["expected_coadaptation"]
        assert expected
        for name, value in expected.items():
            assert history[f"coadaptation/dropout/{name}"] == pytest.approx(
                [value] * len(RATES), rel=1e-4, abs=1e-6
            )
    assert (
        workers[0]["expected_coadaptation"]
        == (workers[1]["expected_coadaptation"])
    )


def test_workers_draw_the_same_mask_for_their_shards(workers):
    # A known limitation of mirrored strategies: the seed state is a
    # mirrored variable, so every replica draws the same mask.
    masks = [np.array(result["masks"]) for result in workers]
    assert masks[0].shape == (1, 2, 64)
    assert 0 < masks[0].mean() < 1
    np.testing.assert_array_equal(masks[0], masks[1])


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="keras-team/keras#20585: Keras 3.15's fit fails under "
    "MultiWorkerMirroredStrategy",
)
def test_keras_fit_works_with_multi_worker_mirrored_strategy(workers):
    errors = [result["fit_error"] for result in workers]
    assert errors == [None, None]
