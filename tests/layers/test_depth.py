import numpy as np
import pytest

import kerasdrop


def test_rates_rise_linearly_from_min_to_max():
    assert kerasdrop.layers.depth_rates(0.4, 5) == pytest.approx(
        [0.0, 0.1, 0.2, 0.3, 0.4]
    )
    # Huang et al.'s rule: the l-th of L blocks gets l / L * max_rate.
    huang = kerasdrop.layers.depth_rates(0.5, 5, min_rate=0.1)
    assert huang == pytest.approx([0.5 * (i + 1) / 5 for i in range(5)])
    assert kerasdrop.layers.depth_rates(0.3, 1) == [0.3]


def test_rates_build_one_layer_per_depth():
    rates = kerasdrop.layers.depth_rates(0.2, 3)
    layers = [
        kerasdrop.DropBlock2D(rate, block_size=3, name=f"block_{i}")
        for i, rate in enumerate(rates)
    ]
    assert [layer.rate for layer in layers] == pytest.approx([0, 0.1, 0.2])


@pytest.mark.parametrize(
    "args, error, fragment",
    [
        ((1.5, 3), ValueError, "max_rate=1.5"),
        ((0.2, 0), ValueError, "num_layers=0"),
        ((0.2, 2.0), ValueError, "num_layers=2.0"),
        ((0.2, 3, -0.1), ValueError, "min_rate=-0.1"),
    ],
)
def test_invalid_arguments_raise(args, error, fragment):
    with pytest.raises(error, match=fragment):
        kerasdrop.layers.depth_rates(*args)


@pytest.mark.parametrize("profile", ["rising", "uniform", "falling"])
def test_rate_profile_keeps_the_mean(profile):
    rates = kerasdrop.layers.rate_profile(0.25, 5, profile)
    assert len(rates) == 5
    assert np.mean(rates) == pytest.approx(0.25, abs=1e-12)
    assert all(0.0 <= rate <= 1.0 for rate in rates)


def test_rate_profile_rises_falls_and_is_flat():
    rising = kerasdrop.layers.rate_profile(0.3, 4, "rising", spread=0.15)
    assert rising == pytest.approx([0.15, 0.25, 0.35, 0.45])
    falling = kerasdrop.layers.rate_profile(0.3, 4, "falling", spread=0.15)
    assert falling == rising[::-1]
    assert kerasdrop.layers.rate_profile(0.3, 2, "uniform") == [0.3, 0.3]


def test_rate_profile_rejects_a_spread_that_leaves_0_1():
    with pytest.raises(ValueError, match="spread"):
        kerasdrop.layers.rate_profile(0.2, 3, spread=0.3)
    with pytest.raises(ValueError, match="profile"):
        kerasdrop.layers.rate_profile(0.2, 3, "sideways")
