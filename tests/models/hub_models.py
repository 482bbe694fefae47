"""Small KerasHub backbones, built from configurations with random weights
(nothing is downloaded), and inputs for them: what the KerasHub tests
share."""

import numpy as np
import pytest

keras_hub = pytest.importorskip("keras_hub")

# A tiny text encoder's configuration, shared by BERT and GPT-2.
TEXT_CONFIG = {
    "vocabulary_size": 50,
    "num_heads": 2,
    "hidden_dim": 8,
    "intermediate_dim": 16,
    "max_sequence_length": 12,
}


def vit(num_layers=2, dropout_rate=0.1, attention_dropout=0.0):
    return keras_hub.models.ViTBackbone(
        image_shape=(16, 16, 3),
        patch_size=4,
        num_layers=num_layers,
        num_heads=2,
        hidden_dim=8,
        mlp_dim=16,
        dropout_rate=dropout_rate,
        attention_dropout=attention_dropout,
    )


def bert(num_layers=2, dropout=0.1):
    return keras_hub.models.BertBackbone(
        num_layers=num_layers, dropout=dropout, **TEXT_CONFIG
    )


def gpt2(num_layers=2, dropout=0.1):
    return keras_hub.models.GPT2Backbone(
        num_layers=num_layers, dropout=dropout, **TEXT_CONFIG
    )


def images(num_images, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(num_images, 16, 16, 3)).astype("float32")


def tokens(num_rows, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "token_ids": rng.integers(0, 50, (num_rows, 12)).astype("int32"),
        "segment_ids": np.zeros((num_rows, 12), "int32"),
        "padding_mask": np.ones((num_rows, 12), "int32"),
    }
