"""Reading a side: folder layout, multi-document files, the lock file, git revisions, bad input."""

from __future__ import annotations

import json

import pytest
import yaml
from diff_trees import DIGEST_A, IMAGE_B, changed, commit_all, deployment, git, pvc, service, write_app, write_lock

import mlkube.diff.sources as sources
from mlkube.diff import diff_specs, read_side
from mlkube.diff.sources import read_tree
from mlkube.errors import MlkubeError
from mlkube.kube.render import to_yaml


def test_environment_and_app_come_from_the_folders(tmp_path):
    write_app(tmp_path, "prod", "fraud", deployment(), service())
    write_app(tmp_path, "dev", "fraud", deployment())
    side = read_side(str(tmp_path), tmp_path)
    assert sorted((o.environment, o.app, o.file, o.obj["kind"]) for o in side.objects.values()) == [
        ("dev", "fraud", "dev/fraud/deployment-server.yaml", "Deployment"),
        ("prod", "fraud", "prod/fraud/deployment-server.yaml", "Deployment"),
        ("prod", "fraud", "prod/fraud/service-server.yaml", "Service"),
    ]
    assert ("prod", "apps", "Deployment", "fraud", "server") in side.objects


def test_multi_document_files_and_non_manifests(tmp_path):
    folder = tmp_path / "prod" / "fraud"
    folder.mkdir(parents=True)
    text = to_yaml(service()) + "---\n" + to_yaml(pvc()) + "---\n# empty\n---\nfoo: bar\n"
    (folder / "all.yaml").write_text(text)
    lines = text.splitlines()
    (tmp_path / "images.json").write_text("{}")
    (tmp_path / "images" / "fraud").mkdir(parents=True)
    (tmp_path / "images" / "fraud" / "pod.yaml").write_text(to_yaml(deployment("not-a-manifest")))
    (tmp_path / "top.yaml").write_text(to_yaml(deployment("top-level")))
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "ci.yaml").write_text("on: push\n")
    side = read_side(str(tmp_path), tmp_path)
    pvc_line, foo_line = lines.index("---") + 2, lines.index("foo: bar") + 1
    assert sorted((o.obj["kind"], o.line) for o in side.objects.values()) == [("PersistentVolumeClaim", pvc_line), ("Service", 1)]
    assert side.notes == [f"{tmp_path}: prod/fraud/all.yaml:{foo_line} is not a Kubernetes object "
                          "(no apiVersion, kind or metadata.name); ignored"]


def test_file_in_an_environment_folder_belongs_to_no_app(tmp_path):
    (tmp_path / "prod").mkdir()
    (tmp_path / "prod" / "namespace.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: fraud}\n")
    (located,) = read_side(str(tmp_path), tmp_path).objects.values()
    assert (located.environment, located.app) == ("prod", "")


def test_lock_file_gives_source_revisions(tmp_path):
    write_lock(tmp_path, "prod", {"fraud": (DIGEST_A, "abc123")})
    side = read_side(str(tmp_path), tmp_path)
    assert side.revisions == {"prod": {DIGEST_A: "abc123"}}
    assert side.revision_of("prod", DIGEST_A) == side.revision_of("dev", DIGEST_A) == "abc123"
    assert side.revision_of("prod", "sha256:" + "0" * 64) is None


@pytest.mark.parametrize("content", ["not json", "[]", json.dumps({"environments": {"prod": {"images": {"x": "y"}}}})])
def test_malformed_lock_file_is_a_note_not_an_error(tmp_path, content):
    (tmp_path / "images.lock.json").write_text(content)
    side = read_side(str(tmp_path), tmp_path)
    assert side.revisions == {}
    assert side.notes == [f"{tmp_path}: images.lock.json is not in the expected shape; source revisions are not shown"]


# -- git revisions -----------------------------------------------------------------------------------

@pytest.fixture
def config_repo(tmp_path):
    """A git repository whose dist/ holds the config repo: commit 1 is BASE, commit 2 is HEAD."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write_app(repo / "dist", "prod", "fraud", deployment(), service(), pvc())
    (repo / "README.md").write_text("not a manifest\n")
    base = commit_all(repo, "base")
    (repo / "dist" / "prod" / "fraud" / "persistentvolumeclaim-models.yaml").unlink()
    write_app(repo / "dist", "prod", "fraud", changed(deployment(), "spec.template.spec.containers.0.image", IMAGE_B))
    head = commit_all(repo, "head")
    return repo, base, head


def test_git_revisions_with_a_path(config_repo):
    repo, base, head = config_repo
    report = diff_specs("main~1:dist", "main:dist", repo)
    assert (report.base_label, report.head_label) == (f"main~1:dist ({base[:12]})", f"main:dist ({head[:12]})")
    assert [(change.status, change.describe(), change.base.file if change.base else None) for change in report.changes] == [
        ("removed", "PersistentVolumeClaim fraud/models", "prod/fraud/persistentvolumeclaim-models.yaml"),
        ("changed", "Deployment fraud/server", "prod/fraud/deployment-server.yaml"),
    ]


def test_git_revision_is_read_without_a_checkout(config_repo):
    repo, base, _ = config_repo
    # The work tree is dirty and on HEAD: reading BASE must not see it nor touch it.
    (repo / "dist" / "prod" / "fraud" / "service-server.yaml").write_text("garbage: [")
    side = read_side(f"{base}:dist", repo)
    assert sorted(o.obj["kind"] for o in side.objects.values()) == ["Deployment", "PersistentVolumeClaim", "Service"]
    assert (repo / "dist" / "prod" / "fraud" / "service-server.yaml").read_text() == "garbage: ["


def test_git_revision_against_a_folder(config_repo):
    repo, _, _ = config_repo
    report = diff_specs("HEAD:dist", str(repo / "dist"), repo)
    assert report.changes == []


def test_git_revision_whose_tree_is_the_config_repo(tmp_path):
    repo = tmp_path / "config"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write_app(repo, "dev", "fraud", pvc())
    commit_all(repo, "one")
    write_app(repo, "dev", "fraud", pvc(size="20Gi"))
    commit_all(repo, "two")
    report = diff_specs("HEAD~1", "HEAD", repo)
    assert [(row.field, row.old, row.new) for change in report.changes for row in change.fields] == [("storage", "10Gi", "20Gi")]


def test_unchanged_files_are_not_parsed(config_repo, monkeypatch):
    repo, _, _ = config_repo
    tree = read_tree("main:dist", repo)
    assert sorted(tree.files) == ["prod/fraud/deployment-server.yaml", "prod/fraud/service-server.yaml"]
    parsed: list[bytes] = []
    original = sources._documents
    monkeypatch.setattr(sources, "_documents", lambda data: parsed.append(data) or original(data))
    diff_specs("main~1:dist", "main:dist", repo)
    # Deployment (both sides) and PVC: the Service file is the same blob on both sides.
    assert len(parsed) == 3 and not any(b"kind: Service" in data for data in parsed)


# -- bad input ---------------------------------------------------------------------------------------

def _error(excinfo: pytest.ExceptionInfo[MlkubeError]) -> str:
    return str(excinfo.value)


def test_fails_when_revision_is_unknown(config_repo):
    repo, _, _ = config_repo
    with pytest.raises(MlkubeError) as excinfo:
        diff_specs("no-such-branch", "main:dist", repo)
    assert excinfo.value.exit_code == 2
    assert _error(excinfo).startswith(f"error: BASE 'no-such-branch' is neither a folder nor a revision of the git repository {repo}")


def test_fails_when_folder_is_missing_outside_a_git_repository(tmp_path):
    (tmp_path / "head").mkdir()
    with pytest.raises(MlkubeError) as excinfo:
        diff_specs(str(tmp_path / "missing"), str(tmp_path / "head"), tmp_path)
    assert excinfo.value.exit_code == 2
    assert f"BASE '{tmp_path / 'missing'}' is not a folder, and {tmp_path} is not a git repository" in _error(excinfo)


def test_fails_when_revision_has_no_such_path(config_repo):
    repo, _, _ = config_repo
    with pytest.raises(MlkubeError, match=r"HEAD 'main:dost': revision main has no folder 'dost'"):
        diff_specs("main:dist", "main:dost", repo)


def test_fails_when_side_is_a_file(tmp_path):
    (tmp_path / "file.yaml").write_text("{}")
    with pytest.raises(MlkubeError, match="is a file, not a folder of the config repo"):
        diff_specs(str(tmp_path / "file.yaml"), str(tmp_path), tmp_path)


def test_fails_when_yaml_is_invalid(tmp_path):
    write_app(tmp_path / "base", "dev", "fraud", service())
    (tmp_path / "head" / "dev" / "fraud").mkdir(parents=True)
    (tmp_path / "head" / "dev" / "fraud" / "service-server.yaml").write_text("kind: Service\nmetadata: [\n")
    with pytest.raises(MlkubeError) as excinfo:
        diff_specs(str(tmp_path / "base"), str(tmp_path / "head"), tmp_path)
    assert excinfo.value.exit_code == 2
    assert "dev/fraud/service-server.yaml:3:1: not valid YAML" in _error(excinfo)


def test_fails_when_an_object_is_defined_twice(tmp_path):
    write_app(tmp_path / "head", "dev", "fraud", service())
    (tmp_path / "head" / "dev" / "fraud" / "copy.yaml").write_text(to_yaml(service()))
    with pytest.raises(MlkubeError) as excinfo:
        read_side(str(tmp_path / "head"), tmp_path)
    assert "Service 'server' is also defined at dev/fraud/copy.yaml:1" in _error(excinfo)


def test_documents_read_like_pyyaml(tmp_path):
    # The fast reader must give what yaml.safe_load_all gives, including what it leaves to PyYAML.
    text = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: a, labels: &labels {app: x, "on": yes}}
data:
  <<: {merged: "1"}
  count: 3
  ratio: 0.5
  flag: true
  nothing: null
  when: 2024-01-01
  quoted: !!str 12
  list: [1, two, *labels]
  1: int key
---
second: document
"""
    assert [document for _, document in sources._documents(text.encode())] == list(yaml.safe_load_all(text))
    ((_, cyclic),) = sources._documents(b"cycle: &c [*c]\n")
    assert cyclic["cycle"][0] is cyclic["cycle"]


def test_folder_files_are_known_by_their_git_blob_id(config_repo):
    repo, _, _ = config_repo
    folder, revision = read_tree(str(repo / "dist"), repo), read_tree("HEAD:dist", repo)
    assert folder.files == revision.files
    assert folder.files["prod/fraud/service-server.yaml"] == git(repo, "rev-parse", "HEAD:dist/prod/fraud/service-server.yaml")
