"""Content tags: the same inputs keep the tag, any built input changes it, ignored files do not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlkube.core.image import Image
from mlkube.images.content_tag import TAG_LENGTH, content_tag, context_files
from mlkube.images.dockerfile import render_dockerfile
from mlkube.images.dockerignore import IgnoreMatcher, render_dockerignore


def tag_of(context: Path, **fields: object) -> str:
    image = Image.build("models/fraud", **fields)
    return content_tag(context, render_dockerfile(image), render_dockerignore(image), image.platforms)


@pytest.fixture()
def context(tmp_path: Path) -> Path:
    root = tmp_path / "fraud"
    (root / "src").mkdir(parents=True)
    (root / "requirements.txt").write_text("numpy==2.1.0\n")
    (root / "src" / "serve.py").write_text("print('v1')\n")
    (root / "data").mkdir()
    (root / "data" / "train.csv").write_text("a,b\n")
    return root


def test_tag_is_stable_and_hex(context: Path) -> None:
    first = tag_of(context)
    assert first == tag_of(context)
    assert len(first) == TAG_LENGTH and int(first, 16) >= 0


@pytest.mark.parametrize("change", ["code", "requirements", "new_file", "executable_bit", "rename"])
def test_tag_changes_with_what_is_built(context: Path, change: str) -> None:
    before = tag_of(context)
    if change == "code":
        (context / "src" / "serve.py").write_text("print('v2')\n")
    elif change == "requirements":
        (context / "requirements.txt").write_text("numpy==2.1.1\n")
    elif change == "new_file":
        (context / "src" / "util.py").write_text("")
    elif change == "executable_bit":
        os.chmod(context / "src" / "serve.py", 0o755)
    else:
        (context / "src" / "serve.py").rename(context / "src" / "main.py")
    assert tag_of(context) != before


@pytest.mark.parametrize("fields", [{"base_digest": "sha256:" + "c" * 64}, {"platforms": ["linux/arm64"]},
                                    {"purpose": "batch"}, {"system_packages": ["curl=7.88.1-10+deb12u5"]}])
def test_tag_changes_with_the_dockerfile_and_platforms(context: Path, fields: dict[str, object]) -> None:
    assert tag_of(context, **fields) != tag_of(context)


def test_ignored_files_do_not_change_the_tag(context: Path) -> None:
    before = tag_of(context)
    (context / "data" / "train.csv").write_text("a,b\n1,2\n")
    (context / ".git").mkdir()
    (context / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (context / "model.pt").write_bytes(b"\0" * 10)
    assert tag_of(context) == before


def test_context_files_skip_ignored_folders_and_keep_links(context: Path) -> None:
    (context / "link").symlink_to("src")
    files = [relative for relative, _ in context_files(context, IgnoreMatcher(render_dockerignore(Image.build("fraud"))))]
    assert files == ["link", "requirements.txt", "src/serve.py"]
