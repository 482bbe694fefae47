import keras
import numpy as np
import pytest
from keras import ops

import kerasdrop
from kerasdrop.layers.embedding_dropout import PAIRWISE_MAX_LENGTH
from kerasdrop.layers.embedding_dropout import _noise_of_first_occurrence
from kerasdrop.layers.embedding_dropout import _noise_of_rank
from kerasdrop.layers.embedding_dropout import embedding_dropout_mask
from kerasdrop.layers.embedding_dropout import shared_noise
from tests.fit_probes import ZeroFraction
from tests.layer_testing import check_config_round_trip
from tests.layer_testing import check_mixed_precision

VOCABULARY = 12


def _numpy(x):
    return ops.convert_to_numpy(x)


def _ids(shape, seed=0, vocabulary=VOCABULARY):
    return np.random.default_rng(seed).integers(0, vocabulary, shape)


def _numbered_rows(vocabulary=VOCABULARY, dim=3):
    """Embedding rows that tell the ids apart: row v is (v + 1, ...)."""
    return np.repeat(np.arange(1, vocabulary + 1, dtype="float32"), dim)


def _layer(rate, vocabulary=VOCABULARY, dim=3, **kwargs):
    rows = _numbered_rows(vocabulary, dim).reshape(vocabulary, dim)
    return kerasdrop.EmbeddingDropout(
        vocabulary, dim, rate, weights=rows, **kwargs
    )


@pytest.mark.parametrize(
    "function, expected",
    [
        # Each id takes the noise at its first occurrence: 5 at 0, 2 at 1,
        # 7 at 3.
        (_noise_of_first_occurrence, [0.9, 0.2, 0.9, 0.0, 0.2]),
        # Distinct ids of the row, sorted: 2, 5, 7 take noise[0], [1], [2].
        (_noise_of_rank, [0.2, 0.9, 0.2, 0.6, 0.9]),
    ],
    ids=["first_occurrence", "rank"],
)
def test_shared_noise_by_hand(function, expected):
    ids = np.array([[5, 2, 5, 7, 2], [1, 1, 1, 1, 1]])
    noise = np.array(
        [[0.9, 0.2, 0.6, 0.0, 0.1], [0.3, 0.8, 0.8, 0.8, 0.8]], "float32"
    )
    np.testing.assert_allclose(
        _numpy(function(ids, noise)), [expected, [0.3] * 5]
    )


@pytest.mark.parametrize(
    "function",
    [shared_noise, _noise_of_first_occurrence, _noise_of_rank],
    ids=lambda function: function.__name__,
)
@pytest.mark.parametrize(
    "length", [PAIRWISE_MAX_LENGTH, PAIRWISE_MAX_LENGTH + 1]
)
def test_shared_noise_is_one_distinct_draw_per_distinct_id(function, length):
    # Equal ids of a row get equal noise and distinct ids distinct noise
    # (a row's noise values are all different here), taken from the row.
    rng = np.random.default_rng(4)
    ids = rng.integers(0, 40, (6, length))
    noise = rng.permutation(6 * length).reshape(6, length).astype("float32")
    shared = _numpy(function(ids, noise))
    for row_ids, row_noise, row_shared in zip(ids, noise, shared):
        same_id = row_ids[:, None] == row_ids[None, :]
        np.testing.assert_array_equal(
            row_shared[:, None] == row_shared[None, :], same_id
        )
        assert set(row_shared) <= set(row_noise)


def test_every_occurrence_of_a_dropped_word_is_zero_by_hand():
    # Row v of the embeddings is v + 1, so the output says which id it is
    # and whether it was dropped (0) or kept (scaled by 1 / (1 - rate)).
    rate = 0.4
    layer = _layer(rate, seed=3)
    ids = _ids((1000, 30))
    out = _numpy(layer(ids, training=True))
    factor = out[..., 0] / (ids + 1)
    np.testing.assert_allclose(out, out[..., :1] * np.ones(3), rtol=0)
    dropped_pairs = []
    for row, factors in zip(ids, factor):
        for word in np.unique(row):
            values = factors[row == word]
            # The same for every occurrence in the sequence: 0 or 1/(1-p).
            assert len(set(values.round(6))) == 1
            assert values[0] == pytest.approx(0.0) or values[
                0
            ] == pytest.approx(1.0 / (1.0 - rate))
            dropped_pairs.append(values[0] == 0.0)
    # Each (sequence, word) pair is dropped with probability `rate`:
    # 1000 x ~11.5 pairs, standard error about 0.0046.
    assert np.mean(dropped_pairs) == pytest.approx(rate, abs=0.02)
    # Sequences draw their own words: not the same dropped set for all.
    assert len({tuple(np.unique(r[f == 0])) for r, f in zip(ids, factor)}) > 1


def test_mask_function_at_rates_zero_and_one():
    ids = _ids((4, 7))
    np.testing.assert_array_equal(
        _numpy(embedding_dropout_mask(ids, 0.0, seed=1)), np.ones((4, 7))
    )
    np.testing.assert_array_equal(
        _numpy(embedding_dropout_mask(ids, 1.0, seed=1)), np.zeros((4, 7))
    )


def test_higher_rank_ids_are_one_sequence_per_row():
    ids = _ids((50, 4, 5))
    mask = _numpy(embedding_dropout_mask(ids, 0.5, seed=2))
    assert mask.shape == ids.shape
    for row_ids, row_mask in zip(ids, mask):
        for word in np.unique(row_ids):
            assert len(set(row_mask[row_ids == word])) == 1


def test_inference_is_the_plain_embedding():
    layer = _layer(0.9, seed=0)
    keras_layer = keras.layers.Embedding(VOCABULARY, 3)
    keras_layer.build()
    keras_layer.set_weights(layer.get_weights())
    ids = _ids((4, 6))
    np.testing.assert_array_equal(_numpy(layer(ids)), _numpy(keras_layer(ids)))
    np.testing.assert_array_equal(
        _numpy(layer(ids, training=False)), _numpy(keras_layer(ids))
    )


def test_drop_in_for_embedding_weights_and_config():
    layer = kerasdrop.EmbeddingDropout(10, 4, 0.2, seed=5, mask_zero=True)
    layer.build()
    assert isinstance(layer, keras.layers.Embedding)
    # Only the embeddings are weights, as in Keras's Embedding.
    assert [w.shape for w in layer.get_weights()] == [(10, 4)]
    config = layer.get_config()
    keras_config = keras.layers.Embedding(10, 4, mask_zero=True).get_config()
    assert set(keras_config) - {"name"} < set(config)
    assert config["rate"] == pytest.approx(0.2) and config["seed"] == 5
    check_config_round_trip(layer)


def test_mask_zero_composes_with_a_masked_rnn():
    layer = kerasdrop.EmbeddingDropout(
        VOCABULARY, 3, 0.5, seed=1, mask_zero=True
    )
    ids = np.array([[3, 4, 0, 0], [5, 0, 0, 0]])
    np.testing.assert_array_equal(_numpy(layer.compute_mask(ids)), ids != 0)
    inputs = keras.Input((4,), dtype="int32")
    rnn = keras.layers.SimpleRNN(2, return_sequences=True)
    model = keras.Model(inputs, rnn(layer(inputs)))
    out = _numpy(model(ids, training=True))
    # Masked steps repeat the last unmasked output.
    np.testing.assert_allclose(out[0, 2], out[0, 1])
    np.testing.assert_allclose(out[1, 3], out[1, 0])


def test_saving_round_trip_keeps_weights_and_rate(tmp_path):
    inputs = keras.Input((6,), dtype="int32")
    layer = kerasdrop.EmbeddingDropout(
        VOCABULARY, 3, 0.1, seed=1, mask_zero=True, name="words"
    )
    pooled = keras.layers.GlobalAveragePooling1D()(layer(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(pooled))
    layer.rate = 0.35
    ids = _ids((5, 6))
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    loaded_layer = loaded.get_layer("words")
    assert type(loaded_layer) is kerasdrop.EmbeddingDropout
    assert loaded_layer.rate == pytest.approx(0.35)
    assert loaded_layer.mask_zero
    np.testing.assert_allclose(
        _numpy(loaded(ids)), _numpy(model(ids)), rtol=1e-6
    )


def test_mixed_precision():
    ids = _ids((3, 5))
    for policy in ("mixed_float16", "mixed_bfloat16"):
        layer = check_mixed_precision(
            lambda **kw: kerasdrop.EmbeddingDropout(
                VOCABULARY, 4, 0.3, seed=1, **kw
            ),
            ids,
            policy,
        )
        assert keras.backend.standardize_dtype(layer.embeddings.dtype) == (
            "float32"
        )


def test_scheduler_drives_the_rate_inside_compiled_fit():
    # Embeddings of ones: the loss is the fraction of dropped positions.
    vocabulary = 1000
    inputs = keras.Input((50,), dtype="int32")
    layer = kerasdrop.EmbeddingDropout(
        vocabulary, 1, 0.0, seed=0, embeddings_initializer="ones",
        name="words",
    )  # fmt: skip
    layer.trainable = False  # The zero fraction has no gradient.
    outputs = ZeroFraction()(keras.layers.Flatten()(layer(inputs)))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mae")
    scheduler = kerasdrop.callbacks.DropoutScheduler(
        kerasdrop.schedules.Linear(0.0, 0.5, duration=1), unit="epoch"
    )
    ids = _ids((200, 50), vocabulary=vocabulary)
    history = model.fit(
        ids, np.zeros((200, 1), "float32"), batch_size=50, epochs=2,
        callbacks=[scheduler], verbose=0,
    )  # fmt: skip
    assert history.history["words/rate"] == pytest.approx([0.0, 0.5])
    # 10,000 positions, nearly all distinct words: standard error 0.005.
    assert history.history["loss"][0] == 0.0
    assert history.history["loss"][1] == pytest.approx(0.5, abs=0.03)


def test_mc_predict_switches_it_on():
    inputs = keras.Input((6,), dtype="int32")
    embedded = kerasdrop.EmbeddingDropout(VOCABULARY, 4, 0.5, seed=0)(inputs)
    pooled = keras.layers.GlobalAveragePooling1D()(embedded)
    model = keras.Model(inputs, keras.layers.Dense(1)(pooled))
    result = kerasdrop.analysis.mc_predict(model, _ids((3, 6)), num_samples=8)
    assert result["std"].shape == (3, 1)
    assert np.all(result["std"] > 0)


@pytest.mark.parametrize(
    "rate, error", [(1.5, ValueError), (-0.1, ValueError), ("0.2", TypeError)]
)
def test_invalid_rate_raises(rate, error):
    with pytest.raises(error, match="rate"):
        kerasdrop.EmbeddingDropout(10, 2, rate)


def _sparse(ids):
    """`ids` as the backend's sparse tensor (an absent entry is id 0)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.sparse.from_dense(ids)
    if keras.backend.backend() == "jax":
        from jax.experimental import sparse

        return sparse.BCOO.fromdense(ids)
    pytest.skip("No sparse tensors on this backend.")


@pytest.mark.parametrize("rate", [0.0, 0.5])
def test_sparse_ids_embed_as_keras_does_and_drop_as_dense_ids(rate):
    # Keras's Embedding reads a sparse tensor of ids as the dense ids, an
    # absent entry as id 0; the same seed then gives the same masks.
    ids = _ids((64, 10), seed=5)
    ids[:, ::3] = 0  # Absent from the sparse tensor.
    keras_layer = keras.layers.Embedding(VOCABULARY, 3)
    keras_layer.build()
    keras_layer.set_weights(_layer(0.0).get_weights())
    dense = _numpy(_layer(rate, seed=2)(ids, training=True))
    sparse = _numpy(_layer(rate, seed=2)(_sparse(ids), training=True))
    np.testing.assert_array_equal(sparse, dense)
    plain = _numpy(keras_layer(_sparse(ids)))
    np.testing.assert_array_equal(plain, _numpy(keras_layer(ids)))
    if rate == 0.0:
        np.testing.assert_array_equal(sparse, plain)
    else:
        dropped = sparse[..., 0] == 0
        assert 0.35 < dropped.mean() < 0.65


def _ragged(rows):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("Ragged tensors are TensorFlow's.")
    import tensorflow as tf

    return tf.ragged.constant(rows)


@pytest.mark.parametrize("rate", [0.0, 0.5])
def test_ragged_ids_give_ragged_embeddings_that_drop_whole_words(rate):
    rng = np.random.default_rng(6)
    rows = [
        list(rng.integers(1, VOCABULARY, length))
        for length in rng.integers(1, 12, 64)
    ]
    ids = _ragged(rows)
    keras_layer = keras.layers.Embedding(VOCABULARY, 3)
    keras_layer.build()
    keras_layer.set_weights(_layer(0.0).get_weights())
    out = _layer(rate, seed=2)(ids, training=True)
    plain = keras_layer(ids)
    assert type(out) is type(plain)
    np.testing.assert_array_equal(
        _numpy(out.row_lengths()), [len(row) for row in rows]
    )
    # The words of each sequence are masked as in the sequence padded with
    # id 0 (what `to_tensor()` gives), under the same seed.
    padded = _numpy(_layer(rate, seed=2)(ids.to_tensor(), training=True))
    np.testing.assert_array_equal(_numpy(out.to_tensor()), padded * (
        _numpy(ids.to_tensor())[..., None] > 0
    ))  # fmt: skip
    if rate == 0.0:
        np.testing.assert_array_equal(_numpy(out.flat_values), _numpy(
            plain.flat_values
        ))  # fmt: skip
    else:
        factors = _numpy(out.flat_values)[:, 0] / (_numpy(ids.flat_values) + 1)
        assert set(np.unique(factors.round(6))) == {0.0, 2.0}


@pytest.mark.parametrize("how", ["dtype", "quantize"])
def test_quantized_layer_drops_whole_words_in_training(how):
    # A quantized layer runs `quantized_call`, not `call`: the dropout must
    # apply there too.
    if how == "dtype":
        layer = kerasdrop.EmbeddingDropout(
            VOCABULARY, 3, 0.5, seed=3, dtype="int8_from_float32"
        )
        layer.build()  # Quantized variables, zero until set.
        source = _layer(0.0)
        source.quantize("int8", type_check=False)
        layer.set_weights(source.get_weights())
    else:
        layer = _layer(0.5, seed=3)
        layer.quantize("int8", type_check=False)
    assert layer.quantization_mode == "int8"
    ids = _ids((200, 20), seed=7)
    plain = _numpy(layer(ids))
    out = _numpy(layer(ids, training=True))
    nonzero = np.abs(plain[..., 0]) > 1e-3
    factors = out[..., 0][nonzero] / plain[..., 0][nonzero]
    np.testing.assert_allclose(
        np.sort(np.unique(factors.round(4))), [0.0, 2.0], atol=1e-3
    )
    pairs = [
        out[r, ids[r] == word, 0][0] == 0
        for r in range(len(ids))
        for word in np.unique(ids[r][nonzero[r]])
    ]
    # About 2000 (sequence, word) pairs: standard error about 0.011.
    assert abs(np.mean(pairs) - 0.5) < 0.05


def test_variable_store_of_keras_embedding_loads():
    # A drop-in: the variables `keras.layers.Embedding` saves load into it,
    # and the rate stays as the layer has it.
    ids = _ids((5, 6))
    keras_layer = keras.layers.Embedding(VOCABULARY, 3)
    keras_layer.build()
    ours = kerasdrop.EmbeddingDropout(VOCABULARY, 3, 0.25)
    ours.build()
    ours.rate = 0.4
    store = {}
    keras_layer.save_own_variables(store)
    ours.load_own_variables(store)
    np.testing.assert_array_equal(_numpy(ours(ids)), _numpy(keras_layer(ids)))
    assert ours.rate == pytest.approx(0.4)


def test_weights_file_keeps_the_rate(tmp_path):
    # As every kerasdrop layer: a weights file (and BackupAndRestore, which
    # writes one) holds the rate after the embeddings.
    inputs = keras.Input((6,), dtype="int32")
    model = keras.Model(inputs, _layer(0.3, seed=1)(inputs))
    model.layers[-1].rate = 0.45
    path = str(tmp_path / "model.weights.h5")
    model.save_weights(path)
    inputs = keras.Input((6,), dtype="int32")
    fresh = keras.Model(inputs, _layer(0.3, seed=1)(inputs))
    fresh.load_weights(path)
    assert fresh.layers[-1].rate == pytest.approx(0.45)
    ids = _ids((5, 6))
    np.testing.assert_array_equal(_numpy(fresh(ids)), _numpy(model(ids)))


def test_variables_saved_with_the_rate_after_them_still_load():
    # Earlier versions stored the embeddings, then the rate.
    old = _layer(0.3, seed=1)
    store = {"0": old.embeddings, "1": old.dropout_rates["rate"]}
    new = kerasdrop.EmbeddingDropout(VOCABULARY, 3, 0.1)
    new.build()
    new.load_own_variables(store)
    assert new.rate == pytest.approx(0.3)
    ids = _ids((5, 6))
    np.testing.assert_array_equal(_numpy(new(ids)), _numpy(old(ids)))
