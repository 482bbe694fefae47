"""Embedding dropout: drops whole words, the same way at every occurrence.

Dropping units of the embedded sequence (`Dropout` after `Embedding`) lets a
word through at one position and not at the next. Embedding dropout drops
rows of the embedding matrix instead -- words of the vocabulary -- so every
occurrence of a dropped word in a sequence is zero, and the others are scaled
by `1 / (1 - rate)`. Each sequence draws its own set of dropped words.

References:
    - Gal and Ghahramani, 2016, "A Theoretically Grounded Application of
      Dropout in Recurrent Neural Networks", Section 4.1.
    - Merity, Keskar and Socher, 2018, "Regularizing and Optimizing LSTM
      Language Models" (AWD-LSTM's `embed_p`).
"""

import keras
from keras import ops

from kerasdrop.layers.rates import Rate
from kerasdrop.layers.rates import RateMixin
from kerasdrop.layers.rates import validate_rate

# On JAX, rows of at most this many ids compare every pair of ids: XLA
# fuses the `length ** 2` comparisons into one pass, several times faster
# than a sort there. TensorFlow's and PyTorch's kernels run one by one, and
# a sort of short rows is faster there (timed for 64 rows of 70 ids).
PAIRWISE_MAX_LENGTH = 128


def shared_noise(ids, noise):
    """Gives all occurrences of an id in a row the same noise value.

    Each distinct id of a row takes one of the row's noise values, a
    different one for each distinct id, so distinct ids get independent
    draws and the work is a sort or a comparison of the ids: no draw per
    word of the vocabulary. The `k`-th smallest distinct id of row `b`
    takes `noise[b, k]`; on JAX, in rows of at most `PAIRWISE_MAX_LENGTH`
    ids, each id takes the noise at its first occurrence instead.

    Args:
        ids: Integer tensor `(batch, length)`.
        noise: Float tensor of the same shape.

    Returns:
        A tensor like `noise`, equal at equal ids of a row.

    Examples:
        >>> ids = np.array([[5, 2, 5, 7, 2]])
        >>> noise = np.array([[0.9, 0.2, 0.6, 0.0, 0.1]], "float32")
        >>> shared = keras.ops.convert_to_numpy(shared_noise(ids, noise))
        >>> bool(shared[0, 0] == shared[0, 2] and shared[0, 1] == shared[0, 4])
        True
        >>> len(set(shared[0].tolist()))  # one value per distinct id
        3
    """
    length = ids.shape[-1]
    if (
        keras.backend.backend() == "jax"
        and isinstance(length, int)
        and length <= PAIRWISE_MAX_LENGTH
    ):
        return _noise_of_first_occurrence(ids, noise)
    return _noise_of_rank(ids, noise)


def _noise_of_first_occurrence(ids, noise):
    """Each position takes the noise of its id's first occurrence in the
    row: the smallest position holding the same id."""
    length = ids.shape[-1]
    positions = ops.arange(length, dtype="int32")
    same = ops.equal(ops.expand_dims(ids, -1), ops.expand_dims(ids, -2))
    first = ops.min(ops.where(same, positions, length), axis=-1)
    return ops.take_along_axis(noise, first, axis=-1)


def _noise_of_rank(ids, noise):
    """The `k`-th smallest distinct id of row `b` takes `noise[b, k]`."""
    order = ops.argsort(ids, axis=-1)
    sorted_ids = ops.take_along_axis(ids, order, axis=-1)
    starts = ops.not_equal(sorted_ids[:, 1:], sorted_ids[:, :-1])
    starts = ops.concatenate(
        [ops.ones_like(sorted_ids[:, :1], dtype="bool"), starts], axis=-1
    )
    # The rank of each position's id among the row's distinct ids.
    ranks = ops.cumsum(ops.cast(starts, "int32"), axis=-1) - 1
    sorted_noise = ops.take_along_axis(noise, ranks, axis=-1)
    return ops.take_along_axis(
        sorted_noise, ops.argsort(order, axis=-1), axis=-1
    )


def embedding_dropout_mask(ids, rate, seed, dtype="float32"):
    """Draws a mask over token ids that drops whole words per sequence.

    Args:
        ids: Integer tensor `(batch, ...)`; a sequence is everything a row
            holds. A sparse tensor (TensorFlow's `SparseTensor`, JAX's
            `BCOO`) is read as its dense ids, an absent entry as id 0, as
            `keras.layers.Embedding` reads it; a `tf.RaggedTensor` gives a
            ragged mask.
        rate: Probability of dropping each distinct id of a sequence (a
            float, a tensor or a variable).
        seed: A `keras.random.SeedGenerator` (or an integer seed).
        dtype: Dtype of the mask.

    Returns:
        A tensor shaped like `ids` (dense for sparse ids, ragged for ragged
        ids): `0` at every occurrence of a dropped id, `1 / (1 - rate)`
        elsewhere (zeros at rate 1).

    Examples:
        >>> ids = np.array([[3, 1, 3, 3], [1, 1, 2, 2]])
        >>> mask = embedding_dropout_mask(ids, 0.0, seed=0)
        >>> print(keras.ops.convert_to_numpy(mask))
        [[1. 1. 1. 1.]
         [1. 1. 1. 1.]]
    """
    if _is_ragged(ids):
        # Padded with id 0: a padding position shares the noise of any
        # real id 0 of its row and changes no other id's draw.
        mask = embedding_dropout_mask(ids.to_tensor(), rate, seed, dtype)
        return type(ids).from_tensor(mask, lengths=ids.nested_row_lengths())
    ids = ops.convert_to_tensor(ids, sparse=False)
    shape = ops.shape(ids)
    rows = ops.reshape(ids, (shape[0], -1))
    noise = keras.random.uniform(ops.shape(rows), seed=seed, dtype="float32")
    noise = shared_noise(rows, noise)
    rate = ops.cast(rate, "float32")
    keep = ops.cast(ops.greater_equal(noise, rate), "float32")
    mask = keep * ops.divide_no_nan(1.0, 1.0 - rate)
    return ops.cast(ops.reshape(mask, shape), dtype)


def _is_ragged(tensor):
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return isinstance(tensor, tf.RaggedTensor)


@keras.saving.register_keras_serializable(package="kerasdrop")
class EmbeddingDropout(RateMixin, keras.layers.Embedding):
    """An `Embedding` that drops whole words of each sequence, schedulably.

    A drop-in for `keras.layers.Embedding` (it is one: same weights, config,
    and `mask_zero` masking), with embedding dropout
    during training: for each sequence, every distinct token id is dropped
    with probability `rate` -- all its occurrences in the sequence give the
    zero vector -- and the embeddings of the kept ids are scaled by
    `1 / (1 - rate)`. This is dropping rows of the embedding matrix, drawn
    anew per sequence (Gal & Ghahramani, 2016), the `embed_p` of AWD-LSTM.
    At inference the layer is the plain `Embedding`.

    The rate is a variable, as in every kerasdrop layer: `layer.rate = 0.1`
    or `kerasdrop.callbacks.DropoutScheduler` changes it during `fit`
    without tracing again. It is saved after the variables
    `keras.layers.Embedding` saves, and a layer store of `Embedding`'s
    variables alone loads into it (the rate stays). Ids may be dense, sparse
    (`tf.SparseTensor`, JAX `BCOO`: an absent entry is id 0, as for
    `Embedding`) or a `tf.RaggedTensor`; a quantized layer drops words too.
    A model's `.weights.h5` file is keyed by layer class in Keras 3, so
    move a whole model's weights between the two with `get_weights()` and
    `set_weights()`. The mask costs a sort of each sequence's ids, not
    a draw per word of the vocabulary.

    Reference: Gal and Ghahramani, 2016, "A Theoretically Grounded
    Application of Dropout in Recurrent Neural Networks".

    Args:
        input_dim: Integer. Size of the vocabulary.
        output_dim: Integer. Dimension of the dense embedding.
        rate: Float between 0 and 1. Probability of dropping each distinct
            word of a sequence.
        seed: Python integer, the random seed.
        **kwargs: The other arguments of `keras.layers.Embedding`
            (`embeddings_initializer`, `mask_zero`, `weights`, ...) and base
            layer keyword arguments.

    Call arguments:
        inputs: Integer tensor of token ids, batch first. Everything a row
            holds is one sequence.
        training: Python boolean: drop words (`True`) or embed them all
            (`False`, the default).

    Input shape:
        `(batch_size, ...)`, usually `(batch_size, sequence_length)`.

    Output shape:
        `(batch_size, ..., output_dim)`.

    Examples:
        >>> layer = kerasdrop.EmbeddingDropout(
        ...     10, 2, rate=0.5, seed=0, embeddings_initializer="ones"
        ... )
        >>> ids = np.array([[4, 7, 4, 4, 7, 1]])
        >>> y = keras.ops.convert_to_numpy(layer(ids, training=True))
        >>> print(y.shape)
        (1, 6, 2)
        >>> # All occurrences of a word are dropped (0) or kept (2) together.
        >>> all(len(set(y[0, ids[0] == word, 0])) == 1 for word in (1, 4, 7))
        True
        >>> print(keras.ops.convert_to_numpy(layer(ids))[0, :, 0])
        [1. 1. 1. 1. 1. 1.]
    """

    rate = Rate("Current probability of dropping a word; assignable.")

    def __init__(self, input_dim, output_dim, rate, seed=None, **kwargs):
        validate_rate(rate, "rate")
        # `weights` builds the layer inside Embedding's constructor, before
        # the rate exists; set them once everything is created.
        weights = kwargs.pop("weights", None)
        super().__init__(input_dim, output_dim, **kwargs)
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        if weights is not None:
            self.build()
            if not (isinstance(weights, list) and len(weights) == 1):
                weights = [weights]
            self.set_weights(weights)

    def call(self, inputs, training=False):
        return self._drop_words(inputs, super().call(inputs), training)

    def quantized_call(self, inputs, training=False):
        # A quantized layer (`dtype="int8_from_float32"`, `quantize()`) is
        # called through here, not through `call`.
        outputs = super().quantized_call(inputs)
        return self._drop_words(inputs, outputs, training)

    def _drop_words(self, inputs, outputs, training):
        if not training:
            return outputs
        mask = embedding_dropout_mask(
            inputs,
            self.dropout_rates["rate"],
            self.seed_generator,
            dtype=outputs.dtype,
        )
        return outputs * ops.expand_dims(mask, -1)

    def compute_output_spec(self, inputs, training=False):
        return super().compute_output_spec(inputs)

    # Embedding saves its own weights by position (for quantization); the
    # rates follow them, as every kerasdrop layer saves its rates, so a
    # weights file or `BackupAndRestore` keeps them. A store of
    # `keras.layers.Embedding`'s variables alone loads too, leaving the
    # rates as they are.
    def save_own_variables(self, store):
        super().save_own_variables(store)
        rates = list(self.dropout_rates.values())
        for index, variable in enumerate(rates, len(self.weights)):
            store[str(index)] = variable

    def _check_load_own_variables(self, store):
        weights = len(self.weights)
        if len(store.keys()) not in (
            weights,
            weights + len(self.dropout_rates),
        ):
            super()._check_load_own_variables(store)

    def load_own_variables(self, store):
        super().load_own_variables(store)
        rates = list(self.dropout_rates.values())
        if len(store.keys()) == len(self.weights) + len(rates):
            for index, variable in enumerate(rates, len(self.weights)):
                variable.assign(store[str(index)])

    def get_config(self):
        config = {"rate": self.rate, "seed": self.seed}
        return {**super().get_config(), **config}
