"""The package's layers import downwards only, and never inside functions.

The order is the one `docs/architecture.md` draws: `_compat` at the bottom,
then the layers and the metrics, the recurrent layers and the schedules,
the model walk, the analysis, the callbacks, transfer learning, and the
paired experiments on top.
"""

import ast
import pathlib

import pytest

import kerasdrop

PACKAGE = pathlib.Path(kerasdrop.__file__).parent

# Unit -> rank: a module may import kerasdrop units of a lower rank, and
# its own unit.
RANKS = {
    "version": 0,
    "_compat": 0,
    "layers": 1,
    "metrics": 1,
    "rnn": 2,
    "schedules": 2,
    "models": 3,
    "analysis": 4,
    "callbacks": 5,
    "transfer": 6,
    "experiments": 7,
}


def _unit(module):
    """`"kerasdrop.models.walk"` -> `"models"`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _module_name(path):
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _kerasdrop_imports(tree):
    """`(node, imported module, at module level)` for kerasdrop imports."""
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
            if node.module == "kerasdrop":
                names = [f"kerasdrop.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            if name == "kerasdrop" or name.startswith("kerasdrop."):
                yield node, name, id(node) in top_level


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_unit_has_a_rank():
    units = {_unit(_module_name(path)) for path in SOURCES} - {None}
    assert units == set(RANKS)


@pytest.mark.parametrize(
    "path", SOURCES, ids=[str(p.relative_to(PACKAGE)) for p in SOURCES]
)
def test_imports_go_down_and_sit_at_module_level(path):
    module = _module_name(path)
    unit = _unit(module)
    tree = ast.parse(path.read_text(), str(path))
    for node, imported, at_top in _kerasdrop_imports(tree):
        where = f"{path.relative_to(PACKAGE)}:{node.lineno}"
        assert at_top, f"{where}: import of {imported} inside a function"
        if unit is None:  # kerasdrop/__init__.py gathers the public names.
            continue
        target = _unit(imported)
        assert target is not None, f"{where}: imports the package root"
        assert target == unit or RANKS[target] < RANKS[unit], (
            f"{where}: {unit} (rank {RANKS[unit]}) imports {imported} "
            f"(rank {RANKS[target]}): imports must go down"
        )


def test_the_check_catches_an_upward_and_a_lazy_import():
    tree = ast.parse(
        "from kerasdrop.callbacks import DropoutScheduler\n"
        "def f():\n"
        "    from kerasdrop.models import walk\n"
    )
    found = [(name, top) for _, name, top in _kerasdrop_imports(tree)]
    assert found == [
        ("kerasdrop.callbacks", True),
        ("kerasdrop.models", False),
    ]
