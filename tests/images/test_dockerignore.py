"""The ignore matcher follows Docker's rules, since it decides which files the content tag covers."""

from __future__ import annotations

import pytest

from mlkube.core.image import Image
from mlkube.images.dockerignore import DEFAULT_IGNORE, IgnoreMatcher, render_dockerignore


@pytest.mark.parametrize(("path", "ignored"), [
    (".git/config", True),
    ("pkg/.git/HEAD", True),
    (".venv/bin/python", True),
    ("src/__pycache__/x.cpython-311.pyc", True),
    ("data/train.csv", True),
    ("checkpoints/epoch=1.ckpt", True),
    ("weights/model.safetensors", True),
    ("notebooks/.ipynb_checkpoints/a.ipynb", True),
    ("serve.py", False),
    ("requirements.txt", False),
    ("src/fraud/data_loader.py", False),
    ("src/metadata/schema.json", False),
])
def test_default_patterns(path: str, ignored: bool) -> None:
    assert IgnoreMatcher(DEFAULT_IGNORE).ignored(path) is ignored


def test_patterns_without_double_star_are_anchored_at_the_context_root() -> None:
    matcher = IgnoreMatcher(["notebooks", "*.md"])
    assert matcher.ignored("notebooks/a.ipynb") and matcher.ignored("README.md")
    assert not matcher.ignored("src/notebooks/a.ipynb") and not matcher.ignored("docs/README.md")


def test_the_last_matching_pattern_wins_and_exceptions_reinclude() -> None:
    matcher = IgnoreMatcher(["**/data", "!data/labels.csv", "**/*.csv"])
    assert matcher.ignored("data/labels.csv")  # the later '**/*.csv' excludes it again
    matcher = IgnoreMatcher(["**/data", "**/*.csv", "!data/labels.csv"])
    assert not matcher.ignored("data/labels.csv") and matcher.ignored("data/other.csv")


def test_character_classes_and_single_characters() -> None:
    matcher = IgnoreMatcher(["**/*.py[cod]", "tmp?"])
    assert matcher.ignored("a/b.pyc") and not matcher.ignored("a/b.py")
    assert matcher.ignored("tmp1") and not matcher.ignored("tmp12")


def test_rendered_file_holds_the_defaults_then_the_image_patterns() -> None:
    text = render_dockerignore(Image.build("models/fraud", ignore=["notebooks/", "!data/labels.csv"]))
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == [*DEFAULT_IGNORE, "notebooks/", "!data/labels.csv"]
    assert IgnoreMatcher(text).ignored("notebooks/x.ipynb") and not IgnoreMatcher(text).ignored("data/labels.csv")
