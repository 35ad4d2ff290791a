"""Fixtures shared by the whole suite."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_ROOT = REPO_ROOT / "constructs"


def _shared_dir() -> Path | None:
    """../shared beside the checkout (CI and developers), or MLKUBE_SHARED."""
    for candidate in (os.environ.get("MLKUBE_SHARED"), REPO_ROOT.parent / "shared", Path("/work/shared")):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


SHARED_DIR = _shared_dir()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's ../shared folder (upstream CRD schemas); tests that need it skip without it."""
    if SHARED_DIR is None:
        pytest.skip("../shared is absent: upstream CRD schemas are not available on this checkout")
    return SHARED_DIR


def pytest_configure(config: pytest.Config) -> None:
    """Load the mlkube.testing plugin (fixtures yaml_snapshot, mlkube_synth, platform_snapshot).

    An installed mlkube brings it through the ``pytest11`` entry point; with PYTHONPATH pointing at a
    checkout (or an older install) it is registered here instead, and never twice.
    """
    manager = config.pluginmanager
    if not (manager.has_plugin("mlkube") or manager.has_plugin("mlkube.testing.plugin")):
        manager.import_plugin("mlkube.testing.plugin")


def run_mlkube(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `mlkube` command (this checkout's package) and capture its output."""
    environment = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", **(env or {})}
    return subprocess.run([sys.executable, "-m", "mlkube", *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=600)


def _plugin_installed() -> bool:
    return any(entry.value == "mlkube.testing.plugin" for entry in importlib.metadata.entry_points(group="pytest11"))


def run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run pytest in ``folder`` as a project depending on mlkube would, with this checkout's package and plugin."""
    plugin = [] if _plugin_installed() else ["-p", "mlkube.testing.plugin"]
    environment = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
                   "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "pytest", *plugin, "-p", "no:cacheprovider", *args], cwd=folder,
                          env=environment, capture_output=True, text=True, timeout=600)
