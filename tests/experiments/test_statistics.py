import math

import numpy as np
import pytest

from kerasdrop import experiments

# Two-sided 95% critical values of Student's t (any printed table).
T_TABLE = {1: 12.706, 2: 4.303, 4: 2.776, 9: 2.262, 19: 2.093, 29: 2.045}


@pytest.mark.parametrize("df", sorted(T_TABLE))
def test_t_quantile_matches_the_printed_table(df):
    # The table rounds to 3 decimals.
    assert experiments.t_quantile(0.95, df) == pytest.approx(
        T_TABLE[df], abs=5e-4
    )


def test_t_quantile_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in range(1, 60):
        for confidence in (0.5, 0.9, 0.95, 0.99):
            expected = stats.t.ppf(0.5 + confidence / 2, df)
            # Bisection to the last bits of a float.
            assert experiments.t_quantile(confidence, df) == pytest.approx(
                expected, rel=1e-9
            )


@pytest.mark.parametrize("confidence,df", [(0.0, 3), (1.0, 3), (0.95, 0)])
def test_t_quantile_rejects_invalid_arguments(confidence, df):
    with pytest.raises(ValueError, match="Received"):
        experiments.t_quantile(confidence, df)


def test_interval_is_the_t_interval_of_the_mean():
    values = [0.82, 0.83, 0.825, 0.855]
    reference = [0.80, 0.80, 0.80, 0.82]
    d = experiments.paired_difference(values, reference)
    differences = np.array(values) - np.array(reference)
    mean = differences.mean()
    std = differences.std(ddof=1)
    half = 3.182446305 * std / math.sqrt(4)  # t(0.975, 3)
    assert d["mean"] == pytest.approx(mean, abs=1e-12)
    assert d["std"] == pytest.approx(std, abs=1e-12)
    assert d["ci_low"] == pytest.approx(mean - half, abs=1e-9)
    assert d["ci_high"] == pytest.approx(mean + half, abs=1e-9)
    assert (d["wins"], d["ties"], d["losses"]) == (4, 0, 0)
    assert d["verdict"] == "reproduced"


def test_four_of_five_signs_within_the_noise_is_not_a_verdict():
    # A mean a quarter of its standard deviation, 4 of 5 seeds worse: the
    # old sign rule said "contradicted".
    differences = np.array([-0.02, -0.01, -0.015, -0.012, 0.032])
    d = experiments.paired_difference(differences, np.zeros(5))
    assert d["losses"] == 4
    assert d["ci_low"] < 0 < d["ci_high"]
    assert d["verdict"] == "not distinguishable from noise here"


def test_lower_is_better_turns_the_verdict_around():
    lower = [0.30, 0.31, 0.29]
    higher = [0.40, 0.42, 0.41]
    d = experiments.paired_difference(lower, higher, higher_is_better=False)
    assert d["wins"] == 3 and d["verdict"] == "reproduced"
    d = experiments.paired_difference(higher, lower, higher_is_better=False)
    assert d["losses"] == 3 and d["verdict"] == "contradicted"


def test_equal_values_and_a_single_seed_give_no_verdict():
    tie = experiments.paired_difference([0.5, 0.6], [0.5, 0.6])
    assert tie["ties"] == 2
    assert tie["verdict"] == "not distinguishable from noise here"
    single = experiments.paired_difference([0.9], [0.1])
    assert math.isnan(single["ci_low"])
    assert single["verdict"] == "not distinguishable from noise here"


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="same length"):
        experiments.paired_difference([1.0, 2.0], [1.0])


def test_format_paired_shows_the_interval_and_the_wins():
    d = experiments.paired_difference([0.8, 0.9], [0.7, 0.7])
    text = experiments.format_paired(d)
    assert text.startswith("+0.150 ± 0.071 [")
    assert text.endswith("(2/2)")
