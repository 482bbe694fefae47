"""`compare` trains a variant's later seeds on its first compiled model.

Reuse must change nothing but the time: every run's per-epoch history
equals, bit for bit, the history of the same run on a newly built model.
Both runs execute the same compiled computation on the same values (the
same weights, rates, seed-generator states and optimizer state) on one
machine, so equality is exact, not within a tolerance: a difference of one
float32 ulp means some state carried over from the previous seed.
"""

import keras
import numpy as np
import pytest

import kerasdrop
from kerasdrop import experiments

FEATURES = 6
SEEDS = [0, 1, 2]


def make_model(learning_rate):
    model = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            kerasdrop.ScheduledDropout(0.5, name="dropout"),
            keras.layers.Dense(16, activation="relu", name="hidden_2"),
            kerasdrop.ScheduledDropout(0.5, name="dropout_2"),
            keras.layers.Dense(3, activation="softmax", name="output"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def build_model():
    return make_model(1e-2)


def build_decaying_model():
    # The learning rate is a function of the optimizer's iterations, which
    # must start again at 0 for every seed.
    return make_model(keras.optimizers.schedules.ExponentialDecay(1e-2, 3, 0.5))


def build_plain_model():
    model = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.BatchNormalization(name="norm"),
            keras.layers.Dense(3, activation="softmax", name="output"),
        ]
    )
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def data(rows=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, FEATURES)).astype("float32")
    y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 1).astype("int32")
    return x, y


def with_dropout(model):
    return kerasdrop.insert_dropout(model, after="hidden", rate=0.4)


class Models(keras.callbacks.Callback):
    """Records the model each run trains, and whether it starts clean."""

    def __init__(self, seen):
        super().__init__()
        self.seen = seen

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        iterations = int(keras.ops.convert_to_numpy(optimizer.iterations))
        self.seen.append((self.model, iterations, self.model.stop_training))

    def on_epoch_end(self, epoch, logs=None):
        # Left set after the run; the next seed must not inherit it.
        self.model.stop_training = epoch == 2


def run(variants, reuse, build=build_model, epochs=3, **kwargs):
    x, y = data()
    return experiments.compare(
        build,
        variants,
        x,
        y,
        validation_data=data(24, seed=1),
        seeds=SEEDS,
        epochs=epochs,
        batch_size=16,
        reuse_compiled_model=reuse,
        verbose=0,
        **kwargs,
    )


def histories(result):
    return [
        (run["variant"], run["seed"], run["history"]) for run in result.runs
    ]


CASES = {
    "per-epoch schedules": (
        build_model,
        lambda: [
            experiments.Variant("fixed", rate=0.5),
            experiments.Variant(
                "annealed", schedule=kerasdrop.schedules.Linear(0.5, 0.0, 2)
            ),
        ],
    ),
    "per-batch schedules": (
        build_model,
        lambda: [
            experiments.Variant("fixed", rate=0.3, unit="batch"),
            experiments.Variant(
                "annealed",
                schedule=kerasdrop.schedules.Linear(0.5, 0.0, 8),
                unit="batch",
            ),
            experiments.Variant(
                "per-layer",
                schedule={
                    "dropout": kerasdrop.schedules.Constant(0.2),
                    "dropout_2": kerasdrop.schedules.Linear(0.6, 0.1, 8),
                },
                unit="batch",
            ),
        ],
    ),
    "a learning-rate schedule": (
        build_decaying_model,
        lambda: [experiments.Variant("fixed", rate=0.5)],
    ),
    "a callback that lowers the learning rate": (
        build_model,
        lambda: [
            experiments.Variant(
                "fixed",
                rate=0.5,
                # Lowers it after every epoch: no loss improves by 10.
                callbacks=lambda: [
                    keras.callbacks.ReduceLROnPlateau(
                        "loss", factor=0.5, patience=0, min_delta=10.0
                    )
                ],
            )
        ],
    ),
    "a transform, and BatchNorm statistics": (
        build_plain_model,
        lambda: [experiments.Variant("inserted", transform=with_dropout)],
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_reuse_gives_the_histories_of_new_models(case):
    build, variants = CASES[case]
    reference = "none" if build is not build_plain_model else "plain"
    plain = [experiments.Variant("plain")] if reference == "plain" else []
    kwargs = {"reference": reference}
    reused = run(plain + variants(), True, build, **kwargs)
    new = run(plain + variants(), False, build, **kwargs)
    assert histories(reused) == histories(new)
    assert reused.differences == new.differences
    flags = {
        (run["variant"], run["seed"]): run["reused_compiled_model"]
        for run in reused.runs
    }
    assert flags == {key: key[1] != SEEDS[0] for key in flags}
    assert not any(run["reused_compiled_model"] for run in new.runs)


def test_each_variant_trains_one_model_that_starts_clean():
    seen = {"none": [], "fixed": []}

    def models(name):
        return lambda: [Models(seen[name])]

    variants = [
        experiments.Variant(name, rate=rate, callbacks=models(name))
        for name, rate in (("none", 0.0), ("fixed", 0.5))
    ]
    run(variants, True)
    for records in seen.values():
        models = {id(model) for model, _, _ in records}
        assert len(records) == len(SEEDS) and len(models) == 1
        assert [(i, stop) for _, i, stop in records] == [(0, False)] * 3
    assert seen["none"][0][0] is not seen["fixed"][0][0]


def test_a_model_whose_variables_differ_is_trained_new():
    def build(seed):
        # Wider for seed 2: its variables do not fit the compiled model.
        model = keras.Sequential(
            [
                keras.Input((FEATURES,)),
                keras.layers.Dense(16 + 8 * (seed == 2), activation="relu"),
                kerasdrop.ScheduledDropout(0.5, name="dropout"),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    reused = run([experiments.Variant("fixed", rate=0.5)], True, build)
    new = run([experiments.Variant("fixed", rate=0.5)], False, build)
    flags = [(run["seed"], run["reused_compiled_model"]) for run in reused.runs]
    assert flags == [(0, False)] * 2 + [(1, True)] * 2 + [(2, False)] * 2
    assert [h[2]["val_loss"] for h in histories(reused)] == [
        h[2]["val_loss"] for h in histories(new)
    ]


def test_callbacks_and_data_may_depend_on_the_seed():
    given = []

    def callbacks(seed):
        given.append(seed)
        return []

    def training_data(seed):
        return data(48 + 16 * seed, seed=seed)

    result = experiments.compare(
        build_model,
        [experiments.Variant("fixed", rate=0.5, callbacks=callbacks)],
        training_data,
        validation_data=data(24, seed=1),
        seeds=[0, 1],
        epochs=1,
        batch_size=16,
        verbose=0,
    )
    assert given == [0, 1]
    # Seed 1 trains on 64 rows: 4 batches, so 4 optimizer steps (the loss
    # of seed 0 is the mean over its 3 batches); a fixed array gives both
    # seeds the same rows.
    fixed = experiments.compare(
        build_model,
        [experiments.Variant("fixed", rate=0.5)],
        *data(48, seed=0),
        validation_data=data(24, seed=1),
        seeds=[0, 1],
        epochs=1,
        batch_size=16,
        verbose=0,
    )
    assert result.runs[0]["history"] == fixed.runs[0]["history"]
    assert result.runs[2]["history"] != fixed.runs[2]["history"]
    with pytest.raises(ValueError, match="y=None"):
        experiments.compare(
            build_model,
            [experiments.Variant("fixed", rate=0.5)],
            training_data,
            data()[1],
            seeds=[0],
            verbose=0,
        )
