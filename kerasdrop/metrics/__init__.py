"""Calibration metrics for `model.compile(metrics=...)` and `evaluate`.

`keras.metrics.Metric` forms of the measures of
`kerasdrop.analysis.calibration` and `kerasdrop.analysis.selective`,
registered for `keras.saving`. `NegativeLogLikelihood`, `BrierScore`,
`ExpectedCalibrationError` and `MaximumCalibrationError` keep sums;
`AdaptiveCalibrationError` and `AreaUnderRiskCoverage` need every row, and
keep up to `max_rows` of them.
"""

from kerasdrop.metrics.adaptive_calibration_error import (
    AdaptiveCalibrationError,
)
from kerasdrop.metrics.area_under_risk_coverage import AreaUnderRiskCoverage
from kerasdrop.metrics.brier_score import BrierScore
from kerasdrop.metrics.calibration_error import ExpectedCalibrationError
from kerasdrop.metrics.calibration_error import MaximumCalibrationError
from kerasdrop.metrics.negative_log_likelihood import NegativeLogLikelihood
