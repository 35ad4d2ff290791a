"""Helpers shared by the tests (import as `from helpers import ...`; conftest.py holds the fixtures)."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_ROOT = REPO_ROOT / "constructs"


def _shared_dir() -> Path | None:
    """../shared beside the checkout (CI and developers), or MLKUBE_SHARED."""
    for candidate in (os.environ.get("MLKUBE_SHARED"), REPO_ROOT.parent / "shared"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


SHARED_DIR = _shared_dir()


def run_mlkube(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `mlkube` command (this checkout's package) and capture its output."""
    environment = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", **(env or {})}
    return subprocess.run([sys.executable, "-m", "mlkube", *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=600)


def upstream_errors(upstream: dict[str, Any], obj: dict[str, Any]) -> list[str]:
    """Messages of ``obj``'s violations of its upstream schema (an empty list when it is valid)."""
    group, _, version = obj["apiVersion"].rpartition("/")
    validator = upstream[f"{group}/{obj['kind'].lower()}_{version}"]
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]


def _plugin_installed() -> bool:
    return any(entry.value == "mlkube.testing.plugin" for entry in importlib.metadata.entry_points(group="pytest11"))


def run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run pytest in ``folder`` as a project depending on mlkube would, with this checkout's package and plugin."""
    plugin = [] if _plugin_installed() else ["-p", "mlkube.testing.plugin"]
    environment = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
                   "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "pytest", *plugin, "-p", "no:cacheprovider", *args], cwd=folder,
                          env=environment, capture_output=True, text=True, timeout=600)


def yaml_documents(paths: list[Path]) -> list[dict[str, Any]]:
    """Every non-empty mapping document of the YAML files (PyYAML's safe loader)."""
    import yaml

    found = []
    for path in paths:
        for document in yaml.safe_load_all(path.read_text()):
            if isinstance(document, dict) and document:
                found.append(document)
    return found
