"""Shared by the safe-write tests: a copy of the example config repo tree, digests that re-pin it,
a tree's bytes, and an in-process "kill" (a BaseException no except clause of mlkube catches)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers import REPO_ROOT

__all__ = ["copy_example", "new_digests", "tree_bytes", "siblings", "Killed", "die_at_call", "die_when"]


def copy_example(folder: Path) -> Path:
    shutil.copytree(REPO_ROOT / "dist", folder)
    return folder


def new_digests(dist: Path, char: str = "e") -> dict[str, str]:
    """``repo:tag`` -> a new digest for every locked tag: pin then re-pins every image of every environment."""
    lock = json.loads((dist / "images.lock.json").read_text())
    return {f"{entry['repository']}:{entry['tag']}": "sha256:" + char * 64
            for images in lock["environments"].values() for entry in images["images"].values()}


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def siblings(out_dir: Path) -> list[str]:
    """What a write left beside the output folder (staging, ready and old trees)."""
    return sorted(name for name in os.listdir(out_dir.parent) if name.startswith(f".{out_dir.name}."))


class Killed(BaseException):
    """The process 'died' here (raised in-process, so a test can look at what was left)."""


def die_at_call(function: Callable[..., Any], call: int) -> Callable[..., Any]:
    """``function``, except that its ``call``-th call raises Killed instead of running."""
    count = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal count
        count += 1
        if count == call:
            raise Killed(f"killed at call {call} of {function.__name__}")
        return function(*args, **kwargs)

    return wrapper


def die_when(function: Callable[..., Any], condition: Callable[..., bool]) -> Callable[..., Any]:
    """``function``, except that a call its arguments make ``condition`` true raises Killed."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if condition(*args, **kwargs):
            raise Killed(f"killed in {function.__name__}{args}")
        return function(*args, **kwargs)

    return wrapper
