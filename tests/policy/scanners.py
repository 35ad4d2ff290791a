"""Running the independent scanners (checkov, hadolint) from tests, and reading their JSON."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _tool(name: str, env_var: str, candidates: list[Path]) -> Path:
    """The tool's executable; skips the test where it is not installed (fails in CI, where bin/setup installs it)."""
    for candidate in [Path(os.environ[env_var])] if os.environ.get(env_var) else []:
        if candidate.is_file():
            return candidate
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    message = f"{name} is not installed (bin/setup installs it; or set {env_var})"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def checkov() -> Path:
    # checkov pins packaging<24, which pytest 9 cannot use: bin/setup puts it in its own venv, .venv/scanners.
    return _tool("checkov", "MLKUBE_CHECKOV", [Path(sys.prefix) / "scanners" / "bin" / "checkov",
                                              REPO_ROOT / ".venv" / "scanners" / "bin" / "checkov"])


def hadolint() -> Path:
    return _tool("hadolint", "MLKUBE_HADOLINT", [Path(sys.executable).parent / "hadolint"])


def checkov_reports(output: str) -> list[dict[str, Any]]:
    """checkov's JSON as a list of per-framework reports, whatever its shape.

    One framework with results gives a dict, several give a list, and nothing to scan gives only a
    summary (no ``check_type``, no ``results``).
    """
    data = json.loads(output)
    reports = data if isinstance(data, list) else [data]
    return [report if "results" in report else {"check_type": "", "results": {}, "summary": report} for report in reports]


def checks(reports: list[dict[str, Any]], outcome: str) -> Iterator[dict[str, Any]]:
    """``failed``, ``skipped`` or ``passed`` checks of every framework, each tagged with its framework."""
    for report in reports:
        for check in report["results"].get(f"{outcome}_checks", []):
            yield {**check, "check_type": report["check_type"]}


def run_checkov(folder: Path) -> list[dict[str, Any]]:
    """checkov over a folder, kubernetes and dockerfile frameworks, fully offline."""
    completed = subprocess.run(
        [str(checkov()), "-d", str(folder), "--framework", "kubernetes", "dockerfile", "--skip-download", "-o", "json"],
        capture_output=True, text=True, timeout=600, cwd=folder,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
    )
    assert completed.returncode in (0, 1), completed.stderr[-3000:]
    reports = checkov_reports(completed.stdout)
    assert (completed.returncode == 1) == any(True for _ in checks(reports, "failed"))
    return reports


def run_hadolint(dockerfiles: list[Path]) -> list[dict[str, Any]]:
    """hadolint findings (any level) for the files: an empty list means clean."""
    completed = subprocess.run([str(hadolint()), "--no-fail", "-f", "json", *map(str, dockerfiles)],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout or "[]")
