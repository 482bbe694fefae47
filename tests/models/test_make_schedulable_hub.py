"""make_schedulable on KerasHub backbones built from small configs, with
random weights (nothing is downloaded)."""

import keras
import numpy as np
import pytest
from keras import ops

import kerasdrop
from kerasdrop.models.walk import rate_holders
from tests.models import hub_models
from tests.models.test_make_schedulable import _zero_fraction_fit

keras_hub = pytest.importorskip("keras_hub")


def _numpy(x):
    return ops.convert_to_numpy(x)


def _vit(num_layers=2, attention_dropout=0.0):
    return hub_models.vit(num_layers, attention_dropout=attention_dropout)


_bert = hub_models.bert
_gpt2 = hub_models.gpt2
_images = hub_models.images
_tokens = hub_models.tokens
_TEXT_CONFIG = {**hub_models.TEXT_CONFIG, "dropout": 0.1}


def _convert(backbone):
    with pytest.warns(UserWarning, match="build Keras's dropout again"):
        assert kerasdrop.make_schedulable(backbone) is backbone


def test_vit_every_dropout_converted_in_place_same_outputs():
    backbone = _vit()
    x = _images(2)
    before = _numpy(backbone(x))
    # Per block: the attention dropout (at 0, not listed), the dropout
    # after attention and the MLP's; and the encoder's input dropout.
    assert len(kerasdrop.find_unschedulable_dropout(backbone)) == 5
    _convert(backbone)
    assert type(backbone) is keras_hub.models.ViTBackbone
    assert kerasdrop.find_unschedulable_dropout(backbone) == []
    encoder = backbone.get_layer("vit_encoder")
    for block in encoder.encoder_layers:
        assert type(block.mha) is kerasdrop.ScheduledMultiHeadAttention
        assert type(block.dropout) is kerasdrop.ScheduledDropout
        assert type(block.mlp.dropout) is kerasdrop.ScheduledDropout
    assert len(_rates_by_path(backbone)) == 7
    np.testing.assert_array_equal(_numpy(backbone(x)), before)


def test_bert_every_dropout_converted_in_place_same_outputs():
    backbone = _bert()
    inputs = _tokens(2)
    before = keras.tree.map_structure(_numpy, backbone(inputs))
    # The embeddings' dropout, and per block the attention dropout and the
    # dropouts after attention and after the feed-forward network.
    assert len(kerasdrop.find_unschedulable_dropout(backbone)) == 7
    _convert(backbone)
    assert type(backbone) is keras_hub.models.BertBackbone
    assert kerasdrop.find_unschedulable_dropout(backbone) == []
    assert len(_rates_by_path(backbone)) == 7
    after = keras.tree.map_structure(_numpy, backbone(inputs))
    for key in before:
        np.testing.assert_array_equal(after[key], before[key])


def test_vit_attention_dropout_follows_the_schedule_in_fit():
    # Built at attention dropout 0; raised by the schedule.
    backbone = _vit(num_layers=1)
    _convert(backbone)
    images = keras.Input((16, 16, 3))
    tokens = backbone(images)
    model = keras.Model(images, keras.layers.Dense(3)(tokens[:, 0]))
    attention = backbone.get_layer("vit_encoder").encoder_layers[0].mha
    x, y = _images(8), np.zeros((8, 3), "float32")
    zeros = _zero_fraction_fit(
        model, "mha", attention._dropout_layer, [0.3, 0.6], x, y
    )
    # 8 x 2 x 17 x 17 attention weights: standard deviation of the
    # fraction below 0.008.
    np.testing.assert_allclose(zeros, [0.3, 0.6], atol=0.04)


def test_bert_attention_dropout_follows_the_schedule_in_fit():
    backbone = _bert(num_layers=1)
    _convert(backbone)
    inputs = {
        name: keras.Input((12,), dtype="int32", name=name)
        for name in ("token_ids", "segment_ids", "padding_mask")
    }
    pooled = backbone(inputs)["pooled_output"]
    model = keras.Model(inputs, keras.layers.Dense(3)(pooled))
    attention = backbone.get_layer("transformer_layer_0")._self_attention_layer
    zeros = _zero_fraction_fit(
        model,
        "self_attention_layer",
        attention._dropout_layer,
        [0.5, 0.2],
        _tokens(8),
        np.zeros((8, 3), "float32"),
    )
    # 8 x 2 x 12 x 12 attention weights: standard deviation below 0.015.
    np.testing.assert_allclose(zeros, [0.5, 0.2], atol=0.06)


@pytest.mark.parametrize("factory", [_vit, _bert])
def test_saved_backbone_loads_and_rates_from_restores_the_rates(
    factory, tmp_path
):
    backbone = factory()
    _convert(backbone)
    for index, variable in enumerate(_rate_variables(backbone).values()):
        variable.assign(0.01 * (index + 1))
    expected = _rates_by_path(backbone)
    path = str(tmp_path / "backbone.keras")
    with pytest.warns(UserWarning, match="rates_from"):
        backbone.save(path)

    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is type(backbone)
    # The backbone built Keras's dropout again, from its arguments.
    assert kerasdrop.find_unschedulable_dropout(loaded)
    assert _rates_by_path(loaded) == {}

    kerasdrop.make_schedulable(loaded, rates_from=path)
    assert kerasdrop.find_unschedulable_dropout(loaded) == []
    assert _rates_by_path(loaded) == pytest.approx(expected)


def _first_token_features(backbone, outputs):
    """BERT's pooled output, or GPT-2's first sequence position."""
    if isinstance(outputs, dict):
        return outputs["pooled_output"]
    return outputs[:, 0]


def _converted_with_rates(factory):
    """A converted backbone whose rates are all off their arguments."""
    backbone = factory()
    _convert(backbone)
    for index, variable in enumerate(_rate_variables(backbone).values()):
        variable.assign(0.01 * (index + 2))
    return backbone


def _inputs(backbone, num_rows):
    tokens = _tokens(num_rows)
    return {name: tokens[name] for name in backbone.input}


@pytest.mark.parametrize("factory", [_bert, _gpt2])
def test_model_on_converted_backbone_outputs_loads_at_its_rates(
    factory, tmp_path
):
    backbone = _converted_with_rates(factory)
    # The backbone's own layers become the classifier's layers.
    features = _first_token_features(backbone, backbone.output)
    model = keras.Model(backbone.input, keras.layers.Dense(1)(features))
    expected = _rates_by_path(model)
    x = _inputs(backbone, 3)
    path = str(tmp_path / "classifier.keras")
    with pytest.warns(UserWarning, match="rates_from"):
        model.save(path)

    loaded = keras.saving.load_model(path, safe_mode=True)
    # Its config re-creates the embeddings dropout as kerasdrop's, at its
    # rate; the transformer blocks build Keras's dropout again.
    dropout = loaded.get_layer("embeddings_dropout")
    assert type(dropout) is kerasdrop.ScheduledDropout
    assert dropout.rate == pytest.approx(expected["embeddings_dropout/rate"])
    np.testing.assert_array_equal(_numpy(loaded(x)), _numpy(model(x)))
    kerasdrop.make_schedulable(loaded, rates_from=path)
    assert kerasdrop.find_unschedulable_dropout(loaded) == []
    assert _rates_by_path(loaded) == pytest.approx(expected)


@pytest.mark.parametrize("factory", [_bert, _gpt2])
def test_rates_from_resolves_from_the_model_holding_the_backbone(
    factory, tmp_path
):
    backbone = _converted_with_rates(factory)
    inputs = {
        name: keras.Input(tensor.shape[1:], dtype=tensor.dtype, name=name)
        for name, tensor in backbone.input.items()
    }
    features = _first_token_features(backbone, backbone(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(features))
    expected = _rates_by_path(model)
    x = _inputs(backbone, 3)
    path = str(tmp_path / "classifier.keras")
    with pytest.warns(UserWarning, match="rates_from"):
        model.save(path)

    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(_numpy(loaded(x)), _numpy(model(x)))
    assert _rates_by_path(loaded) == {}
    kerasdrop.make_schedulable(loaded, rates_from=path)
    assert kerasdrop.find_unschedulable_dropout(loaded) == []
    assert _rates_by_path(loaded) == pytest.approx(expected)


def _rate_variables(model, path=""):
    """Every kerasdrop rate variable below `model`, once, by layer path
    (an attention layer's inner dropout under the attention's `dropout`,
    whatever the inner layer's automatic name)."""
    found = {}
    for layer in model._flatten_layers(include_self=False, recursive=False):
        layer_path = f"{path}/{layer.name}" if path else layer.name
        rates = getattr(layer, "dropout_rates", None) or {}
        if isinstance(layer, keras.layers.MultiHeadAttention):
            inner = getattr(layer._dropout_layer, "dropout_rates", None)
            rates = {"dropout": inner["rate"]} if inner else {}
        for name, variable in rates.items():
            found[f"{layer_path}/{name}"] = variable
        if not rates:
            found.update(_rate_variables(layer, layer_path))
    return found


def _rates_by_path(model):
    return {
        key: float(_numpy(variable))
        for key, variable in _rate_variables(model).items()
    }


def _gpt2():
    return keras_hub.models.GPT2Backbone(
        vocabulary_size=50,
        num_layers=2,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=12,
        dropout=0.1,
    )


def _llama():
    return keras_hub.models.LlamaBackbone(
        vocabulary_size=50,
        num_layers=2,
        num_query_heads=2,
        num_key_value_heads=1,
        hidden_dim=8,
        intermediate_dim=16,
        dropout=0.1,
    )


def _head_model(backbone):
    """A one-output model on the backbone's graph, for mc_predict."""
    output = backbone.output
    if isinstance(output, dict):
        output = output["sequence_output"]
    return keras.Model(backbone.input, keras.layers.Dense(2)(output[:, 0]))


def _backbone_inputs(backbone, num_rows):
    if isinstance(backbone, keras_hub.models.ViTBackbone):
        return _images(num_rows)
    tokens = _tokens(num_rows)
    return {name: tokens[name] for name in backbone.input}


@pytest.mark.parametrize(
    "factory, num_rates",
    [(_bert, 7), (_gpt2, 7), (_vit, 7), (_llama, 4)],
)
def test_mc_predict_samples_every_converted_rate_at_any_depth(
    factory, num_rates
):
    backbone = factory()
    with pytest.warns(UserWarning):
        kerasdrop.make_schedulable(backbone)
    model = _head_model(backbone)
    layers = [holder.layer for holder in rate_holders(model)]
    assert len(_rate_variables(model)) == num_rates
    x = _backbone_inputs(backbone, 2)
    inference = _numpy(model(x))
    result = kerasdrop.analysis.mc_predict(model, x, num_samples=8, rate=0.0)
    np.testing.assert_allclose(result["mean"], inference, atol=1e-5)
    # Each rate alone, at 0.5, makes the samples differ: Monte-Carlo
    # prediction switched its layer on, wherever it is.
    for layer in layers:
        rates = {other: 0.5 if other is layer else 0.0 for other in layers}
        result = kerasdrop.analysis.mc_predict(
            model, x, num_samples=8, rate=rates
        )
        assert result["std"].max() > 0, layer.name
