"""One table of bad inputs across layers, schedules and callbacks.

Each must raise a ValueError or TypeError whose message names the argument
and shows the value received; a failed assignment leaves the old rate.
"""

import keras
import numpy as np
import pytest

import kerasdrop
from kerasdrop import schedules
from kerasdrop.callbacks import CoAdaptationMonitor
from kerasdrop.callbacks import DropoutScheduler

NAN = float("nan")


def _seq(rank):
    return np.ones((2, 3, 4, 5, 6)[:rank], dtype="float32")


def _fit_with(scheduler, model=None):
    if model is None:
        model = keras.Sequential(
            [
                keras.Input((4,)),
                kerasdrop.ScheduledDropout(0.25, name="drop"),
                keras.layers.Dense(1),
            ]
        )
    model.compile(optimizer="sgd", loss="mse")
    model.fit(
        np.ones((8, 4)), np.ones((8, 1)), epochs=2, callbacks=[scheduler],
        verbose=0,
    )  # fmt: skip


def _assign(layer, name, value):
    setattr(layer, name, value)


def _no_rates_model():
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dropout(0.5), keras.layers.Dense(1)]
    )


def _two_input_model():
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    joined = keras.layers.Concatenate()([a, b])
    dropped = kerasdrop.ScheduledDropout(0.5, seed=0)(joined)
    return keras.Model({"a": a, "b": b}, keras.layers.Dense(2)(dropped))


# (id, callable, error type, strings the message must contain)
CASES = [
    (
        "rate<0",
        lambda: kerasdrop.ScheduledDropout(-0.1),
        ValueError,
        ["`rate`", "rate=-0.1"],
    ),
    (
        "rate>1",
        lambda: kerasdrop.ScheduledDropout(1.5),
        ValueError,
        ["`rate`", "rate=1.5"],
    ),
    (
        "rate-nan",
        lambda: kerasdrop.ScheduledDropout(NAN),
        ValueError,
        ["`rate`", "rate=nan"],
    ),
    (
        "rate-string",
        lambda: kerasdrop.ScheduledDropout("0.5"),
        TypeError,
        ["`rate`", "rate='0.5'"],
    ),
    (
        "rate-none",
        lambda: kerasdrop.ScheduledSpatialDropout2D(None),
        TypeError,
        ["`rate`", "rate=None"],
    ),
    (
        "noise-shape-zero",
        lambda: kerasdrop.ScheduledDropout(0.5, noise_shape=(None, 0)),
        ValueError,
        ["`noise_shape`", "(None, 0)"],
    ),
    (
        "noise-shape-rank",
        lambda: kerasdrop.ScheduledDropout(0.5, noise_shape=(None, 1))(
            _seq(3), training=True
        ),
        ValueError,
        ["`noise_shape`", "(None, 1)"],
    ),
    (
        "noise-shape-size",
        lambda: kerasdrop.ScheduledDropout(0.5, noise_shape=(None, 2, None))(
            _seq(3), training=True
        ),
        ValueError,
        ["`noise_shape`", "(None, 2, None)"],
    ),
    (
        "gaussian-dropout-rate>1",
        lambda: kerasdrop.ScheduledGaussianDropout(1.5),
        ValueError,
        ["`rate`", "rate=1.5"],
    ),
    (
        "gaussian-noise-stddev<0",
        lambda: kerasdrop.ScheduledGaussianNoise(-0.5),
        ValueError,
        ["`stddev`", "stddev=-0.5"],
    ),
    (
        "alpha-dropout-noise-shape",
        lambda: kerasdrop.ScheduledAlphaDropout(0.5, noise_shape=(None, 0)),
        ValueError,
        ["`noise_shape`", "(None, 0)"],
    ),
    (
        "attention-dropout-nan",
        lambda: kerasdrop.ScheduledMultiHeadAttention(2, 4, dropout=NAN),
        ValueError,
        ["`dropout`", "dropout=nan"],
    ),
    (
        "make-schedulable-no-dropout",
        lambda: kerasdrop.make_schedulable(
            keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        ),
        ValueError,
        ["holds no dropout to convert"],
    ),
    (
        "make-schedulable-bad-layers",
        lambda: kerasdrop.make_schedulable(_no_rates_model(), layers=3),
        ValueError,
        ["`layers`", "layers=3"],
    ),
    (
        "spatial1d-rank",
        lambda: kerasdrop.ScheduledSpatialDropout1D(0.5)(_seq(4)),
        ValueError,
        ["expected ndim=3", "ndim=4"],
    ),
    (
        "spatial2d-rank",
        lambda: kerasdrop.ScheduledSpatialDropout2D(0.5)(_seq(3)),
        ValueError,
        ["expected ndim=4", "ndim=3"],
    ),
    (
        "spatial3d-rank",
        lambda: kerasdrop.ScheduledSpatialDropout3D(0.5)(_seq(4)),
        ValueError,
        ["expected ndim=5", "ndim=4"],
    ),
    (
        "variational-rank",
        lambda: kerasdrop.VariationalDropout(0.5)(_seq(2)),
        ValueError,
        ["min_ndim=3", "ndim=2"],
    ),
    (
        "variational-lstm-rank",
        lambda: kerasdrop.VariationalLSTM(4)(_seq(2)),
        ValueError,
        ["ndim=3", "ndim=2"],
    ),
    (
        "zoneout-lstm-cell-rate",
        lambda: kerasdrop.ZoneoutLSTM(4, cell_rate=1.2),
        ValueError,
        ["`cell_rate`", "cell_rate=1.2"],
    ),
    (
        "zoneout-gru-rate",
        lambda: kerasdrop.ZoneoutGRU(4, rate=-1),
        ValueError,
        ["`rate`", "rate=-1"],
    ),
    (
        "weight-drop-rate-string",
        lambda: kerasdrop.WeightDropLSTM(4, rate="high"),
        TypeError,
        ["`rate`", "rate='high'"],
    ),
    (
        "variational-gru-input-rate-nan",
        lambda: kerasdrop.VariationalGRU(4, input_rate=NAN),
        ValueError,
        ["`input_rate`", "input_rate=nan"],
    ),
    (
        "zoneout-cell-not-a-cell",
        lambda: kerasdrop.ZoneoutCell(keras.layers.Dense(3), rate=0.1),
        (ValueError, TypeError),
        ["`cell`", "Dense"],
    ),
    (
        "drop-block-rate>1",
        lambda: kerasdrop.DropBlock2D(1.5),
        ValueError,
        ["`rate`", "rate=1.5"],
    ),
    (
        "drop-block-size-zero",
        lambda: kerasdrop.DropBlock2D(0.1, block_size=0),
        ValueError,
        ["`block_size`", "block_size=0"],
    ),
    (
        "drop-block-size-triple",
        lambda: kerasdrop.DropBlock2D(0.1, block_size=(3, 3, 3)),
        ValueError,
        ["`block_size`", "(3, 3, 3)"],
    ),
    (
        "drop-block-data-format",
        lambda: kerasdrop.DropBlock2D(0.1, data_format="nhwc"),
        ValueError,
        ["`data_format`", "nhwc"],
    ),
    (
        "drop-block-rank",
        lambda: kerasdrop.DropBlock2D(0.1)(_seq(3)),
        ValueError,
        ["expected ndim=4", "ndim=3"],
    ),
    (
        "embedding-dropout-rate-nan",
        lambda: kerasdrop.EmbeddingDropout(10, 4, NAN),
        ValueError,
        ["`rate`", "rate=nan"],
    ),
    (
        "embedding-dropout-rate-string",
        lambda: kerasdrop.EmbeddingDropout(10, 4, "0.1"),
        TypeError,
        ["`rate`", "rate='0.1'"],
    ),
    (
        "concrete-not-a-layer",
        lambda: kerasdrop.ConcreteDropout("dense"),
        ValueError,
        ["`layer`", "layer='dense'"],
    ),
    (
        "concrete-init-min-zero",
        lambda: kerasdrop.ConcreteDropout(keras.layers.Dense(2), init_min=0),
        ValueError,
        ["`init_min`", "init_min=0"],
    ),
    (
        "concrete-temperature-negative",
        lambda: kerasdrop.ConcreteDropout(
            keras.layers.Dense(2), temperature=-1.0
        ),
        ValueError,
        ["`temperature`", "temperature=-1.0"],
    ),
    (
        "concrete-regularizers-size",
        lambda: kerasdrop.layers.concrete_dropout_regularizers(-5),
        ValueError,
        ["`num_samples`", "num_samples=-5"],
    ),
    (
        "schedule-end>1",
        lambda: schedules.Linear(0.5, 1.5, 10),
        ValueError,
        ["`end`", "end=1.5"],
    ),
    (
        "schedule-gamma<0",
        lambda: schedules.Curriculum(0.5, gamma=-1),
        ValueError,
        ["`gamma`", "gamma=-1"],
    ),
    (
        "schedule-piecewise-lengths",
        lambda: schedules.Piecewise([1, 2], [0.1, 0.2]),
        ValueError,
        ["`values`", "2 boundaries and 2 values"],
    ),
    (
        "scheduler-returns-nan",
        lambda: _fit_with(DropoutScheduler(lambda epoch: NAN)),
        ValueError,
        ["'drop'", "epoch 1 (schedule step 0)", "nan", "stays at 0.25"],
    ),
    (
        "scheduler-returns-1.5",
        lambda: _fit_with(DropoutScheduler(lambda epoch: 1.5)),
        ValueError,
        ["'drop'", "epoch 1 (schedule step 0)", "1.5", "stays at 0.25"],
    ),
    (
        "scheduler-unknown-layer",
        lambda: _fit_with(DropoutScheduler({"dense_dropout": 0.1})),
        ValueError,
        ["'dense_dropout'", "['drop']"],
    ),
    (
        "scheduler-no-rates",
        lambda: _fit_with(DropoutScheduler(0.1), _no_rates_model()),
        ValueError,
        ["no schedulable dropout rate"],
    ),
    (
        "scheduler-unit",
        lambda: DropoutScheduler(0.1, unit="step"),
        ValueError,
        ["`unit`", "unit='step'"],
    ),
    (
        "mc-predict-rows-differ",
        lambda: kerasdrop.analysis.mc_predict(
            _two_input_model(),
            {"a": np.ones((5, 3), "float32"), "b": np.ones((4, 2), "float32")},
            num_samples=3,
        ),
        ValueError,
        ["`x`", "same number of rows", "(5, 3)", "(4, 2)"],
    ),
    (
        "monitor-empty-probe",
        lambda: CoAdaptationMonitor(np.zeros((0, 4), "float32")),
        ValueError,
        ["`x`", "0"],
    ),
    (
        "monitor-every",
        lambda: CoAdaptationMonitor(np.ones((4, 4)), every=0),
        ValueError,
        ["`every`", "every=0"],
    ),
]


@pytest.mark.parametrize(
    "build, error, fragments",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_raises_clear_error(build, error, fragments):
    with pytest.raises(error) as info:
        build()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in: {message}"


def test_matrix_is_large():
    assert len(CASES) >= 20


@pytest.mark.parametrize(
    "layer, name, bad",
    [
        (lambda: kerasdrop.ScheduledDropout(0.3), "rate", 2.0),
        (lambda: kerasdrop.ScheduledDropout(0.3), "rate", "x"),
        (lambda: kerasdrop.ZoneoutLSTM(4, cell_rate=0.3), "cell_rate", -0.1),
        (lambda: kerasdrop.VariationalLSTM(4, input_rate=0.3), "input_rate",
         NAN),
        (lambda: kerasdrop.WeightDropGRU(4, rate=0.3), "rate", 1.01),
        (lambda: kerasdrop.DropBlock2D(0.3), "rate", -0.5),
        (lambda: kerasdrop.EmbeddingDropout(10, 2, 0.3), "rate", 1.5),
        (lambda: kerasdrop.ScheduledGaussianNoise(0.3), "stddev", 1.5),
        (lambda: kerasdrop.ScheduledAlphaDropout(0.3), "rate", -1.0),
        (lambda: kerasdrop.ScheduledMultiHeadAttention(2, 4, dropout=0.3),
         "dropout", 2.0),
    ],
)  # fmt: skip
def test_failed_assignment_keeps_the_old_rate(layer, name, bad):
    layer = layer()
    with pytest.raises((ValueError, TypeError), match=f"`{name}`"):
        setattr(layer, name, bad)
    assert getattr(layer, name) == pytest.approx(0.3)
