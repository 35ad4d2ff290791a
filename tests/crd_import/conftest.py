"""Fixtures for the CRD importer: a small CRD written for the tests, and the real JobSet CRD."""

from __future__ import annotations

from pathlib import Path

import pytest

#: A small CRD written for the tests, using every marker the importer converts.
WIDGET_CRD_FILE = Path(__file__).parent / "widget_crd.yaml"


@pytest.fixture
def widget_crd() -> Path:
    return WIDGET_CRD_FILE


@pytest.fixture(scope="session")
def jobset_crd(shared_dir: Path) -> Path:
    path = shared_dir / "crds" / "jobset.x-k8s.io_jobsets.yaml"
    if not path.is_file():
        pytest.skip(f"{path} is absent: the JobSet CRD comes from ../shared")
    return path
