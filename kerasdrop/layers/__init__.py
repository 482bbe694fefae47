"""Feed-forward dropout layers, the shared rate/mask mechanism, and
temperature scaling."""

from kerasdrop.layers.concrete_dropout import ConcreteDropout
from kerasdrop.layers.concrete_dropout import concrete_dropout_regularizers
from kerasdrop.layers.depth import depth_rates
from kerasdrop.layers.depth import rate_profile
from kerasdrop.layers.drop_block import DropBlock2D
from kerasdrop.layers.drop_path import DropPath
from kerasdrop.layers.embedding_dropout import EmbeddingDropout
from kerasdrop.layers.masks import dropout
from kerasdrop.layers.masks import dropout_mask
from kerasdrop.layers.rates import Rate
from kerasdrop.layers.rates import RateMixin
from kerasdrop.layers.rates import validate_rate
from kerasdrop.layers.scheduled_alpha_dropout import ScheduledAlphaDropout
from kerasdrop.layers.scheduled_dropout import ScheduledDropout
from kerasdrop.layers.scheduled_gaussian_dropout import ScheduledGaussianDropout
from kerasdrop.layers.scheduled_gaussian_noise import ScheduledGaussianNoise
from kerasdrop.layers.scheduled_multi_head_attention import (
    ScheduledMultiHeadAttention,
)
from kerasdrop.layers.scheduled_spatial_dropout import ScheduledSpatialDropout1D
from kerasdrop.layers.scheduled_spatial_dropout import ScheduledSpatialDropout2D
from kerasdrop.layers.scheduled_spatial_dropout import ScheduledSpatialDropout3D
from kerasdrop.layers.temperature_scaling import TemperatureScaling
