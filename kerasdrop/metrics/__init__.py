"""Calibration metrics for `model.compile(metrics=...)` and `evaluate`.

Streaming `keras.metrics.Metric` forms of the measures of
`kerasdrop.analysis.calibration`, registered for `keras.saving`.
"""

from kerasdrop.metrics.brier_score import BrierScore
from kerasdrop.metrics.calibration_error import ExpectedCalibrationError
from kerasdrop.metrics.calibration_error import MaximumCalibrationError
from kerasdrop.metrics.negative_log_likelihood import NegativeLogLikelihood
