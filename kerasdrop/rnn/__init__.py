"""Recurrent dropout: variational, weight-dropped and zoneout RNNs.

Every rate is a variable (see `kerasdrop.layers.rates`), so
`kerasdrop.callbacks.DropoutScheduler` drives them during `fit`.
"""

from kerasdrop.rnn.variational_dropout import VariationalDropout
from kerasdrop.rnn.variational_dropout_cell import VariationalDropoutCell
from kerasdrop.rnn.variational_gru import VariationalGRU
from kerasdrop.rnn.variational_lstm import VariationalLSTM
from kerasdrop.rnn.weight_drop_gru import WeightDropGRU
from kerasdrop.rnn.weight_drop_lstm import WeightDropLSTM
from kerasdrop.rnn.zoneout_cell import ZoneoutCell
from kerasdrop.rnn.zoneout_gru import ZoneoutGRU
from kerasdrop.rnn.zoneout_lstm import ZoneoutLSTM
