"""Fixtures for the diff tests: write a BASE and a HEAD tree under tmp_path and compare them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from diff_trees import Apps, write_tree

from mlkube.diff import DEFAULT_PRODUCTION, DiffReport, diff_specs


@pytest.fixture
def run_diff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., DiffReport]:
    """``run_diff(base_apps, head_apps)``: write both trees as ``base/`` and ``head/`` and diff them."""
    monkeypatch.chdir(tmp_path)

    def run(base: Apps, head: Apps, production: Iterable[str] = DEFAULT_PRODUCTION) -> DiffReport:
        write_tree(tmp_path / "base", base)
        write_tree(tmp_path / "head", head)
        return diff_specs("base", "head", production=production)

    return run

