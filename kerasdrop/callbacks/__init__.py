"""Keras callbacks that drive and measure dropout."""

from kerasdrop.callbacks.dropout_scheduler import DropoutScheduler
