"""Whole-model operations on dropout: one walk of a model (`walk.walk_layers`), finding
and keying its rates (`find_rates`), converting Keras's dropout into
schedulable rates (`make_schedulable`) and inserting dropout after chosen
layers (`insert_dropout`), and stochastic depth on every residual block
(`add_stochastic_depth`)."""

from kerasdrop.models.insert_dropout import insert_dropout
from kerasdrop.models.make_schedulable import make_schedulable
from kerasdrop.models.make_schedulable import saved_rates
from kerasdrop.models.stochastic_depth import add_stochastic_depth
from kerasdrop.models.stochastic_depth import find_residual_blocks
from kerasdrop.models.walk import UnschedulableDropout
from kerasdrop.models.walk import find_rates
from kerasdrop.models.walk import find_unschedulable_dropout
from kerasdrop.models.walk import layer_matcher
