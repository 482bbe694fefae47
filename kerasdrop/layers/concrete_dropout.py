"""Concrete dropout: a dropout rate learned by gradient descent.

A Bernoulli mask has no gradient with respect to its rate. Concrete dropout
replaces it during training by its continuous relaxation (the Concrete or
Gumbel-softmax distribution at a low temperature), so the rate, kept as a
trainable logit, is learned with the weights. A regularizer from the
variational interpretation of dropout keeps it from collapsing to 0: the
entropy of the dropout distribution, weighted by `dropout_regularizer`,
pulls it up; the weight decay of the layer's kernel, weighted by
`weight_regularizer / (1 - rate)`, pulls it down. Both weights are
`1 / N` for `N` training examples, so with more data the data term wins
and the learned rate falls.

Reference: Gal, Hron and Kendall, 2017, "Concrete Dropout"; the reference
implementation is the Keras 2 `ConcreteDropout` wrapper of
github.com/yaringal/ConcreteDropout.
"""

import math
import numbers

import keras
from keras import ops

from kerasdrop.layers.rates import SamplingSwitch

_EPSILON = 1e-7


def concrete_dropout_regularizers(
    num_samples, length_scale=1e-4, precision=1.0, cross_entropy=False
):
    """The regularizer weights of `ConcreteDropout` for a data set size.

    As in the reference implementation:
    `weight_regularizer = length_scale**2 / (precision * num_samples)` and
    `dropout_regularizer = 2 / (precision * num_samples)`, where
    `length_scale` is the prior length scale `l` of the weights and
    `precision` the model precision `tau` (1 / observation noise variance).
    For a cross-entropy loss the factor 2 of the dropout term is dropped.

    Args:
        num_samples: `N`, the number of training examples.
        length_scale: The prior length scale `l`.
        precision: The model precision `tau`.
        cross_entropy: Whether the model is trained with a cross-entropy
            loss rather than a squared error.

    Returns:
        A dict with `weight_regularizer` and `dropout_regularizer`, to pass
        to `ConcreteDropout` as keyword arguments.

    Examples:
        >>> concrete_dropout_regularizers(1000, length_scale=0.5)
        {'weight_regularizer': 0.00025, 'dropout_regularizer': 0.002}
    """
    for name, value in (
        ("num_samples", num_samples),
        ("length_scale", length_scale),
        ("precision", precision),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not value > 0
        ):
            raise ValueError(
                f"Invalid value received for argument `{name}`. Expected a "
                f"positive number. Received: {name}={value!r}"
            )
    scale = precision * num_samples
    return {
        "weight_regularizer": length_scale**2 / scale,
        "dropout_regularizer": (1.0 if cross_entropy else 2.0) / scale,
    }


def concrete_dropout(inputs, rate_logit, temperature, seed):
    """Applies the relaxed (Concrete) dropout mask to `inputs`.

    Each unit is multiplied by `(1 - z) / (1 - rate)`, where
    `z = sigmoid((logit(rate) + logit(u)) / temperature)` with `u` uniform:
    a differentiable stand-in for a Bernoulli(`rate`) drop indicator, close
    to 0 or 1 at a low temperature.

    Args:
        inputs: Input tensor.
        rate_logit: `log(rate / (1 - rate))`, a scalar tensor or variable.
        temperature: The relaxation temperature (0.1 in the paper).
        seed: A `keras.random.SeedGenerator` (or an integer seed).

    Returns:
        The dropped inputs, differentiable with respect to `rate_logit`.
    """
    rate_logit = ops.cast(rate_logit, "float32")
    noise = keras.random.uniform(ops.shape(inputs), seed=seed, dtype="float32")
    noise_logit = ops.log(noise + _EPSILON) - ops.log(1.0 - noise + _EPSILON)
    drop = ops.sigmoid((rate_logit + noise_logit) / temperature)
    mask = (1.0 - drop) / (1.0 - ops.sigmoid(rate_logit))
    return ops.multiply(inputs, ops.cast(mask, inputs.dtype))


def _logit(probability):
    return math.log(probability) - math.log(1.0 - probability)


def _validate_probability(value, name):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0.0 < value < 1.0
    ):
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a "
            f"float strictly between 0 and 1. Received: {name}={value!r}"
        )
    return float(value)


def _validate_non_negative(value, name):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not value >= 0
    ):
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a "
            f"non-negative number. Received: {name}={value!r}"
        )
    return float(value)


@keras.saving.register_keras_serializable(package="kerasdrop")
class ConcreteDropout(SamplingSwitch, keras.layers.Wrapper):
    """Dropout on the inputs of a layer, with a rate learned in training.

    Wraps a layer with a kernel (such as `Dense`): during training its
    inputs are dropped with the Concrete relaxation of a Bernoulli mask
    (temperature `temperature`), so the rate is learned by gradient descent
    with the weights, through a trainable logit. A regularizer is added to
    the model's losses (in `model.losses`, and so in `fit` and `evaluate`):

    `weight_regularizer * sum(kernel**2) / (1 - rate)
    + dropout_regularizer * input_dim * (rate * log(rate)
    + (1 - rate) * log(1 - rate))`

    with `input_dim` the size of the inputs' last axis. Derive the two
    weights from the number of training examples `N` with
    `kerasdrop.layers.concrete_dropout_regularizers` (`l**2 / N` and
    `2 / N`): the learned rate then falls as `N` grows. Do not give the
    wrapped layer a `kernel_regularizer`; this is its weight decay.

    The rate is learned, not scheduled: it is not a rate variable, so
    `kerasdrop.callbacks.DropoutScheduler` leaves it alone, and `layer.rate`
    only reads it. `kerasdrop.analysis.mc_predict` switches the layer on
    like any dropout layer, for Monte-Carlo predictions. At inference the
    layer is the wrapped layer on the undropped inputs (inverted scaling:
    the kept inputs are scaled by `1 / (1 - rate)` in training).

    Reference: Gal, Hron and Kendall, 2017, "Concrete Dropout".

    Args:
        layer: The wrapped `keras.layers.Layer`; it must have a `kernel`
            once built.
        weight_regularizer: Float >= 0, `l**2 / (tau * N)`.
        dropout_regularizer: Float >= 0, `2 / (tau * N)` (`1 / (tau * N)`
            for a cross-entropy loss).
        init_min: Lowest initial rate, strictly between 0 and 1.
        init_max: Highest initial rate; the initial rate is drawn uniformly
            between the logits of `init_min` and `init_max`.
        temperature: Float > 0, the temperature of the relaxation.
        seed: Python integer, the random seed.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: Input tensor of the wrapped layer.
        training: Python boolean: drop inputs (`True`) or not (`False`, the
            default).

    Input shape:
        The wrapped layer's.

    Output shape:
        The wrapped layer's.

    Examples:
        >>> layer = kerasdrop.ConcreteDropout(
        ...     keras.layers.Dense(3),
        ...     **kerasdrop.layers.concrete_dropout_regularizers(1000),
        ...     init_min=0.2, init_max=0.2, seed=0,
        ... )
        >>> y = layer(np.ones((4, 5)), training=True)
        >>> print(keras.ops.shape(y))
        (4, 3)
        >>> round(layer.rate, 4)
        0.2
        >>> len(layer.losses)  # the regularizer
        1
    """

    def __init__(
        self,
        layer,
        weight_regularizer=1e-6,
        dropout_regularizer=1e-5,
        init_min=0.1,
        init_max=0.1,
        temperature=0.1,
        seed=None,
        **kwargs,
    ):
        if not isinstance(layer, keras.layers.Layer):
            raise ValueError(
                "Invalid value received for argument `layer`. Expected a "
                "`keras.layers.Layer` with a kernel, such as `Dense`. "
                f"Received: layer={layer!r}"
            )
        if getattr(layer, "kernel_regularizer", None) is not None:
            raise ValueError(
                "Invalid value received for argument `layer`. ConcreteDropout "
                "adds the weight decay of the wrapped layer's kernel itself "
                "(`weight_regularizer`), so the layer must not have a "
                "`kernel_regularizer`. Received: layer with "
                f"kernel_regularizer={layer.kernel_regularizer!r}"
            )
        weight_regularizer = _validate_non_negative(
            weight_regularizer, "weight_regularizer"
        )
        dropout_regularizer = _validate_non_negative(
            dropout_regularizer, "dropout_regularizer"
        )
        init_min = _validate_probability(init_min, "init_min")
        init_max = _validate_probability(init_max, "init_max")
        if init_max < init_min:
            raise ValueError(
                "Invalid value received for argument `init_max`. Expected "
                f"init_max >= init_min={init_min}. Received: "
                f"init_max={init_max}"
            )
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, numbers.Real)
            or not temperature > 0
        ):
            raise ValueError(
                "Invalid value received for argument `temperature`. Expected "
                f"a positive number. Received: temperature={temperature!r}"
            )
        super().__init__(layer, **kwargs)
        self.weight_regularizer = weight_regularizer
        self.dropout_regularizer = dropout_regularizer
        self.init_min = init_min
        self.init_max = init_max
        self.temperature = float(temperature)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        self.rate_logit = None

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
        if getattr(self.layer, "kernel", None) is None:
            raise ValueError(
                "ConcreteDropout needs a layer with a `kernel` (such as "
                "`Dense`), whose weight decay is part of its regularizer. "
                f"Received: layer '{self.layer.name}' of type "
                f"{type(self.layer).__name__}"
            )
        self.input_dim = int(input_shape[-1])
        self.rate_logit = self.add_weight(
            shape=(),
            initializer=keras.initializers.RandomUniform(
                _logit(self.init_min), _logit(self.init_max), seed=self.seed
            ),
            dtype="float32",
            trainable=True,
            autocast=False,
            regularizer=self._regularization,
            name="rate_logit",
        )
        self.built = True

    @property
    def rate(self):
        """The current learned rate, a float (`None` before building)."""
        if self.rate_logit is None:
            return None
        return float(ops.convert_to_numpy(ops.sigmoid(self.rate_logit)))

    def _regularization(self, rate_logit):
        rate = ops.sigmoid(ops.cast(rate_logit, "float32"))
        kernel = ops.cast(self.layer.kernel, "float32")
        weight_term = (
            self.weight_regularizer * ops.sum(ops.square(kernel)) / (1 - rate)
        )
        negative_entropy = rate * ops.log(rate + _EPSILON) + (
            1.0 - rate
        ) * ops.log(1.0 - rate + _EPSILON)
        dropout_term = (
            self.dropout_regularizer * self.input_dim * negative_entropy
        )
        return weight_term + dropout_term

    def call(self, inputs, training=False):
        if training:
            inputs = concrete_dropout(
                inputs, self.rate_logit, self.temperature, self.seed_generator
            )
        return self.layer(inputs)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = {
            "weight_regularizer": self.weight_regularizer,
            "dropout_regularizer": self.dropout_regularizer,
            "init_min": self.init_min,
            "init_max": self.init_max,
            "temperature": self.temperature,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        # Keras's `Wrapper.from_config` pops the layer out of the dict.
        return super().from_config(dict(config), custom_objects)
