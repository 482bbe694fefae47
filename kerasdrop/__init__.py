"""kerasdrop: dropout as a first-class, schedulable, measurable part of
training in Keras 3."""

from kerasdrop import analysis
from kerasdrop import callbacks
from kerasdrop import layers
from kerasdrop import rnn
from kerasdrop import schedules
from kerasdrop import transfer
from kerasdrop.layers import ConcreteDropout
from kerasdrop.layers import DropBlock2D
from kerasdrop.layers import DropPath
from kerasdrop.layers import EmbeddingDropout
from kerasdrop.layers import ScheduledDropout
from kerasdrop.layers import ScheduledSpatialDropout1D
from kerasdrop.layers import ScheduledSpatialDropout2D
from kerasdrop.layers import ScheduledSpatialDropout3D
from kerasdrop.rnn import VariationalDropout
from kerasdrop.rnn import VariationalDropoutCell
from kerasdrop.rnn import VariationalGRU
from kerasdrop.rnn import VariationalLSTM
from kerasdrop.rnn import WeightDropGRU
from kerasdrop.rnn import WeightDropLSTM
from kerasdrop.rnn import ZoneoutCell
from kerasdrop.rnn import ZoneoutGRU
from kerasdrop.rnn import ZoneoutLSTM
from kerasdrop.version import __version__
