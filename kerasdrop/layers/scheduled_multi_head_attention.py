"""Multi-head attention whose attention dropout rate can change in `fit`.

Reference: Vaswani et al., 2017, "Attention Is All You Need".
"""

import contextlib

import keras

from kerasdrop.layers import _in_place
from kerasdrop.layers.rates import SamplingSwitch
from kerasdrop.layers.rates import read_rate
from kerasdrop.layers.rates import validate_rate


@keras.saving.register_keras_serializable(package="kerasdrop")
class ScheduledMultiHeadAttention(
    SamplingSwitch, keras.layers.MultiHeadAttention
):
    """`keras.layers.MultiHeadAttention` with a schedulable attention dropout.

    Keras's layer drops attention probabilities at a fixed `dropout` rate
    (a Python float, frozen into the compiled step), and at `dropout=0` it
    never applies dropout at all. This subclass keeps that rate in a
    non-trainable variable (held by its inner `kerasdrop.ScheduledDropout`),
    so `layer.dropout = 0.1` or `kerasdrop.callbacks.DropoutScheduler` (rate
    name `"dropout"`) changes it inside an already-compiled `fit`, from or
    to 0. It takes Keras's arguments and has Keras's weights;
    `kerasdrop.make_schedulable` turns a Keras layer into this one in place.

    In training the layer always computes the attention scores explicitly,
    so that they can be dropped. At inference it computes exactly what
    Keras's layer computes with the `dropout` it was built with (or last
    given as `layer.dropout = ...`): the explicit scores for a positive
    rate, Keras's fused `ops.dot_product_attention` at 0 (the two differ in
    the last bits). Rates set by a schedule do not change that choice, so a
    converted model keeps its inference outputs while its rate moves.

    `value` may be left out, for self-attention (`value = query`).

    Reference: Vaswani et al., 2017, "Attention Is All You Need".

    Args:
        num_heads: Number of attention heads.
        key_dim: Size of each attention head for query and key.
        dropout: Float between 0 and 1: the attention dropout rate.
        **kwargs: The other arguments of `keras.layers.MultiHeadAttention`
            (`value_dim`, `use_bias`, `output_shape`, `attention_axes`,
            initializers, ..., `seed`) and base layer arguments.

    Call arguments:
        query: Query tensor of shape `(batch, target_length, dim)`.
        value: Value tensor of shape `(batch, source_length, dim)`;
            defaults to `query`.
        key: Optional key tensor; defaults to `value`.
        training: Python boolean: drop attention probabilities or not.
        **kwargs: The other call arguments of Keras's layer (masks,
            `return_attention_scores`, `use_causal_mask`).

    Input shape:
        As `keras.layers.MultiHeadAttention`.

    Output shape:
        As `keras.layers.MultiHeadAttention`.

    Examples:
        >>> layer = kerasdrop.ScheduledMultiHeadAttention(
        ...     num_heads=2, key_dim=4, dropout=0.1, seed=0
        ... )
        >>> x = np.ones((2, 5, 8), dtype="float32")
        >>> print(keras.ops.shape(layer(x, training=True)))
        (2, 5, 8)
        >>> layer.dropout = 0.3
        >>> layer.dropout
        0.3
        >>> sorted(layer.dropout_rates)
        ['dropout']
    """

    def __init__(self, num_heads, key_dim, dropout=0.0, **kwargs):
        dropout = validate_rate(dropout, "dropout")
        super().__init__(num_heads, key_dim, dropout=dropout, **kwargs)

    @property
    def dropout(self):
        """The attention dropout rate, a float in [0, 1]; assignable."""
        rates = self.dropout_rates
        if rates:
            return read_rate(rates["dropout"])
        return self._dropout

    @dropout.setter
    def dropout(self, value):
        value = validate_rate(value, "dropout")
        rates = self.dropout_rates
        if rates:
            rates["dropout"].assign(value)
        self._dropout = value

    @property
    def dropout_rates(self):
        """Dict from `"dropout"` to the rate variable (once built)."""
        layer = getattr(self, "_dropout_layer", None)
        rates = getattr(layer, "dropout_rates", None)
        if not rates:
            return {}
        return {"dropout": rates["rate"]}

    def _build_attention(self, rank):
        super()._build_attention(rank)
        # Keras's attention dropout becomes kerasdrop's, at the same rate.
        _in_place.convert_in_place(self._dropout_layer)

    def build(self, query_shape, value_shape=None, key_shape=None):
        if value_shape is None:
            value_shape = query_shape
        super().build(query_shape, value_shape, key_shape)

    @contextlib.contextmanager
    def _explicit_scores(self):
        # Keras's `_compute_attention` takes its explicit-scores path, which
        # applies `_dropout_layer`, when `self._dropout` is positive.
        saved = self._dropout
        self._dropout = 1.0
        try:
            yield
        finally:
            self._dropout = saved

    def _compute_attention(
        self,
        query,
        key,
        value,
        attention_mask=None,
        training=None,
        return_attention_scores=False,
        use_causal_mask=False,
    ):
        arguments = (query, key, value, attention_mask, training)
        extra = {"use_causal_mask": True} if use_causal_mask else {}
        parent = super()._compute_attention
        if not training:
            # Keras's own choice, from the Python float `self._dropout`.
            return parent(*arguments, return_attention_scores, **extra)
        with self._explicit_scores():
            return parent(*arguments, return_attention_scores, **extra)

    def call(
        self,
        query,
        value=None,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        return super().call(
            query,
            query if value is None else value,
            key=key,
            query_mask=query_mask,
            value_mask=value_mask,
            key_mask=key_mask,
            attention_mask=attention_mask,
            return_attention_scores=return_attention_scores,
            training=training,
            use_causal_mask=use_causal_mask,
        )

    def compute_output_shape(
        self, query_shape, value_shape=None, key_shape=None
    ):
        if value_shape is None:
            value_shape = query_shape
        return super().compute_output_shape(query_shape, value_shape, key_shape)

    def compute_output_spec(self, query, value=None, key=None, **kwargs):
        return super().compute_output_spec(
            query, query if value is None else value, key, **kwargs
        )

    def get_config(self):
        return {**super().get_config(), "dropout": self.dropout}
