"""Keras callbacks that drive and measure dropout."""

from kerasdrop.callbacks.coadaptation_monitor import CoAdaptationMonitor
from kerasdrop.callbacks.dropout_scheduler import DropoutScheduler
