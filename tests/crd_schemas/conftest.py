"""Upstream validators for the carried-schema tests (skipped where ../shared is absent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from upstream_crd_schemas import upstream_validators


@pytest.fixture(scope="session")
def upstream(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return upstream_validators(shared_dir, tmp_path_factory.mktemp("upstream-crd-schemas"))

