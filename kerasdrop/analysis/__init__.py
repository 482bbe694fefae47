"""Measuring co-adaptation, checking the ensemble view of dropout, and the
uncertainty of Monte-Carlo dropout predictions."""

from kerasdrop.analysis import ablation
from kerasdrop.analysis import batch_norm
from kerasdrop.analysis import coadaptation
from kerasdrop.analysis import ensemble
from kerasdrop.analysis import probe_data
from kerasdrop.analysis import probes
from kerasdrop.analysis import uncertainty
from kerasdrop.analysis.ablation import ablation_curve
from kerasdrop.analysis.ablation import ablation_interaction
from kerasdrop.analysis.batch_norm import variance_shift
from kerasdrop.analysis.coadaptation import correlation_matrix
from kerasdrop.analysis.coadaptation import decov
from kerasdrop.analysis.coadaptation import effective_rank
from kerasdrop.analysis.coadaptation import mean_absolute_correlation
from kerasdrop.analysis.coadaptation import participation_ratio
from kerasdrop.analysis.coadaptation import sparsity
from kerasdrop.analysis.coadaptation import summarize
from kerasdrop.analysis.coadaptation import unit_mean_activations
from kerasdrop.analysis.ensemble import all_masks
from kerasdrop.analysis.ensemble import exact_average
from kerasdrop.analysis.ensemble import mc_predict
from kerasdrop.analysis.probe_data import read_probe
from kerasdrop.analysis.probes import layer_activations
from kerasdrop.analysis.uncertainty import calibration_bins
from kerasdrop.analysis.uncertainty import expected_calibration_error
from kerasdrop.analysis.uncertainty import expected_entropy
from kerasdrop.analysis.uncertainty import mutual_information
from kerasdrop.analysis.uncertainty import predictive_entropy
from kerasdrop.analysis.uncertainty import reliability_diagram
