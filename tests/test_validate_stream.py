"""`mlkube validate` folder by folder (issue 22): the same findings as reading the whole tree, with at most
one folder's objects (and YAML nodes) alive at a time."""

from __future__ import annotations

import shutil
import weakref
from pathlib import Path

import pytest

from helpers import REPO_ROOT, run_mlkube
from mlkube.cli.validate import validate_manifests
from mlkube.errors import MlkubeError
from mlkube.loader import LoadedManifest, load_manifests
from mlkube.validation import SchemaCatalog, ValidationSettings
from mlkube.validation.stream import validate_by_folder


def _broken_tree(tmp_path: Path) -> Path:
    """The example platform's tree with schema, selector and target faults in several folders."""
    tree = tmp_path / "dist"
    shutil.copytree(REPO_ROOT / "dist", tree)
    services = sorted(tree.rglob("service-*.yaml"))
    deployments = sorted(tree.rglob("deployment-*.yaml"))
    assert services and deployments
    services[0].write_text(services[0].read_text().replace("selector:\n", "selector:\n    nowhere: true-\n", 1))
    deployments[-1].write_text(deployments[-1].read_text().replace("\nspec:\n", "\nspec:\n  replicaz: 2\n", 1))
    (services[-1].parent / "hpa-extra.yaml").write_text(
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: extra\n  namespace: nowhere\n"
        "spec:\n  maxReplicas: 2\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: missing\n")
    return tree


def _catalog() -> SchemaCatalog:
    return SchemaCatalog(ValidationSettings("1.33", (), False))


def test_same_findings_as_the_whole_tree(tmp_path: Path) -> None:
    tree = _broken_tree(tmp_path)
    catalog = _catalog()
    whole, whole_unknown = validate_manifests(load_manifests([tree]), catalog)
    streamed, unknown, count = validate_by_folder([tree], lambda group: validate_manifests(group, catalog))
    assert sorted(set(streamed)) == sorted(set(whole)) and len(streamed) == len(whole)
    assert unknown == whole_unknown and count == len(load_manifests([tree]))
    assert {p.field for p in streamed} >= {"spec.selector", "spec.scaleTargetRef"}
    assert any("replicaz" in p.message for p in streamed)


def test_at_most_one_folder_is_alive(tmp_path: Path) -> None:
    tree = _broken_tree(tmp_path)
    catalog = _catalog()
    seen: list[weakref.ref[LoadedManifest]] = []
    most = {"alive": 0, "folder": 0}

    def check(group: list[LoadedManifest]) -> tuple[list, list[str]]:
        seen.extend(weakref.ref(manifest) for manifest in group)
        alive = sum(1 for ref in seen if ref() is not None)
        most["alive"], most["folder"] = max(most["alive"], alive), max(most["folder"], len(group))
        return validate_manifests(group, catalog)

    validate_by_folder([tree], check)
    folders = {p.parent for p in tree.rglob("*.yaml")}
    assert len(folders) > 3
    assert most["alive"] == most["folder"]


def test_every_unreadable_file_is_listed_whatever_its_folder(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "bad.yaml").write_text("key: [unclosed\n")
    (tmp_path / "a" / "ok.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
    with pytest.raises(MlkubeError) as raised:
        validate_by_folder([tmp_path], lambda group: ([], []))
    assert sorted(p.where.split(":")[0] for p in raised.value.problems) == [str(tmp_path / "a" / "bad.yaml"), str(tmp_path / "b" / "bad.yaml")]


def test_the_command_reports_streamed_findings(tmp_path: Path) -> None:
    result = run_mlkube("validate", str(_broken_tree(tmp_path)))
    assert result.returncode == 1, result.stderr
    assert "selects no pods" in result.stderr and "targets Deployment/missing" in result.stderr
    assert "replicaz" in result.stderr
