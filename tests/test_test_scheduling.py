"""The test run's own scheduling: groups of tests that build the same
large models run in one test process (`conftest._SHARED_BUILDS`)."""

import pathlib
import re

import pytest

import conftest

pytest.importorskip("xdist")

ROOT = pathlib.Path(conftest.__file__).parent


class _Config:
    """What the scheduler reads of a `pytest -n 2` run's config."""

    def __init__(self, dist):
        self.values = {"dist": dist, "tx": ["popen"] * 2, "numprocesses": 2}

    def getvalue(self, name):
        return self.values.get(name)

    getoption = getvalue


@pytest.mark.parametrize(
    "group, prefix",
    [
        (group, prefix)
        for group, prefixes in conftest._SHARED_BUILDS.items()
        for prefix in prefixes
    ],
)
def test_every_prefix_names_tests_that_exist(group, prefix):
    path, _, name = prefix.partition("::")
    source = (ROOT / path).read_text()
    if name:
        assert re.search(rf"^def {re.escape(name)}", source, re.M), prefix


def test_a_group_is_one_scope_and_other_tests_are_their_own():
    scheduler = conftest.pytest_xdist_make_scheduler(_Config("load"), None)
    scope = scheduler._split_scope
    first, second = (
        "tests/models/test_make_schedulable.py::test_mobilenet_v2_holds_no_"
        "dropout",
        "tests/transfer/test_backbones.py::test_keras_resnet_code_path[x]",
    )
    assert scope(first) == scope(second) == "keras_applications"
    other = "tests/models/test_make_schedulable.py::test_model_without_dropout"
    assert scope(other) == other


def test_an_explicit_distribution_is_left_alone():
    assert conftest.pytest_xdist_make_scheduler(_Config("each"), None) is None


def test_the_tests_of_an_example_file_share_one_process():
    scheduler = conftest.pytest_xdist_make_scheduler(_Config("load"), None)
    path = "tests/test_examples_vit.py"
    assert scheduler._split_scope(f"{path}::test_a") == path
    assert scheduler._split_scope(f"{path}::test_b[x]") == path
