"""The config repo's workflows: schema-valid, YAML 1.2, and the committed copies are fresh."""

from __future__ import annotations

import subprocess
import sys

from helpers import REPO_ROOT, run_mlkube
from ruamel.yaml import YAML

from mlkube.core.gitops_settings import GitOps
from mlkube.gitops.workflows import render_workflows

FILES = ["config-repo-pr.yml", "config-repo-promote.yml", "config-repo-release.yml"]


def _load(data: bytes):
    return YAML(typ="safe", pure=True).load(data)  # YAML 1.2: 'on' is a string key, not True


def test_every_generated_workflow_passes_the_github_workflow_schema(tmp_path):
    for name, data in render_workflows(GitOps(repo_url="https://example.com/x.git")).items():
        (tmp_path / name).write_bytes(data)
    result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                             *sorted(str(p) for p in tmp_path.iterdir())], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_fails_when_a_workflow_is_broken_the_schema_notices(tmp_path):
    data = render_workflows(GitOps())["config-repo-pr.yml"].replace(b"runs-on:", b"run-on:")
    (tmp_path / "broken.yml").write_bytes(data)
    result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(tmp_path / "broken.yml")],
                            capture_output=True, text=True)
    assert result.returncode == 1


def test_workflows_read_back_with_a_yaml_1_2_loader():
    flows = {name: _load(data) for name, data in render_workflows(GitOps()).items()}
    assert sorted(flows) == FILES
    assert set(flows["config-repo-pr.yml"]["on"]) == {"pull_request"}
    release = flows["config-repo-release.yml"]
    assert release["jobs"]["build"]["strategy"]["matrix"]["image"] == "${{ fromJSON(needs.plan.outputs.images) }}"
    steps = release["jobs"]["build"]["steps"]
    assert any(s.get("uses", "").startswith("aquasecurity/trivy-action@") for s in steps)
    # No build cache in a release: a cache another run wrote could change the pushed bytes.
    assert not any("cache-to" in s.get("with", {}) for s in steps)
    pin_steps = str(release["jobs"]["pin"]["steps"])
    assert "mlkube pin --dist dist \"$@\"" in pin_steps and "mlkube pin --dist dist --resolve" in pin_steps
    promote = flows["config-repo-promote.yml"]
    assert set(promote["on"]) == {"workflow_dispatch"}
    assert promote["jobs"]["promote"]["environment"] == "production"
    assert 'mlkube promote "$SOURCE" "$TARGET" --dist dist' in str(promote["jobs"]["promote"]["steps"])
    pr_steps = str(flows["config-repo-pr.yml"]["jobs"]["synth"]["steps"])
    assert "mlkube diff" in pr_steps and "marocchino/sticky-pull-request-comment@" in pr_steps


def test_committed_workflows_match_the_example_platform():
    """.github/workflows/config-repo-*.yml and dist/.github/workflows/ are what the example platform generates."""
    result = run_mlkube("workflows", "--check", cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    for name in FILES:
        assert (REPO_ROOT / ".github/workflows" / name).read_bytes() == (REPO_ROOT / "dist/.github/workflows" / name).read_bytes()


def test_workflows_command_writes_the_files(tmp_path):
    result = run_mlkube("workflows", "--app", str(REPO_ROOT / "apps/main.py"), "--out", str(tmp_path / "wf"), cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "wf").iterdir()) == FILES
