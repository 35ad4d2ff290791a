"""Fixtures for the diff tests: write a BASE and a HEAD tree under tmp_path and compare them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from diff_trees import write_app

from mlkube.diff import DEFAULT_PRODUCTION, DiffReport, diff_specs

Apps = dict[tuple[str, str], list[dict[str, Any]]]


def write_tree(root: Path, apps: Apps) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for (environment, app), objects in apps.items():
        write_app(root, environment, app, *objects)


@pytest.fixture
def run_diff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., DiffReport]:
    """``run_diff(base_apps, head_apps)``: write both trees as ``base/`` and ``head/`` and diff them."""
    monkeypatch.chdir(tmp_path)

    def run(base: Apps, head: Apps, production: Iterable[str] = DEFAULT_PRODUCTION) -> DiffReport:
        write_tree(tmp_path / "base", base)
        write_tree(tmp_path / "head", head)
        return diff_specs("base", "head", production=production)

    return run


def risk_summary(report: DiffReport) -> list[tuple[str, str, str, str]]:
    """(status, object, level, category) of every risk, in report order."""
    return [(change.status, change.describe(), risk.level.label, risk.category)
            for change in report.changes for risk in change.risks]
