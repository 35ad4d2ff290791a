"""Helpers for blueprint tests: write a blueprint file, parse it, collect its problems as text."""

from __future__ import annotations

import textwrap
from pathlib import Path

from mlkube.blueprint import parse_blueprints

HEADER = "apiVersion: mlkube.dev/v1alpha1\nkind: Blueprint\napp: sentiment\n"


def write(tmp_path: Path, text: str, name: str = "mlkube.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def problems_of(path: Path) -> list[str]:
    """Each problem as 'line:column field: message | hint', the file name dropped."""
    _, problems = parse_blueprints(path)
    rows = []
    for problem in problems:
        location = problem.where.split(":", 1)[1] if ":" in problem.where else ""
        rows.append(f"{location} {problem.field}: {problem.message}" + (f" | {problem.hint}" if problem.hint else ""))
    return rows
