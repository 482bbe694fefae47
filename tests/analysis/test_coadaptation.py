import numpy as np
import pytest

from kerasdrop.analysis import coadaptation


def _rng(seed=0):
    return np.random.default_rng(seed)


def _orthogonal_design(variances):
    """Activations whose covariance is exactly `diag(variances)`.

    Unit k is `+s` on one sample, `-s` on another and 0 elsewhere, so the
    units are centred, uncorrelated and of variance `2 s^2 / num_samples`.
    """
    num_units = len(variances)
    num_samples = 2 * num_units
    matrix = np.zeros((num_samples, num_units))
    for unit, variance in enumerate(variances):
        scale = np.sqrt(variance * num_samples / 2.0)
        matrix[2 * unit, unit] = scale
        matrix[2 * unit + 1, unit] = -scale
    return matrix + 3.0  # An offset the measures must remove.


def test_duplicated_units_have_correlation_one():
    signal = _rng().standard_normal((200, 1))
    activations = np.concatenate([signal, signal, 2 * signal, -signal], 1)
    # The measures compute in float32.
    assert coadaptation.mean_absolute_correlation(activations) == (
        pytest.approx(1.0, abs=1e-6)
    )
    np.testing.assert_allclose(
        np.abs(coadaptation.correlation_matrix(activations)), 1.0, atol=1e-6
    )


def test_independent_units_have_correlation_near_zero():
    # 20000 samples: each sample correlation has a standard deviation of
    # about 0.007, so the mean absolute value is about 0.0056.
    activations = _rng(1).standard_normal((20000, 10)) + 5.0
    value = coadaptation.mean_absolute_correlation(activations)
    assert value < 0.015


def test_correlation_matrix_matches_numpy():
    activations = _rng(2).standard_normal((50, 4)) @ _rng(3).random((4, 4))
    np.testing.assert_allclose(
        coadaptation.correlation_matrix(activations),
        np.corrcoef(activations, rowvar=False),
        atol=1e-6,
    )


def test_decov_matches_its_definition():
    activations = _rng(4).standard_normal((30, 5)) @ _rng(5).random((5, 5))
    covariance = np.cov(activations, rowvar=False, bias=True)
    expected = 0.5 * (np.sum(covariance**2) - np.sum(np.diag(covariance) ** 2))
    assert coadaptation.decov(activations) == pytest.approx(expected)
    # Uncorrelated units have no DeCov, whatever their variances.
    assert coadaptation.decov(_orthogonal_design([1.0, 4.0, 9.0])) == (
        pytest.approx(0.0, abs=1e-12)
    )


def test_identity_covariance_has_full_effective_rank():
    activations = _orthogonal_design([1.0] * 6)
    np.testing.assert_allclose(
        np.cov(activations, rowvar=False, bias=True), np.eye(6), atol=1e-12
    )
    assert coadaptation.effective_rank(activations) == pytest.approx(6.0)
    assert coadaptation.participation_ratio(activations) == (pytest.approx(6.0))


def test_effective_rank_of_a_known_spectrum():
    # Eigenvalues 4 and 1: p = (0.8, 0.2); participation 25 / 17.
    activations = _orthogonal_design([4.0, 1.0])
    entropy = -(0.8 * np.log(0.8) + 0.2 * np.log(0.2))
    assert coadaptation.effective_rank(activations) == (
        pytest.approx(np.exp(entropy))
    )
    assert coadaptation.participation_ratio(activations) == (
        pytest.approx(25.0 / 17.0)
    )


def test_effective_rank_with_more_units_than_samples():
    # 3 samples of 10 units span at most 2 centred directions.
    activations = _rng(6).standard_normal((3, 10))
    value = coadaptation.effective_rank(activations)
    assert 1.0 < value <= 2.0 + 1e-9
    eigenvalues = np.linalg.eigvalsh(np.cov(activations, rowvar=False))
    p = np.clip(eigenvalues, 0, None) / np.clip(eigenvalues, 0, None).sum()
    p = p[p > 1e-12]
    assert value == pytest.approx(np.exp(-np.sum(p * np.log(p))))


def test_copies_of_one_signal_have_effective_rank_one():
    signal = _rng(7).standard_normal((100, 1))
    activations = np.concatenate([signal, 3 * signal, -signal], axis=1)
    assert coadaptation.effective_rank(activations) == pytest.approx(1.0)
    assert coadaptation.participation_ratio(activations) == (pytest.approx(1.0))


def test_sparsity_counts_near_zero_activations():
    activations = np.array([[0.0, 1e-8, 0.5], [2.0, 0.0, -1e-7]])
    assert coadaptation.sparsity(activations) == pytest.approx(4 / 6)
    assert coadaptation.sparsity(activations, threshold=0.0) == (
        pytest.approx(2 / 6)
    )
    with pytest.raises(ValueError, match="threshold"):
        coadaptation.sparsity(activations, threshold=-1.0)


def test_unit_mean_activations():
    activations = np.array([[0.0, 1.0, 4.0], [2.0, 3.0, 4.0]])
    np.testing.assert_allclose(
        coadaptation.unit_mean_activations(activations), [1.0, 2.0, 4.0]
    )


def test_constant_units_have_zero_correlation():
    signal = _rng(8).standard_normal((40, 1))
    activations = np.concatenate(
        [signal, 2 * signal, np.full((40, 1), 7.0), np.zeros((40, 1))], 1
    )
    correlation = coadaptation.correlation_matrix(activations)
    assert np.all(np.isfinite(correlation))
    np.testing.assert_array_equal(correlation[2:], 0.0)
    np.testing.assert_array_equal(correlation[:, 2:], 0.0)
    # Only the pair of varying units counts.
    assert coadaptation.mean_absolute_correlation(activations) == (
        pytest.approx(1.0)
    )


def test_all_constant_units_give_zero_measures():
    activations = np.full((10, 3), 2.5)
    summary = coadaptation.summarize(
        activations, coadaptation.ACTIVATION_MEASURES
    )
    assert summary == {
        "correlation": 0.0,
        "decov": 0.0,
        "effective_rank": 0.0,
        "participation_ratio": 0.0,
        "sparsity": 0.0,
    }


def test_a_single_sample_raises_for_covariance_measures():
    activations = np.ones((1, 4))
    for function in (
        coadaptation.mean_absolute_correlation,
        coadaptation.decov,
        coadaptation.effective_rank,
        coadaptation.participation_ratio,
        coadaptation.correlation_matrix,
    ):
        with pytest.raises(ValueError, match="at least 2 samples"):
            function(activations)
    # Sparsity and unit means are defined on one sample.
    assert coadaptation.sparsity(activations) == 0.0
    np.testing.assert_array_equal(
        coadaptation.unit_mean_activations(activations), 1.0
    )


def test_nan_activations_raise():
    activations = _rng().standard_normal((5, 3))
    activations[2, 1] = np.nan
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        coadaptation.summarize(activations)
    with pytest.raises(ValueError, match="NaN"):
        coadaptation.sparsity(activations)


def test_one_dimensional_activations_raise():
    with pytest.raises(ValueError, match=r"\(samples, units\)"):
        coadaptation.decov(np.ones(5))


def test_higher_rank_activations_treat_positions_as_samples():
    activations = _rng(9).standard_normal((6, 5, 4))
    np.testing.assert_allclose(
        coadaptation.correlation_matrix(activations),
        coadaptation.correlation_matrix(activations.reshape(30, 4)),
    )


def test_summarize_matches_the_single_measures():
    activations = _rng(10).random((64, 8)) * (_rng(11).random(8) > 0.3)
    summary = coadaptation.summarize(
        activations, coadaptation.ACTIVATION_MEASURES
    )
    assert summary["correlation"] == pytest.approx(
        coadaptation.mean_absolute_correlation(activations)
    )
    assert summary["decov"] == pytest.approx(coadaptation.decov(activations))
    assert summary["effective_rank"] == pytest.approx(
        coadaptation.effective_rank(activations)
    )
    assert summary["sparsity"] == pytest.approx(
        coadaptation.sparsity(activations)
    )


@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
def test_measure_tensors_are_nan_for_non_finite_activations(bad_value):
    activations = np.random.default_rng(0).standard_normal((20, 5))
    measures = coadaptation.ACTIVATION_MEASURES
    finite = coadaptation.measure_tensors(activations, measures)
    expected = coadaptation.summarize(activations, measures)
    for name in measures:
        assert float(finite[name]) == pytest.approx(expected[name], rel=1e-6)
    activations[3, 2] = bad_value
    values = coadaptation.measure_tensors(activations, measures)
    assert all(np.isnan(float(values[name])) for name in measures)


def test_unknown_measure_raises():
    with pytest.raises(ValueError, match="measures"):
        coadaptation.summarize(np.ones((3, 2)), ["correlations"])
