"""Packaging a library can live with: dependency ranges in pyproject.toml, exact pins in constraints.txt,
PEP 639 license metadata (issue 18, item 5)."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from helpers import REPO_ROOT
from packaging.licenses import canonicalize_license_expression
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
RUNTIME = [Requirement(text) for text in PROJECT["dependencies"]]
EXTRAS = {name: [Requirement(text) for text in items] for name, items in PROJECT["optional-dependencies"].items()}


def _constraints(path: Path = REPO_ROOT / "constraints.txt") -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            (specifier,) = requirement.specifier
            assert specifier.operator == "==", f"constraints.txt pins exactly: {line}"
            pins[_name(requirement.name)] = Version(specifier.version)
    return pins


def _name(name: str) -> str:
    """PEP 503 normalized name."""
    return name.lower().replace("_", "-").replace(".", "-")


PINS = _constraints()


def _next_compatible(version: Version) -> Version:
    """The next release a compatible range must admit: the next minor (the next patch of a 0.x package)."""
    major, minor, micro = (*version.release, 0, 0)[:3]
    return Version(f"0.{minor}.{micro + 1}") if major == 0 else Version(f"{major}.{minor + 1}.0")


@pytest.mark.parametrize("requirement", RUNTIME, ids=str)
def test_runtime_dependency_is_a_range_not_a_pin(requirement: Requirement) -> None:
    operators = {specifier.operator for specifier in requirement.specifier}
    assert not operators & {"==", "==="}, f"{requirement}: an exact pin blocks installing mlkube beside other users of {requirement.name}"
    assert ">=" in operators and "<" in operators, f"{requirement}: state the floor mlkube needs and the next breaking release as ceiling"


@pytest.mark.parametrize("requirement", [r for items in (RUNTIME, *EXTRAS.values()) for r in items], ids=str)
def test_constraints_pin_each_requirement_inside_its_range(requirement: Requirement) -> None:
    pin = PINS.get(_name(requirement.name))
    assert pin is not None, f"constraints.txt has no pin for {requirement.name}: CI would float"
    assert requirement.specifier.contains(pin, prereleases=True), f"constraints.txt pins {requirement.name}=={pin}, outside {requirement}"
    following = _next_compatible(pin)
    assert requirement.specifier.contains(following), f"{requirement} refuses {following}, a compatible release after the pin {pin}"


# Neighbours a user's environment really holds: cdk8s-plus-35's own requirements (read from its installed metadata),
# and a pydantic user that has not moved to the pydantic release CI runs yet (a ceiling below it).
def _cdk8s_plus_requirements() -> list[Requirement]:
    try:
        return [Requirement(text) for text in importlib.metadata.requires("cdk8s-plus-35") or []]
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("cdk8s-plus-35 is not installed (bin/setup installs the bench extra)")


def _shared_versions(ours: SpecifierSet, theirs: SpecifierSet, pin: Version) -> list[Version]:
    """Releases of the pin's line (the pin and the patches around it) both ranges admit."""
    major, minor, micro = (*pin.release, 0, 0)[:3]
    candidates = [Version(f"{major}.{m}.{p}") for m in range(max(minor - 3, 0), minor + 2) for p in range(max(micro, 1) + 20)]
    return [version for version in candidates if ours.contains(version) and theirs.contains(version)]


def test_installs_beside_cdk8s_plus_needing_a_newer_cdk8s() -> None:
    ours = {_name(r.name): r.specifier for r in RUNTIME}
    for requirement in _cdk8s_plus_requirements():
        name = _name(requirement.name)
        if name in ours:
            assert _shared_versions(ours[name], requirement.specifier, PINS[name]), f"mlkube's {name}{ours[name]} and cdk8s-plus-35's {requirement} share no release"
    # A cdk8s-plus release built on a later cdk8s patch than CI's pin must still install beside mlkube.
    later = SpecifierSet(f">={_next_compatible(PINS['cdk8s'])},<3")
    assert _shared_versions(ours["cdk8s"], later, PINS["cdk8s"]), f"mlkube's cdk8s{ours['cdk8s']} forbids every cdk8s a newer cdk8s-plus needs ({later})"


def test_installs_beside_a_pydantic_user_behind_ci() -> None:
    ours = next(r.specifier for r in RUNTIME if _name(r.name) == "pydantic")
    pin = PINS["pydantic"]
    behind = SpecifierSet(f">=2.11,<{pin.major}.{pin.minor}")  # e.g. a library that caps pydantic below CI's release
    assert _shared_versions(ours, behind, pin), f"mlkube's pydantic{ours} and a pydantic user's {behind} share no release"


def test_pip_resolves_mlkube_beside_cdk8s_plus_offline() -> None:
    """pip's own resolver, against what bin/setup installed (no index): mlkube's ranges, cdk8s-plus-35 and the pins agree."""
    _cdk8s_plus_requirements()
    requirements = [str(r) for r in RUNTIME] + ["cdk8s-plus-35", "pydantic>=2.11,<3"]
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--quiet", "--report", "-",
                             "--disable-pip-version-check", "-c", str(REPO_ROOT / "constraints.txt"), *requirements],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["install"] == [], "everything is already installed at the pinned versions"


def test_installed_versions_are_the_pins() -> None:
    """bin/setup installs .venv with -c constraints.txt: what the tests run is exactly what CI pins."""
    names = [_name(r.name) for items in (RUNTIME, EXTRAS["dev"], EXTRAS["bench"]) for r in items] + ["jsii"]
    unpinned = sorted(name for name in names if name not in PINS)
    assert unpinned == [], "pin these in constraints.txt (pyproject.toml keeps a range)"
    installed = {name: Version(importlib.metadata.version(name)) for name in names}
    assert {name: str(version) for name, version in installed.items() if PINS[name] != version} == {}, "run bin/setup"


def test_license_is_an_spdx_expression_with_its_file() -> None:
    assert isinstance(PROJECT["license"], str), "PEP 639: license is an SPDX expression, not the deprecated table"
    assert canonicalize_license_expression(PROJECT["license"]) == PROJECT["license"] == "Apache-2.0"
    assert all((REPO_ROOT / name).is_file() for name in PROJECT["license-files"])
    assert "Apache License" in (REPO_ROOT / "LICENSE").read_text()[:200]
    assert not [c for c in PROJECT["classifiers"] if c.startswith("License ::")], "PEP 639: no license classifiers beside an expression"
    requires = [Requirement(text) for text in PYPROJECT["build-system"]["requires"]]
    setuptools = next(r for r in requires if r.name == "setuptools")
    assert not setuptools.specifier.contains("76.1.0") and setuptools.specifier.contains("77.0.3"), "setuptools writes PEP 639 metadata from 77"


def test_installed_metadata_carries_the_license_expression() -> None:
    """The metadata setuptools wrote for the editable install (bin/setup): Metadata 2.4 with License-Expression."""
    metadata = importlib.metadata.metadata("mlkube")
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert "Typing :: Typed" in metadata.get_all("Classifier")
    assert any(url.startswith("Homepage, ") for url in metadata.get_all("Project-URL"))
