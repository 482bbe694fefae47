"""DropConnect on the recurrent kernel of Keras's own LSTM and GRU.

Reference: Merity et al., 2017, "Regularizing and Optimizing LSTM Language
Models" (AWD-LSTM); Wan et al., 2013, "Regularization of Neural Networks
using DropConnect".
"""

import contextlib
import weakref

import keras
from keras import ops

from kerasdrop import _compat
from kerasdrop.layers.masks import dropout_mask
from kerasdrop.layers.rates import Rate
from kerasdrop.layers.rates import RateMixin
from kerasdrop.layers.rates import validate_rate


class _DroppedKernelCell:
    """Mixin for the cell of a weight-dropped layer.

    Keras reads `cell.recurrent_kernel` wherever it runs an LSTM or GRU:
    in the cell's step, when handing the weights to cuDNN, and in
    `keras.layers.Bidirectional`'s fused bidirectional kernel, which reads
    the cells of both directions without calling the layers (JAX and
    PyTorch on a GPU). This property makes every such read in a training
    call see a weight-dropped kernel: the one the layer drew for its own
    loop, or, read from outside that loop (the fused path), a fresh
    DropConnect mask per read. At inference it is the variable.
    """

    _classes = {}

    @classmethod
    def adopt(cls, cell, layer):
        """Makes `cell` (a Keras LSTM or GRU cell) read dropped kernels."""
        base = type(cell)
        if base not in cls._classes:
            cls._classes[base] = type(base.__name__, (cls, base), {})
        cell.__class__ = cls._classes[base]
        cell.__dict__["_weight_drop_layer"] = weakref.ref(layer)

    @property
    def recurrent_kernel_variable(self):
        """The recurrent kernel's variable itself."""
        return self.__dict__.get("_recurrent_kernel_variable")

    @property
    def recurrent_kernel(self):
        variable = self.recurrent_kernel_variable
        dropped = self.__dict__.get("_dropped_recurrent_kernel")
        if dropped is not None:
            return dropped
        layer = self.__dict__["_weight_drop_layer"]()
        if variable is None or layer is None:
            return variable
        if not _compat.in_training_call():
            return variable
        # Only a read from outside the layer's own loop gets here (the
        # fused bidirectional kernel): it must not see the raw kernel.
        return layer._dropped_kernel()

    @recurrent_kernel.setter
    def recurrent_kernel(self, value):
        self.__dict__["_recurrent_kernel_variable"] = value

    @contextlib.contextmanager
    def dropped_kernel(self, kernel):
        """Makes every read of `recurrent_kernel` in the block see `kernel`."""
        self.__dict__["_dropped_recurrent_kernel"] = kernel
        try:
            yield
        finally:
            del self.__dict__["_dropped_recurrent_kernel"]


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
        _DroppedKernelCell.adopt(self.cell, self)
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _dropped_kernel(self):
        """The recurrent kernel with one fresh DropConnect mask."""
        cell = self.cell
        kernel = ops.cast(cell.recurrent_kernel_variable, cell.compute_dtype)
        kernel_mask = dropout_mask(
            ops.shape(kernel),
            self.dropout_rates["rate"],
            self.seed_generator,
            dtype=cell.compute_dtype,
        )
        return kernel * kernel_mask

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not training:
            return super().inner_loop(
                sequences, initial_state, mask, training=training
            )
        # One mask for the whole sequence: every time step of Keras's loop
        # (or its fused kernel) reads this one dropped kernel.
        with self.cell.dropped_kernel(self._dropped_kernel()):
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
