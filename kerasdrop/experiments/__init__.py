"""Does dropout help *this* model? Paired experiments over seeds.

- `compare` trains dropout variants (`Variant`: a rate, a schedule,
  callbacks, a transform of the model) of one model, paired by seed: the
  same initial weights, batches, batch order and dropout seeds; it returns
  an `ExperimentResult` with each variant's paired difference to a
  reference, its confidence interval and a verdict.
- `paired_difference`, `verdict`, `t_quantile`: the statistics, usable on
  any per-seed numbers.
- `batch_order`, `copy_initial_weights`: the pairing, for training loops
  of one's own.
"""

from kerasdrop.experiments import pairing
from kerasdrop.experiments import statistics
from kerasdrop.experiments.compare import compare
from kerasdrop.experiments.compare import metric_mode
from kerasdrop.experiments.experiment_result import ExperimentResult
from kerasdrop.experiments.pairing import batch_order
from kerasdrop.experiments.pairing import copy_initial_weights
from kerasdrop.experiments.pairing import initial_weights
from kerasdrop.experiments.pairing import shared_weights
from kerasdrop.experiments.statistics import CONTRADICTED
from kerasdrop.experiments.statistics import NOT_DISTINGUISHABLE
from kerasdrop.experiments.statistics import REPRODUCED
from kerasdrop.experiments.statistics import VERDICTS
from kerasdrop.experiments.statistics import format_paired
from kerasdrop.experiments.statistics import mean_std
from kerasdrop.experiments.statistics import paired_difference
from kerasdrop.experiments.statistics import t_quantile
from kerasdrop.experiments.statistics import verdict
from kerasdrop.experiments.variant import Variant
