"""Every fenced Python block of the README and the docs runs as written.

A block runs in a fresh namespace, in an empty working folder, unless its
first line is a comment that starts with `# Continues` ("# Continues the
example above."): such a block runs in the namespace that the previous
Python block of the same page left, so the page itself says what it builds
on. A block that needs a network, or minutes of CPU, runs in the offline
form that `OFFLINE` gives, each substitution with its reason; a block that
imports KerasHub is skipped where KerasHub is not installed (it is the
`hub` extra).
"""

import glob
import os
import re
import sys

import keras
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ["README.md"] + sorted(
    os.path.relpath(path, ROOT)
    for path in glob.glob(
        os.path.join(ROOT, "docs", "**", "*.md"), recursive=True
    )
)
FENCE = re.compile(r"^(?P<indent> *)```(?P<language>[\w-]*)\s*$")
CONTINUES = "# Continues"

# (text in a block, what the test runs instead, why)
OFFLINE = (
    (
        'weights="imagenet"',
        "weights=None",
        "downloading weights needs a network: the same architecture with "
        "random weights",
    ),
    (
        "size = 224  # ImageNet's",
        "size = 32  # ImageNet's",
        "with random weights, ImageNet's image size only costs time: "
        "ResNet50 on 32x32 images does a 49th of the arithmetic",
    ),
    (
        "transfer.pretrained_small_resnet()",
        "transfer.small_resnet()",
        "the first call pretrains the backbone, which takes minutes: the "
        "same architecture, untrained",
    ),
)
# Blocks that build a model of `keras.applications` are skipped on JAX:
# there Keras initializes each weight in a compiled call of its own, and
# building ResNet50 or EfficientNetB0 alone takes 15 to 35 s of CPU. Their
# code is the same on every backend, and runs on TensorFlow.
APPLICATIONS = ("EfficientNetB0(", '"resnet50"')
# Text that means a block needs a network, unless `OFFLINE` replaces it.
NEEDS_NETWORK = ('"imagenet"', "from_preset(", "http://", "https://")


def _python_blocks(page):
    """(line of the opening fence, code) for each Python block of a page."""
    with open(os.path.join(ROOT, page), encoding="utf-8") as file:
        lines = file.read().split("\n")
    blocks, opened = [], None
    for number, text in enumerate(lines, start=1):
        match = FENCE.match(text)
        if not match:
            continue
        if opened is None:
            opened = (number, match)
        elif not match["language"]:
            start, fence = opened
            if fence["language"] == "python":
                indent = len(fence["indent"])
                body = [line[indent:] for line in lines[start : number - 1]]
                blocks.append((start, "\n".join(body) + "\n"))
            opened = None
    return blocks


def _snippets():
    snippets = []
    for page in PAGES:
        previous = None
        for line, code in _python_blocks(page):
            continues = code.lstrip().startswith(CONTINUES)
            snippets.append((page, line, code, previous if continues else None))
            previous = (page, line)
    return snippets


SNIPPETS = {
    (page, line): (code, prev) for page, line, code, prev in _snippets()
}


def _offline(code):
    for text, replacement, _ in OFFLINE:
        code = code.replace(text, replacement)
    return code


# The namespace each block left, so that a block that continues it need not
# run the blocks before it again (it does where this process has not run
# them, as under pytest-xdist).
_namespaces = {}


def _run(key):
    if key in _namespaces:
        return _namespaces[key]
    code, previous = SNIPPETS[key]
    namespace = dict(_run(previous)) if previous else {"__name__": "__doc__"}
    if re.search(r"^\s*import keras_hub", code, re.MULTILINE):
        pytest.importorskip("keras_hub")
    if keras.backend.backend() == "jax" and any(
        name in re.sub(r"#.*", "", code) for name in APPLICATIONS
    ):
        pytest.skip("builds a keras.applications model: slow on JAX")
    code = _offline(code)
    for marker in NEEDS_NETWORK:
        assert marker not in code, (
            f"{key[0]}:{key[1]} needs a network ({marker!r}): give it an "
            "offline form in OFFLINE"
        )
    exec(compile(code, f"{key[0]}, block at line {key[1]}", "exec"), namespace)
    _namespaces[key] = namespace
    return namespace


def test_the_pages_have_python_blocks():
    # A change to the fence syntax must not make this test vacuous.
    assert len(SNIPPETS) >= 15
    assert any(prev for _, prev in SNIPPETS.values())


def test_every_offline_form_is_used():
    code = "".join(code for code, _ in SNIPPETS.values())
    for text, _, reason in OFFLINE:
        assert text in code, f"No block has {text!r} ({reason})"


@pytest.mark.parametrize(
    "key", list(SNIPPETS), ids=[f"{page}:{line}" for page, line in SNIPPETS]
)
def test_snippet_runs(key, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    try:
        _run(key)
    finally:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")
