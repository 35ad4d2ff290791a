"""The committed example output: fresh, strictly valid, every pod restricted and covered by a NetworkPolicy."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml
from helpers import PACKAGE_ROOT, REPO_ROOT, run_mlkube

from mlkube.kube.manifest import pod_template

DIST = REPO_ROOT / "dist"


def manifests():
    for path in sorted(DIST.glob("*/*/*.yaml")):
        yield path, yaml.safe_load(path.read_text())


def test_dist_is_fresh(tmp_path):
    """`mlkube synth` of apps/ into a fresh folder gives exactly the committed dist/."""
    out = tmp_path / "dist"
    result = run_mlkube("synth", "--out", str(out), cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    fresh = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    committed = {str(p.relative_to(DIST)): p.read_bytes() for p in sorted(DIST.rglob("*")) if p.is_file()}
    assert sorted(fresh) == sorted(committed), "dist/ is stale: run `mlkube synth` (bin/synth) and commit dist/"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"dist/ is stale in {stale}: run bin/synth and commit dist/"


def test_every_object_in_dist_is_strictly_valid():
    # --strict: a kind without a schema fails; mlkube's carried CRD schemas are always searched.
    result = run_mlkube("validate", "--strict", str(DIST))
    assert result.returncode == 0, result.stderr


def test_every_pod_in_dist_meets_the_restricted_standard():
    pods = 0
    for path, obj in manifests():
        template = pod_template(obj)
        if template is None:
            continue
        pods += 1
        spec = template["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, path
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, path
        assert spec["automountServiceAccountToken"] is False, path
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC"), path
        assert not any("hostPath" in volume for volume in spec.get("volumes", [])), path
        for container in spec["containers"] + spec.get("initContainers", []):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, (path, container["name"])
            assert context["capabilities"] == {"drop": ["ALL"]}, (path, container["name"])
            assert context["readOnlyRootFilesystem"] is True, (path, container["name"])
            assert context["runAsUser"] >= 10000, (path, container["name"])
            assert container["resources"]["requests"] and container["resources"]["limits"], (path, container["name"])
    assert pods >= 2


def test_every_pod_in_dist_is_covered_by_a_network_policy():
    objects = [obj for _, obj in manifests()]
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    for obj in objects:
        template = pod_template(obj)
        if template is None:
            continue
        labels = template["metadata"]["labels"]
        covering = [p for p in policies if p["metadata"]["namespace"] == obj["metadata"]["namespace"]
                    and all(labels.get(k) == v for k, v in p["spec"]["podSelector"].get("matchLabels", {}).items())]
        assert covering, f"{obj['kind']}/{obj['metadata']['name']} has no NetworkPolicy"


def test_cdk8s_cli_synth_writes_dist(tmp_path):
    """The real `cdk8s synth` (the npm CLI pinned in package.json) runs the app into a copy of the repo."""
    cdk8s = REPO_ROOT / "node_modules" / ".bin" / "cdk8s"
    if not cdk8s.exists():
        pytest.skip("the cdk8s CLI is not installed (run bin/setup)")
    work = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(REPO_ROOT), str(work)], check=True)
    subprocess.run(["rm", "-rf", str(work / "dist")], check=True)
    for name in ("apps",):
        subprocess.run(["cp", "-r", str(REPO_ROOT / name), str(work)], check=True)
    (work / ".venv").symlink_to(REPO_ROOT / ".venv")
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "CDK8S_CHECK_UPGRADE": "false",
           "MLKUBE_LOCK_DIR": str(DIST)}  # the image lock is state kept in dist/; prod needs it
    result = subprocess.run([str(cdk8s), "synth", "--no-check-upgrade"], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (work / "dist/dev/fraud-scoring/deployment-fraud-scorer.yaml").read_bytes() == (DIST / "dev/fraud-scoring/deployment-fraud-scorer.yaml").read_bytes()
