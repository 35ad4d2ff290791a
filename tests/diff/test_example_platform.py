"""The committed example platform (dist/) as BASE, and a realistic change of it as HEAD (see
example_change.py): an image bump in dev, a GPU product change in prod, a removed checkpoint
volume in staging. As folders and as two git revisions; and a pure move/reorder of the real tree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from diff_trees import MarkdownSnapshot, commit_all, git
from example_change import NEW_GPU, NEW_SCORER_DIGEST, OLD_SCORER_DIGEST, apply_example_change, copy_dist
from helpers import REPO_ROOT, run_mlkube

from mlkube.diff import diff_specs, render_json, render_markdown
from mlkube.kube.render import to_yaml

KEPT_CLAIM = ("the claim leaves the config repo, but its argocd.argoproj.io/sync-options Prune=false keeps Argo CD "
              "from deleting it: volume and data stay, unmanaged, and the app shows OutOfSync until the claim is deleted by hand")
#: (environment, app, status, kind, name, fields, risks) of every change, in report order.
EXPECTED = [
    ("dev", "fraud-scoring", "changed", "Deployment", "fraud-scorer",
     [{"field": "server: image", "old": f"ghcr.io/acme/fraud-scorer@{OLD_SCORER_DIGEST[:19]} (source example)",
       "new": f"ghcr.io/acme/fraud-scorer@{NEW_SCORER_DIGEST[:19]} (source example)"}], []),
    ("prod", "llm-chat", "changed", "Deployment", "llm-server",
     [{"field": "GPU product", "old": "NVIDIA-H100-80GB-HBM3", "new": NEW_GPU}], []),
    ("staging", "llm-chat", "removed", "PersistentVolumeClaim", "llm-checkpoints", [],
     [{"level": "low", "category": "data loss", "reason": KEPT_CLAIM}]),
    ("staging", "llm-chat", "removed", "VolumeSnapshot", "llm-checkpoints-finetune-v1", [], []),
]


@pytest.fixture
def example(tmp_path, monkeypatch) -> Path:
    """base/ = the committed dist, head/ = the changed copy, in the current folder."""
    monkeypatch.chdir(tmp_path)
    copy_dist(tmp_path / "base")
    apply_example_change(copy_dist(tmp_path / "head"))
    return tmp_path


def summary(data):
    return [(c["environment"], c["app"], c["status"], c["kind"], c["name"], c["fields"], c["risks"]) for c in data["changes"]]


def test_markdown_of_the_example_change(example, snapshot):
    assert render_markdown(diff_specs("base", "head")) == snapshot.use_extension(MarkdownSnapshot)


def test_json_of_the_example_change(example):
    data = json.loads(render_json(diff_specs("base", "head")))
    assert data["summary"] == {"added": 0, "removed": 2, "changed": 2,
                               "risks": {"high": 0, "medium": 0, "low": 1, "info": 0}, "highestRisk": "low"}
    assert summary(data) == EXPECTED
    # Exactly the fields that matter changed: nothing else in the bumped or re-targeted Deployments.
    assert [(c["name"], c["otherChanges"], c["production"]) for c in data["changes"] if c["status"] == "changed"] == [
        ("fraud-scorer", [], False), ("llm-server", [], True)]
    assert data["notes"] == []


def test_image_bump_alone_reports_no_risk(example):
    (example / "head" / "prod" / "llm-chat" / "deployment-llm-server.yaml").write_bytes(
        (example / "base" / "prod" / "llm-chat" / "deployment-llm-server.yaml").read_bytes())
    for name in ("persistentvolumeclaim-llm-checkpoints.yaml", "volumesnapshot-llm-checkpoints-finetune-v1.yaml"):
        (example / "head" / "staging" / "llm-chat" / name).write_bytes((example / "base" / "staging" / "llm-chat" / name).read_bytes())
    report = diff_specs("base", "head")
    assert [(c.status, c.describe(), c.risks) for c in report.changes] == [
        ("changed", "Deployment ml-fraud-scoring/fraud-scorer", [])]


def test_fail_on_sets_the_exit_code_at_cli_level(example):
    """The real command, as CI runs it: a low risk passes --fail-on medium and fails --fail-on low."""
    passed = run_mlkube("diff", "base", "head", "--fail-on", "medium", cwd=example)
    assert (passed.returncode, passed.stderr) == (0, "")
    assert passed.stdout == render_markdown(diff_specs("base", "head"))
    failed = run_mlkube("diff", "base", "head", "--fail-on", "low", "--format", "json", cwd=example)
    assert failed.returncode == 1
    assert failed.stderr == "mlkube diff: highest risk is low, at or above --fail-on low\n"
    assert summary(json.loads(failed.stdout)) == EXPECTED


def test_git_revisions_of_the_example_change(tmp_path):
    """BASE and HEAD as two commits of a config repo: ``HEAD~1:dist HEAD:dist --repo``."""
    repo = tmp_path / "config-repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    copy_dist(repo / "dist")
    base_commit = commit_all(repo, "example platform")
    apply_example_change(repo / "dist")
    head_commit = commit_all(repo, "bump fraud-scorer, A100 for llm-server, release llm-checkpoints")
    result = run_mlkube("diff", "HEAD~1:dist", "HEAD:dist", "--repo", str(repo), "--format", "json", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    data = json.loads(result.stdout)
    assert (data["base"], data["head"]) == (f"HEAD~1:dist ({base_commit[:12]})", f"HEAD:dist ({head_commit[:12]})")
    assert summary(data) == EXPECTED


def _documents(folder: Path) -> list[dict]:
    return [yaml.safe_load(path.read_text()) for path in sorted(folder.glob("*.yaml"))]


def _reversed_keys(value):
    if isinstance(value, dict):
        return {key: _reversed_keys(value[key]) for key in reversed(list(value))}
    return [_reversed_keys(item) for item in value] if isinstance(value, list) else value


def test_moving_and_reordering_the_real_tree_is_no_change(tmp_path, monkeypatch):
    """Every app folder of the real tree rewritten as one multi-document file, objects in reverse
    order and keys in reverse order: objects match by identity, so nothing changed."""
    monkeypatch.chdir(tmp_path)
    copy_dist(tmp_path / "base")
    head = copy_dist(tmp_path / "head")
    folders = sorted({path.parent for path in head.rglob("*.yaml")})
    for folder in folders:
        documents = _documents(folder)
        for path in folder.glob("*.yaml"):
            path.unlink()
        text = "---\n".join(yaml.safe_dump(_reversed_keys(obj), sort_keys=False) for obj in reversed(documents))
        (folder / "all-objects.yml").write_text(text)
    # The whole tree moved: every folder of the committed example (apps, _argocd, prod's _platform).
    assert [folder.relative_to(head) for folder in folders] == sorted({p.parent.relative_to(REPO_ROOT / "dist")
                                                                      for p in (REPO_ROOT / "dist").rglob("*.yaml")})
    assert len(folders) >= 12
    report = diff_specs("base", "head")
    assert (report.changes, report.notes) == ([], [])
    # And back: the files as synth writes them, under other names, compare equal too.
    for folder in folders:
        for index, obj in enumerate(yaml.safe_load_all((folder / "all-objects.yml").read_text())):
            (folder / f"object-{index}.yaml").write_text(to_yaml(obj))
        (folder / "all-objects.yml").unlink()
    assert diff_specs("base", "head").changes == []


def test_removed_claim_without_prune_false_is_high(example):
    """The same removal on a claim Argo CD may prune: its volume and data are deleted on sync."""
    claim = example / "base" / "staging" / "llm-chat" / "persistentvolumeclaim-llm-checkpoints.yaml"
    obj = yaml.safe_load(claim.read_text())
    del obj["metadata"]["annotations"]["argocd.argoproj.io/sync-options"]
    claim.write_text(to_yaml(obj))
    risks = [(c.describe(), r.level.label, r.category, r.reason) for c in diff_specs("base", "head").changes for r in c.risks]
    assert risks == [("PersistentVolumeClaim ml-llm-chat/llm-checkpoints", "high", "data loss",
                      "the claim is deleted; with the usual reclaim policy (Delete) its volume and data go too")]
