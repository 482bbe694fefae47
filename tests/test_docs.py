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
        assert "pip install kerasdrop[tensorboard]" in file.read()
