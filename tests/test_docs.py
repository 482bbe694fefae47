"""The documentation site works offline and says what to install."""

import configparser
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")


def _mkdocs_config():
    yaml = pytest.importorskip("yaml")
    with open(os.path.join(ROOT, "mkdocs.yml")) as file:
        return yaml.safe_load(file)


def test_math_renderer_is_shipped_with_the_site():
    # Formulas are left as LaTeX by arithmatex; the scripts and styles that
    # render them must be files of the site, not a network address.
    config = _mkdocs_config()
    extensions = [
        next(iter(entry)) if isinstance(entry, dict) else entry
        for entry in config["markdown_extensions"]
    ]
    assert "pymdownx.arithmatex" in extensions
    assets = config.get("extra_javascript", []) + config.get("extra_css", [])
    assert any("katex.min.js" in path for path in assets)
    assert any("katex.min.css" in path for path in assets)
    for path in assets:
        assert not re.match(r"^[a-z]+:|^//", path), path
        assert os.path.isfile(os.path.join(DOCS, path)), path


def test_every_katex_font_the_stylesheet_uses_is_shipped():
    katex = os.path.join(DOCS, "assets", "katex")
    with open(os.path.join(katex, "katex.min.css")) as file:
        fonts = set(re.findall(r"url\((fonts/[^)]+\.woff2)\)", file.read()))
    assert len(fonts) > 10
    for font in fonts:
        assert os.path.isfile(os.path.join(katex, font)), font


def test_tensorboard_extra_is_what_the_guides_tell_users_to_install():
    setup = configparser.ConfigParser()
    setup.read(os.path.join(ROOT, "setup.cfg"))
    extras = setup["options.extras_require"]
    assert "tensorboard" in extras["tensorboard"].split()
    with open(os.path.join(DOCS, "guides", "scheduling.md")) as file:
        assert 'pip install -e ".[tensorboard]"' in file.read()


def _pages():
    pages = [os.path.join(ROOT, "README.md")]
    for folder, _, files in os.walk(DOCS):
        pages += [os.path.join(folder, f) for f in files if f.endswith(".md")]
    return pages


def _commands(pattern):
    """(page, command) for each `pattern` match, to the end of its line or
    code span."""
    found = []
    for page in _pages():
        with open(page, encoding="utf-8") as file:
            text = file.read()
        for match in re.finditer(pattern + r"[^`\n]*", text):
            found.append((os.path.relpath(page, ROOT), match.group()))
    return found


def test_install_commands_install_the_clone_with_quoted_extras():
    # kerasdrop is not on the package index, and `pip install ".[x]"` after
    # an editable install replaces it with a copy: every install is `-e` of
    # the clone, extras in quotes (zsh expands a bare `.[x]`).
    commands = _commands(r"pip install")
    assert len(commands) >= 5
    for page, command in commands:
        assert not re.search(r"install [\"']?kerasdrop", command), (
            page,
            command,
        )
        assert re.search(r'-e (\.|"\.\[[\w,]+\]")(\s|$)', command), (
            page,
            command,
        )
        assert not re.search(r'(?<!")\.\[', command), (page, command)


def test_every_test_command_runs_in_parallel():
    commands = _commands(r"python -m pytest")
    assert len(commands) >= 3
    for page, command in commands:
        assert "-n auto" in command, (page, command)


def test_formulas_are_math_not_code():
    # `h_{t-1}` or `2^-16` in a code span shows the LaTeX source; formulas
    # go in $...$ (arithmatex), which the shipped KaTeX renders.
    for page in _pages():
        with open(page, encoding="utf-8") as file:
            text = re.sub(r"```.*?```", "", file.read(), flags=re.DOTALL)
        spans = re.findall(r"`[^`\n]+`", text)
        raw = [span for span in spans if re.search(r"\^|_\{|\\[a-z]+", span)]
        assert not raw, (os.path.relpath(page, ROOT), raw)


def test_no_file_holds_merge_conflict_markers():
    # A merge once left both sides of a conflict on a docs page, markers
    # and all; `mkdocs build --strict` renders them as text.
    names = ["README.md", "setup.cfg", "pyproject.toml", "conftest.py"]
    for folder in ("kerasdrop", "tests", "examples", "docs", "benchmarks"):
        for base, _, files in os.walk(os.path.join(ROOT, folder)):
            names += [
                os.path.relpath(os.path.join(base, name), ROOT)
                for name in files
                if name.endswith((".md", ".py", ".yml", ".toml"))
            ]
    marker = re.compile(r"^(<{7} |={7}$|>{7} )", re.M)
    found = [
        name
        for name in names
        if marker.search(open(os.path.join(ROOT, name)).read())
    ]
    assert not found, found
