"""The numbers in the docs' tables are the ones in the results files.

`--docs-images` copies an example's `results.json` into `docs/results/`;
`examples/example_tables.py` makes a page's table rows from it. Every row
must be on its page, so a new run that changes a number fails here until
the page shows it.
"""

import os

import pytest

from tests.example_scripts import load_example

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
example_tables = load_example("example_tables")
TABLES = list(example_tables.tables())


def test_results_files_are_committed_for_the_guides():
    names = {name for name, _, _ in TABLES}
    assert "transfer_resnet_head.json" in names


def test_every_results_file_has_a_table_maker():
    present = set(os.listdir(example_tables.RESULTS))
    assert present <= set(example_tables.TABLES), present - set(
        example_tables.TABLES
    )


@pytest.mark.parametrize(
    "name,page,rows", TABLES, ids=[name for name, _, _ in TABLES]
)
def test_docs_show_the_numbers_of_the_results_file(name, page, rows):
    with open(os.path.join(ROOT, page)) as file:
        lines = {line.rstrip() for line in file.read().splitlines()}
    missing = [row for row in rows if row and row not in lines]
    assert not missing, f"{page} lacks rows of {name}: {missing}"


def test_a_changed_number_is_caught():
    name, page, rows = TABLES[0]
    with open(os.path.join(ROOT, page)) as file:
        text = file.read()
    changed = rows[2].replace("0.9", "0.8", 1)
    assert changed != rows[2] and changed not in text.splitlines()
