"""`mlkube diff` on the command line: formats, --fail-on exit codes, --production, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from diff_trees import IMAGE_B, changed, commit_all, deployment, git, pvc, service, write_tree
from helpers import PACKAGE_ROOT

from mlkube.cli import main

PROD = ("prod", "fraud")


@pytest.fixture
def trees(tmp_path, monkeypatch):
    """base/ and head/ in the current folder: prod loses its PVC (high) and bumps an image (no risk)."""
    monkeypatch.chdir(tmp_path)
    write_tree(tmp_path / "base", {PROD: [deployment(), service(), pvc()], ("staging", "fraud"): [deployment()]})
    bumped = changed(deployment(), "spec.template.spec.containers.0.image", IMAGE_B)
    write_tree(tmp_path / "head", {PROD: [bumped, service()], ("staging", "fraud"): [deployment(replicas=0)]})
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(main, ["diff", *args])


def test_markdown_by_default(trees):
    result = run("base", "head")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("## mlkube diff\n\n`base` → `head`\n\n**0 added, 1 removed, 2 changed** objects")
    assert "```mermaid\nflowchart LR\n" in result.stdout


def test_json_format(trees):
    result = run("base", "head", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["summary"] == {
        "added": 0, "removed": 1, "changed": 2, "risks": {"high": 1, "medium": 0, "low": 0, "info": 1}, "highestRisk": "high"}


@pytest.mark.parametrize("level", ["high", "medium", "info"])
def test_fail_on_exits_1_at_or_above_the_level(trees, level):
    result = run("base", "head", "--fail-on", level)
    assert result.exit_code == 1
    assert result.stderr == f"mlkube diff: highest risk is high, at or above --fail-on {level}\n"
    assert result.stdout.startswith("## mlkube diff")  # the report is still printed for the PR comment


def test_fail_on_exits_0_below_the_level(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_tree(tmp_path / "base", {("dev", "fraud"): [deployment(replicas=2)]})
    write_tree(tmp_path / "head", {("dev", "fraud"): [deployment(replicas=0)]})
    assert run("base", "head", "--fail-on", "low").exit_code == 0
    assert run("base", "head", "--fail-on", "info").exit_code == 1


def test_production_option_replaces_the_default_names(trees):
    data = json.loads(run("base", "head", "--format", "json", "--production", "staging").stdout)
    assert [(c["environment"], c["production"], [r["level"] for r in c["risks"]]) for c in data["changes"]] == [
        ("prod", False, ["high"]), ("prod", False, []), ("staging", True, ["high"])]


def test_git_revisions(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write_tree(repo / "dist", {PROD: [deployment(replicas=2)]})
    commit_all(repo, "base")
    write_tree(repo / "dist", {PROD: [deployment(replicas=0)]})
    commit_all(repo, "head")
    result = run("main~1:dist", "main:dist", "--repo", str(repo), "--format", "json", "--fail-on", "high")
    assert result.exit_code == 1
    assert [r["reason"] for c in json.loads(result.stdout)["changes"] for r in c["risks"]] == [
        "spec.replicas goes from 2 to 0 in production environment 'prod': nothing will run"]


def test_notes_go_to_stderr(trees):
    (trees / "head" / "prod" / "fraud" / "values.yaml").write_text("replicas: 3\n")
    result = run("base", "head")
    assert result.exit_code == 0
    assert result.stderr == ("note: head: prod/fraud/values.yaml:1 is not a Kubernetes object "
                             "(no apiVersion, kind or metadata.name); ignored\n")


def test_no_change(trees):
    result = run("base", "base")
    assert result.exit_code == 0
    assert result.stdout == ("## mlkube diff\n\n`base` → `base`\n\n**0 added, 0 removed, 0 changed** objects · "
                             "risks: 0 high, 0 medium, 0 low, 0 info · no risk found\n\nNo object changed.\n")


def test_fails_when_base_is_neither_folder_nor_revision(trees):
    result = run("missing", "head")
    assert result.exit_code == 2
    assert "BASE 'missing' is not a folder" in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output


def test_fails_when_fail_on_level_is_unknown(trees):
    result = run("base", "head", "--fail-on", "critical")
    assert result.exit_code == 2
    assert "'critical' is not one of 'info', 'low', 'medium', 'high'" in result.stderr


def test_diff_imports_neither_node_nor_the_other_commands(tmp_path):
    """What keeps `mlkube diff` quick in CI: no cdk8s/jsii (Node) and no other command's module."""
    script = ("import sys\nfrom mlkube.cli import main\n"
              "try:\n    main(['diff', 'base', 'base'])\nexcept SystemExit:\n    pass\n"
              "print(sorted(m for m in sys.modules if m.startswith(('mlkube.cli.', 'cdk8s', 'jsii', 'constructs'))))")
    write_tree(tmp_path / "base", {PROD: [deployment()]})
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "['mlkube.cli.diff']"
