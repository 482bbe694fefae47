"""kerasdrop: dropout as a first-class, schedulable, measurable part of
training in Keras 3."""

from kerasdrop import callbacks
from kerasdrop import layers
from kerasdrop import schedules
from kerasdrop.layers import ScheduledDropout
from kerasdrop.layers import ScheduledSpatialDropout1D
from kerasdrop.layers import ScheduledSpatialDropout2D
from kerasdrop.layers import ScheduledSpatialDropout3D
from kerasdrop.version import __version__
