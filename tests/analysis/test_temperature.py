"""Fitting a temperature: the minimum of the validation NLL, for one pass
and for Monte-Carlo samples."""

import numpy as np
import pytest

from kerasdrop.analysis import apply_temperature
from kerasdrop.analysis import fit_temperature
from kerasdrop.analysis import negative_log_likelihood


def _logits(rows=3000, classes=5, seed=0, scale=3.0):
    return scale * np.random.default_rng(seed).standard_normal((rows, classes))


def _labels_at(logits, temperature, seed=1):
    rng = np.random.default_rng(seed)
    probabilities = apply_temperature(logits, temperature)
    return np.array([rng.choice(len(p), p=p) for p in probabilities])


def _reference_nll(logits, labels, temperature):
    """NLL of the mean over samples of softmax(z / T), by direct sums."""
    z = np.asarray(logits) / temperature
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    if p.ndim == 3:
        p = p.mean(axis=0)
    return -np.mean(np.log(p[np.arange(len(labels)), labels]))


@pytest.mark.parametrize("true_temperature", [0.5, 1.0, 2.5])
def test_recovers_the_temperature_the_labels_were_drawn_at(true_temperature):
    logits = _logits()
    labels = _labels_at(logits, true_temperature)
    fitted = fit_temperature(logits, labels)
    # The maximum-likelihood estimate from 3000 rows: within 10% (its
    # standard error here is about 3%).
    assert fitted == pytest.approx(true_temperature, rel=0.1)


def test_the_fit_is_the_minimum_of_a_dense_grid():
    logits = _logits(rows=500)
    labels = _labels_at(logits, 1.7)
    fitted = fit_temperature(logits, labels)
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 4001))
    best = min(_reference_nll(logits, labels, t) for t in grid)
    assert _reference_nll(logits, labels, fitted) <= best + 1e-9


def test_monte_carlo_samples_are_fitted_for_the_mean_of_the_softmaxes():
    rng = np.random.default_rng(2)
    centre = _logits(rows=400)
    samples = centre + 1.5 * rng.standard_normal((8,) + centre.shape)
    labels = _labels_at(centre, 2.0)
    fitted = fit_temperature(samples, labels)
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 2001))
    best = min(_reference_nll(samples, labels, t) for t in grid)
    assert _reference_nll(samples, labels, fitted) <= best + 1e-9
    # apply_temperature gives the probabilities whose NLL was minimized.
    probabilities = apply_temperature(samples, fitted)
    assert negative_log_likelihood(probabilities, labels) == pytest.approx(
        _reference_nll(samples, labels, fitted), abs=1e-12
    )


def test_temperature_never_changes_the_predicted_class():
    logits = _logits(rows=200)
    for temperature in (0.1, 1.0, 7.0):
        np.testing.assert_array_equal(
            apply_temperature(logits, temperature).argmax(axis=-1),
            logits.argmax(axis=-1),
        )


def test_a_sigmoid_logit_is_two_classes():
    rng = np.random.default_rng(3)
    z = 4.0 * rng.standard_normal((2000, 1))
    labels = (rng.uniform(size=2000) < 1 / (1 + np.exp(-z[:, 0] / 3))) * 1
    two = np.concatenate([np.zeros_like(z), z], axis=-1)
    assert fit_temperature(z, labels) == pytest.approx(
        fit_temperature(two, labels), rel=1e-6
    )
    np.testing.assert_allclose(
        apply_temperature(z, 2.0)[:, 1], 1 / (1 + np.exp(-z[:, 0] / 2))
    )


def test_the_fit_stays_within_bounds():
    logits = _logits(rows=300)
    labels = _labels_at(logits, 10.0)
    assert fit_temperature(logits, labels, bounds=(0.5, 2.0)) == (
        pytest.approx(2.0, rel=1e-6)
    )


def test_bad_inputs_raise_value_errors():
    logits = _logits(rows=4)
    with pytest.raises(ValueError, match="finite"):
        fit_temperature(np.full((2, 3), np.nan), [0, 1])
    with pytest.raises(ValueError, match="shape \\(rows, classes\\)"):
        fit_temperature(np.zeros(3), [0, 1, 2])
    with pytest.raises(ValueError, match="from 0 to 4"):
        fit_temperature(logits, [0, 1, 2, 5])
    with pytest.raises(ValueError, match="one class index"):
        fit_temperature(logits, [0, 1])
    with pytest.raises(ValueError, match="bounds"):
        fit_temperature(logits, [0, 1, 2, 3], bounds=(2.0, 1.0))
    with pytest.raises(ValueError, match="temperature"):
        apply_temperature(logits, -1.0)
