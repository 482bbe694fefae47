"""DropConnect on the recurrent kernel of Keras's own LSTM and GRU.

Reference: Merity et al., 2017, "Regularizing and Optimizing LSTM Language
Models" (AWD-LSTM); Wan et al., 2013, "Regularization of Neural Networks
using DropConnect".
"""

import keras
from keras import ops

from kerasdrop import _compat
from kerasdrop.layers.masks import dropout_mask
from kerasdrop.layers.rates import Rate
from kerasdrop.layers.rates import RateMixin
from kerasdrop.layers.rates import validate_rate


class WeightDropRNN(RateMixin):
    """Mixin for `keras.layers.LSTM` and `GRU`: a weight-dropped kernel.

    Before the time loop of each training call, one DropConnect mask is
    drawn for the whole recurrent kernel (shared by every sample and time
    step of the batch), and the masked kernel -- a tensor computed from the
    variable, so gradients reach the variable -- is what Keras's own
    `inner_loop` reads: cuDNN where Keras uses it, otherwise Keras's fused
    step in its backend loop.
    """

    rate = Rate("Fraction of recurrent-kernel entries dropped; assignable.")
    supports_step_schedules = True

    def __init__(self, units, rate=0.5, seed=None, **kwargs):
        validate_rate(rate, "rate")
        if kwargs.get("recurrent_dropout"):
            raise ValueError(
                f"{type(self).__name__} already drops recurrent weights "
                "(`rate`); Keras's `recurrent_dropout` would also make it "
                "leave the fused (and cuDNN) implementation. Received: "
                f"recurrent_dropout={kwargs['recurrent_dropout']}"
            )
        # The cell's own generator serves Keras's `dropout` on the inputs;
        # offset its seed so it does not repeat the kernel mask's numbers.
        cell_seed = None if seed is None else seed + 1
        super().__init__(units, seed=cell_seed, **kwargs)
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not training:
            return super().inner_loop(
                sequences, initial_state, mask, training=training
            )
        self.advance_step_schedules(training)
        cell = self.cell
        kernel = ops.cast(cell.recurrent_kernel, cell.compute_dtype)
        kernel_mask = dropout_mask(
            ops.shape(kernel),
            self.dropout_rates["rate"],
            self.seed_generator,
            dtype=cell.compute_dtype,
        )
        with _compat.substituted_weight(
            cell, "recurrent_kernel", kernel * kernel_mask
        ):
            return super().inner_loop(
                sequences, initial_state, mask, training=training
            )

    def get_config(self):
        config = {
            "rate": self.rate,
            "seed": self.seed,
            # An argument of Keras's LSTM and GRU, missing from their config.
            "implementation": self.cell.implementation,
        }
        return {**super().get_config(), **config}
