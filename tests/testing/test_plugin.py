"""The pytest plugin in a project of its own: fixtures with no set-up, snapshots written, checked, and failing on change."""

from __future__ import annotations

import textwrap
from pathlib import Path

from helpers import run_pytest

PROJECT_TEST = textwrap.dedent('''
    from mlkube import Environment, InferenceService, Platform

    REPLICAS = 2

    def build(app):
        InferenceService(app, "scorer", image="ghcr.io/acme/fraud:1.4.2", replicas=REPLICAS)

    def test_one_app(mlkube_synth, yaml_snapshot):
        objects = mlkube_synth(build)
        objects.has_object("Deployment", {"spec": {"replicas": REPLICAS}})
        assert objects.of_kind("Deployment") == yaml_snapshot

    def test_platform(platform_snapshot):
        platform = Platform(environments=[Environment(name="dev"), Environment(name="prod")])
        platform.app("fraud", build)
        platform_snapshot(platform)
''')


def test_fixtures_need_no_set_up_and_snapshots_fail_on_a_change(tmp_path: Path):
    (tmp_path / "test_project.py").write_text(PROJECT_TEST)

    first = run_pytest(tmp_path, "--snapshot-update")
    assert first.returncode == 0, first.stdout + first.stderr
    snapshots = sorted(p.name for p in (tmp_path / "__snapshots__" / "test_project").iterdir())
    assert snapshots == ["test_one_app.yaml", "test_platform[dev-fraud].yaml", "test_platform[prod-fraud].yaml"]
    assert run_pytest(tmp_path).returncode == 0

    (tmp_path / "test_project.py").write_text(PROJECT_TEST.replace("REPLICAS = 2", "REPLICAS = 4"))
    changed = run_pytest(tmp_path)
    assert changed.returncode == 1
    assert "snapshot dev-fraud differs from the synthesized objects:" in changed.stdout
    assert "snapshot prod-fraud differs from the synthesized objects:" in changed.stdout
    assert "dev/fraud/deployment-scorer.yaml: spec.replicas: 2 -> 4" in changed.stdout
    assert "-   replicas: 2" in changed.stdout and "+   replicas: 4" in changed.stdout
    assert "pytest --snapshot-update" in changed.stdout


def test_snapshot_of_a_removed_app_is_reported_unused(tmp_path: Path):
    (tmp_path / "test_project.py").write_text(PROJECT_TEST)
    assert run_pytest(tmp_path, "--snapshot-update").returncode == 0
    (tmp_path / "test_project.py").write_text(PROJECT_TEST.replace('Environment(name="prod")', ""))
    result = run_pytest(tmp_path, "--snapshot-details")
    assert result.returncode == 1
    assert "1 snapshot unused" in result.stdout and "test_platform[prod-fraud]" in result.stdout
