import keras
import numpy as np
import pytest
from keras import ops

import kerasdrop
from kerasdrop.layers.drop_block import drop_block_gamma
from kerasdrop.layers.drop_block import drop_block_mask
from tests.example_scripts import load_example
from tests.fit_probes import ZeroFraction
from tests.layer_testing import check_layer_contract
from tests.layer_testing import make_inputs

# Its `expected_fraction` computes the dropped fraction from first
# principles: a unit covered by `c` possible blocks stays only if none of
# their `c` seeds is drawn, probability `(1 - gamma)^c`.
EXAMPLE = load_example("drop_block_fractions")


def _numpy(x):
    return ops.convert_to_numpy(x)


def _dropped_maps(shape, rate, block_size, seed=0):
    """Dropped units (True) of `drop_block_mask`, as (maps, height, width)."""
    keep = _numpy(drop_block_mask(shape, rate, block_size, seed))
    return np.moveaxis(keep, -1, 1).reshape(-1, *shape[1:3]) == 0


def _expected_fraction(rate, height, width, block_height, block_width):
    """The exact expected dropped fraction (square blocks)."""
    assert block_height == block_width
    return EXAMPLE.expected_fraction(rate, height, width, block_height)[1]


def _whole_blocks(dropped, block_height, block_width):
    """The union of all whole blocks inside the map within `dropped`."""
    height, width = dropped.shape
    union = np.zeros_like(dropped)
    for top in range(height - block_height + 1):
        for left in range(width - block_width + 1):
            window = (
                slice(top, top + block_height),
                slice(left, left + block_width),
            )
            if dropped[window].all():
                union[window] = True
    return union


@pytest.mark.parametrize(
    "kwargs, input_shape",
    [
        ({"block_size": 3}, (2, 8, 8, 3)),
        ({"block_size": (2, 3)}, (2, 6, 10, 3)),
        ({"block_size": 3, "data_format": "channels_first"}, (2, 3, 6, 10)),
        ({"block_size": 3, "couple_channels": True}, (2, 8, 8, 3)),
    ],
)
def test_layer_contract(kwargs, input_shape, tmp_path):
    check_layer_contract(
        lambda **kw: kerasdrop.DropBlock2D(0.3, seed=1, **kwargs, **kw),
        input_shape,
        tmp_path,
    )


def test_input_unchanged_in_eval_mode():
    layer = kerasdrop.DropBlock2D(0.9, block_size=3, seed=0)
    x = make_inputs((4, 8, 8, 2))
    np.testing.assert_array_equal(_numpy(layer(x)), x)
    np.testing.assert_array_equal(_numpy(layer(x, training=False)), x)


@pytest.mark.parametrize(
    "map_size, block_size",
    [
        ((12, 12), (3, 3)),  # odd
        ((12, 12), (4, 4)),  # even
        ((7, 16), (3, 3)),  # wide
        ((16, 7), (2, 2)),  # tall, even
        ((9, 11), (2, 5)),  # rectangular blocks
    ],
)
def test_dropped_units_are_whole_blocks_inside_the_map(map_size, block_size):
    height, width = map_size
    dropped = _dropped_maps((16, height, width, 8), 0.2, block_size, seed=3)
    assert dropped.any()
    for mask in dropped:
        # Every dropped unit belongs to a whole block that fits in the map:
        # no partial block at an edge, no smaller shapes.
        np.testing.assert_array_equal(_whole_blocks(mask, *block_size), mask)


def test_block_larger_than_the_map_is_clipped_to_it():
    # A 5x5 block on a 3x8 map becomes 3x5.
    dropped = _dropped_maps((4, 3, 8, 2), 0.3, 5, seed=1)
    assert dropped.any()
    for mask in dropped:
        np.testing.assert_array_equal(_whole_blocks(mask, 3, 5), mask)


# (rate, map height, map width, block size). The paper's gamma ignores the
# overlap of nearby blocks, so the realised fraction is below the rate.
FRACTION_CASES = [
    (0.1, 14, 14, 7),
    (0.3, 14, 14, 7),
    (0.1, 16, 16, 3),
    (0.2, 8, 8, 2),
    (0.3, 12, 20, 5),
    (0.2, 28, 7, 4),
]


@pytest.mark.parametrize("rate, height, width, block", FRACTION_CASES)
def test_realised_drop_fraction(rate, height, width, block):
    maps = _dropped_maps((64, height, width, 32), rate, block, seed=5)
    per_map = maps.reshape(len(maps), -1).mean(axis=1)
    realised = per_map.mean()
    standard_error = per_map.std() / np.sqrt(len(per_map))
    expected = _expected_fraction(rate, height, width, block, block)
    # Within 4 standard errors (2048 maps) of the exact expectation...
    assert abs(realised - expected) < 4 * standard_error + 1e-4
    # ...which is between 0.8 x rate and the rate for these cases.
    assert 0.8 * rate <= expected <= rate


def test_gamma_is_the_papers():
    # Eq. (1) of Ghiasi et al.: 0.1 / 49 * 196 / 64 for 7x7 on 14x14.
    gamma = float(_numpy(drop_block_gamma(0.1, 14, 14, 7, 7)))
    assert gamma == pytest.approx(0.1 / 49 * 196 / 64, rel=1e-6)
    # Rectangular: (H - bh + 1) and (W - bw + 1) each use their own side.
    gamma = float(_numpy(drop_block_gamma(0.2, 6, 10, 2, 3)))
    assert gamma == pytest.approx(0.2 / 6 * 60 / (5 * 8), rel=1e-6)


def test_non_square_maps_use_height_and_width_correctly():
    # keras-cv compared the row index with the width: on a tall map no
    # block reached the lower rows, and on a wide one blocks ran off the
    # bottom edge. Here the dropped units are spread symmetrically.
    tall = _dropped_maps((64, 24, 6, 16), 0.2, 3, seed=2).mean(axis=(0, 2))
    wide = _dropped_maps((64, 6, 24, 16), 0.2, 3, seed=2).mean(axis=(0, 1))
    for profile in (tall, wide):
        # Per-row (per-column) drop frequencies: each is over 6144 units.
        np.testing.assert_allclose(profile, profile[::-1], atol=0.04)
        assert profile[-3:].min() > 0.02 and profile[:3].min() > 0.02


def test_output_mean_is_preserved_by_the_kept_fraction():
    x = np.ones((8, 10, 10, 4), dtype="float32")
    for rate in (0.1, 0.4):
        layer = kerasdrop.DropBlock2D(rate, block_size=3, seed=4)
        y = _numpy(layer(x, training=True))
        kept = y[y != 0]
        # One scale for the batch: count / count_kept.
        np.testing.assert_allclose(kept, y.size / kept.size, rtol=1e-5)
        assert np.mean(y) == pytest.approx(1.0, rel=1e-5)


def test_all_dropped_gives_zeros_not_nan_and_rate_zero_the_input():
    x = make_inputs((2, 6, 6, 3))
    # With 1x1 blocks gamma is the rate, so rate 1 drops every unit.
    layer = kerasdrop.DropBlock2D(1.0, block_size=1, seed=0)
    np.testing.assert_array_equal(_numpy(layer(x, training=True)), 0.0)
    layer.rate = 0.0
    np.testing.assert_array_equal(_numpy(layer(x, training=True)), x)


def test_channels_first_drops_the_same_blocks_as_channels_last():
    x = make_inputs((2, 9, 7, 3))
    last = kerasdrop.DropBlock2D(0.3, 3, seed=8, data_format="channels_last")
    first = kerasdrop.DropBlock2D(0.3, 3, seed=8, data_format="channels_first")
    y_last = _numpy(last(x, training=True))
    y_first = _numpy(first(np.transpose(x, (0, 3, 1, 2)), training=True))
    assert (y_last == 0).any()
    np.testing.assert_allclose(
        np.transpose(y_first, (0, 2, 3, 1)), y_last, rtol=1e-6
    )


def test_default_data_format_follows_keras_config():
    keras.config.set_image_data_format("channels_first")
    try:
        layer = kerasdrop.DropBlock2D(0.1)
    finally:
        keras.config.set_image_data_format("channels_last")
    assert layer.data_format == "channels_first"
    assert kerasdrop.DropBlock2D(0.1).data_format == "channels_last"


def test_scheduler_drives_the_rate_inside_compiled_fit():
    # The loss is the fraction of zeros after the layer, fed with ones: the
    # rate the compiled train step really used.
    inputs = keras.Input((14, 14, 8))
    layer = kerasdrop.DropBlock2D(0.0, block_size=3, seed=0, name="block")
    outputs = ZeroFraction()(keras.layers.Flatten()(layer(inputs)))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mae")
    scheduler = kerasdrop.callbacks.DropoutScheduler(
        kerasdrop.schedules.Linear(0.0, 0.3, duration=2), unit="epoch"
    )
    history = model.fit(
        np.ones((64, 14, 14, 8), "float32"), np.zeros((64, 1), "float32"),
        batch_size=16, epochs=3, callbacks=[scheduler], verbose=0,
    )  # fmt: skip
    assert history.history["block/rate"] == pytest.approx([0.0, 0.15, 0.3])
    losses = history.history["loss"]
    assert losses[0] == 0.0
    # 64 x 8 maps per epoch: the fraction's standard error is about 0.005.
    assert losses[1] == pytest.approx(
        _expected_fraction(0.15, 14, 14, 3, 3), abs=0.02
    )  # noqa: E501
    assert losses[2] == pytest.approx(
        _expected_fraction(0.3, 14, 14, 3, 3), abs=0.02
    )  # noqa: E501


def _reference_mask(noise, rate, block_height, block_width):
    """DropBlock's keep-mask from its uniform draws, written out with loops:
    a seed is a draw below gamma where the whole block fits, and the block
    of a seed at (i, j) spans rows i - block_height // 2 ... i +
    (block_height - 1) // 2 (columns alike)."""
    _, height, width, _ = noise.shape
    gamma = float(
        drop_block_gamma(rate, height, width, block_height, block_width)
    )
    seeds = noise < gamma
    seeds[:, : block_height // 2] = False
    seeds[:, height - (block_height - 1) // 2 :] = False
    seeds[:, :, : block_width // 2] = False
    seeds[:, :, width - (block_width - 1) // 2 :] = False
    dropped = np.zeros_like(seeds)
    for b, i, j, c in zip(*np.nonzero(seeds)):
        top, left = i - block_height // 2, j - block_width // 2
        dropped[b, top : top + block_height, left : left + block_width, c] = 1
    return 1.0 - dropped


@pytest.mark.parametrize("couple_channels", [False, True])
@pytest.mark.parametrize(
    "shape, block_size",
    [((3, 9, 9, 4), (3, 3)), ((2, 10, 13, 3), (4, 5)), ((2, 8, 8, 2), (1, 2))],
)
def test_mask_is_the_block_spread_of_its_seeds(
    shape, block_size, couple_channels
):
    # The same integer seed draws the same uniform numbers: the mask is an
    # exact function of them, whatever pooling computes it.
    # Only the positions where a whole block fits draw, in order.
    noise_shape = (*shape[:3], 1) if couple_channels else shape
    batch, height, width, channels = noise_shape
    block_height, block_width = block_size
    top, left = block_height // 2, block_width // 2
    rows, columns = height - block_height + 1, width - block_width + 1
    drawn = keras.random.uniform(
        (batch, rows, columns, channels), seed=7, dtype="float32"
    )
    noise = np.ones(noise_shape, "float32")
    noise[:, top : top + rows, left : left + columns] = _numpy(drawn)
    # At rate 0.6 a map of these sizes has no seed with probability
    # at most 0.0003, so every case tests some blocks.
    mask = _numpy(drop_block_mask(shape, 0.6, block_size, 7, couple_channels))
    expected = _reference_mask(noise, 0.6, *block_size)
    assert 0 < expected.mean() < 1
    assert mask.shape == noise_shape
    np.testing.assert_array_equal(mask, expected)


def test_coupled_channels_drop_the_same_blocks_in_every_channel():
    layer = kerasdrop.DropBlock2D(0.3, 3, seed=2, couple_channels=True)
    y = _numpy(layer(np.ones((16, 12, 12, 8), "float32"), training=True))
    dropped = y == 0
    assert np.all(dropped == dropped[..., :1])
    # One map per sample, with the fraction a single map drops.
    per_sample = dropped[..., 0].reshape(16, -1).mean(axis=1)
    expected = _expected_fraction(0.3, 12, 12, 3, 3)
    standard_error = per_sample.std() / np.sqrt(len(per_sample))
    assert abs(per_sample.mean() - expected) < 4 * standard_error + 1e-4
    # The kept units are scaled by the inverse of the kept fraction.
    np.testing.assert_allclose(y[~dropped], 1 / (1 - dropped.mean()), 1e-6)


def test_config_round_trip():
    layer = kerasdrop.DropBlock2D(0.2, (3, 5), seed=3)
    config = layer.get_config()
    assert config["block_size"] == (3, 5) and config["seed"] == 3
    assert config["rate"] == pytest.approx(0.2)
    assert config["data_format"] == "channels_last"
    assert config["couple_channels"] is False
    clone = kerasdrop.DropBlock2D.from_config(config)
    assert clone.block_size == (3, 5) and clone.couple_channels is False


@pytest.mark.parametrize("block_size", [0, -3, (3,), (3, 0), "7", 2.5, True])
def test_invalid_block_size_raises(block_size):
    with pytest.raises(ValueError, match="block_size"):
        kerasdrop.DropBlock2D(0.1, block_size=block_size)


@pytest.mark.parametrize(
    "rate, error", [(1.5, ValueError), (-0.1, ValueError), ("0.2", TypeError)]
)
def test_invalid_rate_raises(rate, error):
    with pytest.raises(error, match="rate"):
        kerasdrop.DropBlock2D(rate)
