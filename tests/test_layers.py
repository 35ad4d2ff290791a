"""The package's layers (README, "Package layout"): import-linter's contract in pyproject.toml holds, and it would
catch the core importing a capability again (before issue 18, 47 modules were in import cycles and the core
imported every capability: `lint-imports` failed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import PACKAGE_ROOT, REPO_ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(package_root: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(package_root), "NO_COLOR": "1"}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config", str(REPO_ROOT / "pyproject.toml")], cwd=cwd,
                          env=environment, capture_output=True, text=True, timeout=300)


def test_the_layering_contract_holds():
    result = _lint_imports(PACKAGE_ROOT, REPO_ROOT)
    assert result.returncode == 0, f"lint-imports found a layering violation or an import cycle:\n{result.stdout}{result.stderr}"
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def test_the_contract_catches_the_core_importing_a_capability(tmp_path):
    copy = tmp_path / "constructs"
    shutil.copytree(PACKAGE_ROOT / "mlkube", copy / "mlkube", ignore=shutil.ignore_patterns("__pycache__", "*.json", "templates"))
    synth = copy / "mlkube" / "core" / "synth.py"
    synth.write_text(synth.read_text() + "\n\ndef _policy() -> None:\n    from ..policy import check_policy  # a capability\n")
    result = _lint_imports(copy, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout and "mlkube.core.synth -> mlkube.policy" in result.stdout
