"""Fixtures shared by the whole suite (plain helpers live in helpers.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers import REPO_ROOT, SHARED_DIR


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

