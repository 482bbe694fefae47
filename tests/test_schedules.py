import math

import keras
import numpy as np
import pytest

from kerasdrop import schedules


@pytest.mark.parametrize(
    "schedule, expected",
    [
        (schedules.Constant(0.3), {0: 0.3, 7: 0.3}),
        (schedules.Linear(0.5, 0.0, 10), {0: 0.5, 5: 0.25, 10: 0.0, 99: 0.0}),
        (schedules.Linear(0.0, 0.4, 4), {0: 0.0, 1: 0.1, 4: 0.4, 8: 0.4}),
        (schedules.Cosine(0.5, 0.1, 10), {0: 0.5, 5: 0.3, 10: 0.1, 20: 0.1}),
        (
            schedules.Exponential(0.4, decay_rate=0.5, decay_steps=2),
            {0: 0.4, 2: 0.2, 4: 0.1},
        ),
        (
            schedules.Exponential(0.5, decay_rate=0.5, end=0.1),
            {0: 0.5, 1: 0.3, 2: 0.2},
        ),
        (
            schedules.Curriculum(0.5, gamma=0.1),
            {0: 0.0, 10: 0.5 * (1 - math.exp(-1.0)), 1000: 0.5},
        ),
        (schedules.EarlyDropout(0.2, 3), {0: 0.2, 2: 0.2, 3: 0.0, 9: 0.0}),
        (
            schedules.EarlyDropout(0.2, 4, mode="linear"),
            {0: 0.2, 2: 0.1, 4: 0.0, 9: 0.0},
        ),
        (schedules.LateDropout(0.3, 2), {0: 0.0, 1: 0.0, 2: 0.3, 9: 0.3}),
        (
            schedules.Piecewise([2, 4], [0.5, 0.3, 0.1]),
            {0: 0.5, 1: 0.5, 2: 0.3, 3: 0.3, 4: 0.1, 9: 0.1},
        ),
    ],
)
def test_schedule_values(schedule, expected):
    for step, rate in expected.items():
        assert schedule(step) == pytest.approx(rate, abs=1e-12), step


def test_curriculum_matches_paper_keep_probability():
    # theta(t) = (1 - theta_bar) exp(-gamma t) + theta_bar, rate = 1 - theta.
    theta_bar, gamma = 0.6, 0.05
    schedule = schedules.Curriculum(1 - theta_bar, gamma)
    for t in (0, 3, 30, 300):
        theta = (1 - theta_bar) * math.exp(-gamma * t) + theta_bar
        assert schedule(t) == pytest.approx(1 - theta)


@pytest.mark.parametrize(
    "schedule",
    [
        schedules.Constant(0.3),
        schedules.Linear(0.5, 0.0, 10),
        schedules.Cosine(0.5, 0.1, 10),
        schedules.Exponential(0.4, 0.5, 3, end=0.05),
        schedules.Curriculum(0.5, 0.1),
        schedules.EarlyDropout(0.2, 3, mode="linear"),
        schedules.LateDropout(0.3, 2),
        schedules.Piecewise([2, 4], [0.5, 0.3, 0.1]),
    ],
)
def test_serialization_round_trip(schedule):
    config = keras.saving.serialize_keras_object(schedule)
    assert config["registered_name"].startswith("kerasdrop>")
    restored = keras.saving.deserialize_keras_object(config)
    assert type(restored) is type(schedule)
    assert restored.get_config() == schedule.get_config()
    for step in range(12):
        assert restored(step) == schedule(step)
    assert schedules.get(config).get_config() == schedule.get_config()


@pytest.mark.parametrize(
    "build, error, name",
    [
        (lambda: schedules.Constant(1.5), ValueError, "rate"),
        (lambda: schedules.Constant("a"), TypeError, "rate"),
        (lambda: schedules.Linear(0.5, -0.1, 10), ValueError, "end"),
        (lambda: schedules.Linear(0.5, 0.0, 0), ValueError, "duration"),
        (lambda: schedules.Cosine(0.5, 0.0, -3), ValueError, "duration"),
        (lambda: schedules.Exponential(0.5, 0.0), ValueError, "decay_rate"),
        (lambda: schedules.Exponential(0.5, 1.5), ValueError, "decay_rate"),
        (lambda: schedules.Curriculum(0.5, 0.0), ValueError, "gamma"),
        (lambda: schedules.Curriculum(0.5, float("nan")), ValueError, "gamma"),
        (lambda: schedules.Curriculum(0.5, float("inf")), ValueError, "gamma"),
        (lambda: schedules.Linear(0.5, 0.0, math.inf), ValueError, "duration"),
        (lambda: schedules.EarlyDropout(0.5, -1), ValueError, "cutoff"),
        (lambda: schedules.EarlyDropout(0.5, 2.5), TypeError, "cutoff"),
        (lambda: schedules.EarlyDropout(0.5, 2, "cubic"), ValueError, "mode"),
        (lambda: schedules.LateDropout(1.1, 2), ValueError, "rate"),
        (lambda: schedules.Piecewise([1, 2], [0.1]), ValueError, "values"),
        (lambda: schedules.Piecewise([2, 1], [0, 0, 0]), ValueError, "bound"),
        (lambda: schedules.Piecewise([1], [0.1, 2.0]), ValueError, "values"),
    ],
)
def test_invalid_arguments_raise(build, error, name):
    with pytest.raises(error, match=f"`{name}|{name}"):
        build()


def test_get_accepts_numbers_callables_and_keras_schedules():
    assert schedules.get(0.25)(100) == 0.25
    fn = lambda step: 0.1  # noqa: E731
    assert schedules.get(fn) is fn
    keras_schedule = keras.optimizers.schedules.ExponentialDecay(0.5, 1, 0.5)
    assert schedules.get(keras_schedule) is keras_schedule
    assert schedules.evaluate(keras_schedule, 2) == pytest.approx(0.125)
    with pytest.raises(TypeError, match="schedule"):
        schedules.get("linear")


def test_evaluate_rejects_non_scalar_results():
    with pytest.raises(TypeError, match="step 3"):
        schedules.evaluate(lambda step: np.array([0.1, 0.2]), 3)
    with pytest.raises(TypeError, match="step 0"):
        schedules.evaluate(lambda step: "high", 0)
    assert math.isnan(schedules.evaluate(lambda step: float("nan"), 0))


@pytest.mark.parametrize(
    "schedule",
    [
        schedules.Constant(0.3),
        schedules.Linear(0.5, 0.0, 10),
        schedules.Linear(0.1, 0.9, 7.5),
        schedules.Cosine(0.5, 0.1, 10),
        schedules.Exponential(0.4, 0.5, 3, end=0.05),
        schedules.Exponential(0.4, 1.0),
        schedules.Curriculum(0.5, 0.1),
        schedules.EarlyDropout(0.2, 3),
        schedules.EarlyDropout(0.2, 5, mode="linear"),
        schedules.EarlyDropout(0.2, 0, mode="linear"),
        schedules.LateDropout(0.3, 2),
        schedules.Piecewise([2, 4], [0.5, 0.3, 0.1]),
        schedules.Piecewise([], [0.25]),
    ],
    ids=repr,
)
def test_graph_value_matches_the_python_value(schedule):
    steps = list(range(-2, 30))
    graph = keras.ops.convert_to_numpy(
        keras.ops.stack(
            [
                schedule.graph_value(keras.ops.convert_to_tensor(s, "int32"))
                for s in steps
            ]
        )
    )
    assert graph.dtype == np.float32
    np.testing.assert_allclose(
        graph, [schedule(s) for s in steps], rtol=1e-6, atol=1e-7
    )


def test_graph_value_is_optional_for_custom_schedules():
    class Halves(schedules.RateSchedule):
        def __call__(self, step):
            return 0.5

        def get_config(self):
            return {}

    with pytest.raises(NotImplementedError, match="graph_value"):
        Halves().graph_value(keras.ops.convert_to_tensor(0))


@pytest.mark.parametrize(
    "schedule",
    [
        schedules.EarlyDropout(0.5, cutoff=2**24 + 1),
        schedules.LateDropout(0.5, cutoff=2**24 + 1),
        schedules.Piecewise([2**24 + 1, 2**24 + 3], [0.5, 0.3, 0.1]),
    ],
    ids=lambda schedule: type(schedule).__name__,
)
def test_graph_value_switches_at_the_exact_step_past_2_to_the_24(schedule):
    # A float32 step cannot tell 2**24 from 2**24 + 1.
    steps = range(2**24 - 1, 2**24 + 4)
    dtype = "int64" if keras.backend.backend() == "tensorflow" else "int32"
    in_graph = [
        float(schedule.graph_value(keras.ops.convert_to_tensor(s, dtype)))
        for s in steps
    ]
    assert in_graph == pytest.approx([schedule(s) for s in steps])
