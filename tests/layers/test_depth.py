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
