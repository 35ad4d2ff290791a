"""GitOps(source='chart'): the generated CI workflows package, push and lock charts like images (zizmor judges them in
tests/gitops/test_workflow_security.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

from mlkube.core.gitops_settings import GitOps
from mlkube.gitops.workflows import render_workflows


def flows(**settings: object) -> dict[str, dict]:
    return {name: YAML(typ="safe", pure=True).load(data) for name, data in render_workflows(GitOps(**settings)).items()}


def step(job: dict, name: str) -> dict:
    return next(s for s in job["steps"] if s.get("name") == name)


def test_release_pushes_the_entry_environments_charts_after_pinning_and_synthesizes() -> None:
    """Failing before: the release workflow pinned images only, so a source='chart' platform deployed stale chart digests."""
    pin = flows(source="chart", chart_registry="ghcr.io/acme/charts")["config-repo-release.yml"]["jobs"]["pin"]
    names = [s.get("name") for s in pin["steps"]]
    assert names.index("Pin registry images by their tags' digests") < names.index("Install helm") \
        < names.index("Export, push and lock the charts") < names.index("Open a pull request with the pinned manifests")
    charts = step(pin, "Export, push and lock the charts")
    assert charts["env"]["CHART_REGISTRY"] == "ghcr.io/acme/charts"
    assert 'mlkube chart --all --entry --dist dist --out "$RUNNER_TEMP/charts" --push "$CHART_REGISTRY"' in charts["run"]
    assert charts["run"].rstrip().endswith("mlkube synth")  # the Applications take the new digests
    assert "--password-stdin" in charts["run"] and "REGISTRY_TOKEN" in charts["env"]
    assert pin["permissions"]["packages"] == "write"


def test_promotion_exports_the_targets_charts_between_promote_and_synth() -> None:
    promote = flows(source="chart")["config-repo-promote.yml"]["jobs"]["promote"]
    names = [s.get("name") for s in promote["steps"]]
    assert names.index("Promote") < names.index("Export, push and lock the charts") < names.index("Synthesize and check")
    charts = step(promote, "Export, push and lock the charts")
    assert 'mlkube chart --all --env "$TARGET" --dist dist' in charts["run"] and "mlkube synth" not in charts["run"]
    assert charts["env"]["TARGET"] == "${{ inputs.target }}"
    assert charts["env"]["CHART_REGISTRY"] == "${{ vars.MLKUBE_CHART_REGISTRY }}"  # no chart_registry: the repository variable
    assert 'mlkube check --pinned --dist dist --env "$TARGET"' in step(promote, "Synthesize and check")["run"]
    assert promote["permissions"]["packages"] == "write"


def test_manifests_source_workflows_have_no_chart_steps() -> None:
    for workflow in flows().values():
        assert "mlkube chart" not in str(workflow) and "helm" not in str(workflow)


def test_chart_workflows_pass_the_github_workflow_schema(tmp_path: Path) -> None:
    for name, data in render_workflows(GitOps(source="chart", chart_registry="ghcr.io/acme/charts")).items():
        (tmp_path / name).write_bytes(data)
    result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                             *sorted(str(p) for p in tmp_path.iterdir())], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
