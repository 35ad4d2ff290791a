"""Fixtures shared by the whole suite (plain helpers live in helpers.py)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

# Every object any test renders (in-process or through a CLI subprocess) is written by the fast emitter and by
# PyYAML, and a difference fails the test (mlkube/kube/render.py, issue 22).
os.environ["MLKUBE_VERIFY_EMITTER"] = "1"
# The synth cache (mlkube.incremental) of every test's output folder goes to one scratch folder, not ~/.cache.
_CACHE = tempfile.TemporaryDirectory(prefix="mlkube-test-cache-")
os.environ["MLKUBE_CACHE_DIR"] = _CACHE.name

from helpers import REPO_ROOT, SHARED_DIR  # noqa: E402  (after the environment the package must see)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's ../shared folder (upstream CRD schemas); tests that need it skip without it."""
    if SHARED_DIR is None:
        pytest.skip("../shared is absent: upstream CRD schemas are not available on this checkout")
    return SHARED_DIR


@pytest.fixture(scope="session")
def upstream(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``{group}/{kind}_{version}`` -> validator from the upstream schemas in ../shared (skips where absent)."""
    from upstream_crd_schemas import upstream_validators

    return upstream_validators(shared_dir, tmp_path_factory.mktemp("upstream-crd-schemas"))


def pytest_configure(config: pytest.Config) -> None:
    """Load the mlkube.testing plugin (fixtures yaml_snapshot, mlkube_synth, platform_snapshot).

    An installed mlkube brings it through the ``pytest11`` entry point; with PYTHONPATH pointing at a
    checkout (or an older install) it is registered here instead, and never twice.
    """
    manager = config.pluginmanager
    if not (manager.has_plugin("mlkube") or manager.has_plugin("mlkube.testing.plugin")):
        manager.import_plugin("mlkube.testing.plugin")


