"""Dropout rates per layer of a stack: rising with depth, or a profile
of a given mean."""

import numbers

import numpy as np

from kerasdrop.layers.rates import validate_rate


def depth_rates(max_rate, num_layers, min_rate=0.0):
    """Rates rising linearly with depth, from `min_rate` to `max_rate`.

    Deeper layers get more dropout: stochastic depth (Huang et al., 2016)
    drops the `l`-th of `L` residual blocks with probability
    `l / L * max_rate`, and timm's models space DropPath and DropBlock rates
    evenly from 0 to the maximum over the blocks. This returns
    `num_layers` evenly spaced rates from `min_rate` (first layer) to
    `max_rate` (last layer): timm's rule with the defaults, Huang et al.'s
    with `min_rate=max_rate / num_layers`; a single layer gets `max_rate`.
    Build one
    `kerasdrop.layers.DropPath` or `kerasdrop.DropBlock2D` per rate, and to
    ramp them up during training keep the proportions by giving
    `kerasdrop.callbacks.DropoutScheduler` one schedule per layer name.

    Args:
        max_rate: Float between 0 and 1, the rate of the last layer.
        num_layers: Positive integer, the number of layers.
        min_rate: Float between 0 and 1, the rate of the first layer.

    Returns:
        A list of `num_layers` Python floats.

    Examples:
        >>> kerasdrop.layers.depth_rates(0.3, 4)
        [0.0, 0.1, 0.2, 0.3]
        >>> kerasdrop.layers.depth_rates(0.2, 4, min_rate=0.2 / 4)
        [0.05, 0.1, 0.15, 0.2]
    """
    max_rate = validate_rate(max_rate, "max_rate")
    min_rate = validate_rate(min_rate, "min_rate")
    if (
        isinstance(num_layers, bool)
        or not isinstance(num_layers, numbers.Integral)
        or num_layers < 1
    ):
        raise ValueError(
            "Invalid value received for argument `num_layers`. Expected a "
            f"positive integer. Received: num_layers={num_layers!r}"
        )
    if num_layers == 1:
        return [max_rate]  # The only layer is the last.
    rates = np.linspace(min_rate, max_rate, int(num_layers))
    # Rounded so that 0.1 reads as 0.1, not 0.10000000000000002.
    return [round(float(rate), 12) for rate in rates]


PROFILES = ("rising", "uniform", "falling")


def rate_profile(mean_rate, num_layers, profile="rising", spread=None):
    """Per-layer rates of a given mean: rising, uniform or falling with depth.

    To compare where dropout goes at the same amount of dropout: the rates
    are evenly spaced from `mean_rate - spread` to `mean_rate + spread`
    (first to last layer) for `"rising"`, the other way round for
    `"falling"`, and all `mean_rate` for `"uniform"`; their mean is
    `mean_rate` in every case.

    Args:
        mean_rate: Float between 0 and 1, the mean of the rates.
        num_layers: Positive integer, the number of layers.
        profile: `"rising"`, `"uniform"` or `"falling"`.
        spread: Half the difference between the last and the first rate.
            `None` (the default) takes the widest profile that stays
            between 0 and 1: `min(mean_rate, 1 - mean_rate)`.

    Returns:
        A list of `num_layers` Python floats.

    Examples:
        >>> kerasdrop.layers.rate_profile(0.3, 3)
        [0.0, 0.3, 0.6]
        >>> kerasdrop.layers.rate_profile(0.3, 3, "falling", spread=0.1)
        [0.4, 0.3, 0.2]
        >>> kerasdrop.layers.rate_profile(0.3, 3, "uniform")
        [0.3, 0.3, 0.3]
    """
    mean_rate = validate_rate(mean_rate, "mean_rate")
    if profile not in PROFILES:
        raise ValueError(
            "Invalid value received for argument `profile`. Expected one of "
            f"{PROFILES}. Received: profile={profile!r}"
        )
    if spread is None:
        spread = min(mean_rate, 1.0 - mean_rate)
    spread = float(spread)
    if not 0.0 <= spread <= min(mean_rate, 1.0 - mean_rate) + 1e-12:
        raise ValueError(
            "Invalid value received for argument `spread`. Expected a "
            "float between 0 and min(mean_rate, 1 - mean_rate) = "
            f"{min(mean_rate, 1.0 - mean_rate):g}, so that every rate is "
            f"between 0 and 1. Received: spread={spread!r}"
        )
    if profile == "uniform" or spread == 0.0:
        low = high = mean_rate
    else:
        low, high = mean_rate - spread, mean_rate + spread
    rates = depth_rates(
        min(max(high, 0.0), 1.0), num_layers, min_rate=min(max(low, 0.0), 1.0)
    )
    if num_layers == 1:
        rates = [mean_rate]
    if profile == "falling":
        rates = rates[::-1]
    return rates
