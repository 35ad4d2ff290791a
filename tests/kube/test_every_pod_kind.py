"""Every pod-carrying kind of the one table (mlkube.kube.pods) goes through policy, validation, pin,
promote and diff, so a kind added to the table is covered everywhere at once (issue 18).

Before the table, promote walked its own list of kinds without JobSet: `mlkube promote staging prod`
reported success and left a JobSet's image on its old reference.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest
import yaml
from helpers import REPO_ROOT, run_mlkube

from mlkube.kube.manifest import Manifest
from mlkube.kube.pods import POD_SOURCES
from mlkube.policy.engine import check_policy
from mlkube.validation.cross_object import check_cross_object

_VERSIONS = {"": "v1", "apps": "v1", "batch": "v1", "jobset.x-k8s.io": "v1alpha2", "leaderworkerset.x-k8s.io": "v1",
             "trainer.kubeflow.org": "v1alpha1", "ray.io": "v1", "serving.kserve.io": "v1beta1"}
_V1ALPHA1 = {"ServingRuntime", "ClusterServingRuntime"}
# extensions/v1beta1 was removed in Kubernetes 1.16: nothing emits or pins it any more.
KINDS = sorted((group, kind) for group, kind in POD_SOURCES if group != "extensions")
REPOSITORY = "ghcr.io/acme/kind-probe"
OLD, NEW = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def _pod_spec(image: str, gpus: str = "1") -> dict[str, Any]:
    resources = {"requests": {"nvidia.com/gpu": gpus}, "limits": {"nvidia.com/gpu": gpus}}
    return {"containers": [{"name": "main", "image": image, "resources": resources,
                            "securityContext": {"privileged": True}}]}


def _place(node: dict[str, Any], parts: list[str], value: dict[str, Any]) -> None:
    """Put ``value`` at a dotted table path, making one item of each ``[*]`` list on the way."""
    head, rest = parts[0], parts[1:]
    if head.endswith("[*]"):
        item: dict[str, Any] = {"name": "group"}
        node[head[:-3]] = [item]
        if rest:
            _place(item, rest, value)
        else:
            item.update(value)
        return
    if not rest:
        node[head] = value
        return
    _place(node.setdefault(head, {}), rest, value)


def carrying(group: str, kind: str, image: str, gpus: str = "1") -> dict[str, Any]:
    """An object of ``kind`` whose every pod source holds one container running ``image``."""
    version = "v1alpha1" if kind in _V1ALPHA1 else _VERSIONS[group]
    obj: dict[str, Any] = {"apiVersion": f"{group}/{version}" if group else version, "kind": kind,
                           "metadata": {"name": f"probe-{kind.lower()}", "namespace": "fraud-scoring"}}
    for source in POD_SOURCES[(group, kind)]:
        pod = _pod_spec(image, gpus) if source.inline else {"metadata": {"labels": {"app": "probe"}}, "spec": _pod_spec(image, gpus)}
        if not source.path:
            obj.update(pod)
        else:
            _place(obj, source.path.split("."), pod)
    return obj


def _manifest(obj: dict[str, Any]) -> Manifest:
    return Manifest(obj, f"fraud-scoring/{obj['kind'].lower()}.yaml", "dev", "fraud-scoring")


@pytest.mark.parametrize(("group", "kind"), KINDS)
def test_policy_judges_the_pods_of_every_kind(group, kind):
    report = check_policy([_manifest(carrying(group, kind, f"{REPOSITORY}@{OLD}"))])
    privileged = [f for f in report.findings if f.field.endswith("securityContext.privileged")]
    assert len(privileged) >= len(POD_SOURCES[(group, kind)]), [f.message for f in report.findings]


@pytest.mark.parametrize(("group", "kind"), KINDS)
def test_validation_refuses_half_a_gpu_in_every_kind(group, kind):
    problems = check_cross_object([_manifest(carrying(group, kind, f"{REPOSITORY}@{OLD}", gpus="0.5"))])
    assert any("must be a whole number of devices" in p.message for p in problems), [p.message for p in problems]
    assert not [p for p in check_cross_object([_manifest(carrying(group, kind, f"{REPOSITORY}@{OLD}"))])
                if "whole number" in p.message]


def _write(folder, objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        (folder / f"probe-{obj['kind'].lower()}.yaml").write_text(yaml.safe_dump(obj, sort_keys=False))


def _images(folder) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted(folder.glob("probe-*.yaml")):
        text = path.read_text()
        found[path.name] = {line.split("image:", 1)[1].strip() for line in text.splitlines() if "image:" in line}
    return found


def _lock_entry(digest: str) -> dict[str, Any]:
    return {"repository": REPOSITORY, "tag": "1.0", "digest": digest, "source": {"contentTag": "", "revision": ""}}


def test_pin_promote_check_and_diff_follow_every_kind(tmp_path):
    dist = tmp_path / "dist"
    shutil.copytree(REPO_ROOT / "dist", dist)
    # pin: dev's objects name the image by tag, CI hands over its digest.
    _write(dist / "dev/fraud-scoring", [carrying(group, kind, f"{REPOSITORY}:1.0") for group, kind in KINDS])
    digests = tmp_path / "digests.json"
    digests.write_text(json.dumps({f"{REPOSITORY}:1.0": OLD}))
    result = run_mlkube("pin", "--dist", str(dist), "--digests", str(digests), "--revision", "r1")
    assert result.returncode == 0, result.stderr
    assert all(images == {f"{REPOSITORY}@{OLD}"} for images in _images(dist / "dev/fraud-scoring").values())
    assert len(_images(dist / "dev/fraud-scoring")) == len(KINDS)

    # promote: staging locked NEW; prod runs OLD in every kind and must get NEW in every kind.
    lock = json.loads((dist / "images.lock.json").read_text())
    lock["environments"]["staging"]["images"][REPOSITORY] = _lock_entry(NEW)
    lock["environments"]["prod"]["images"][REPOSITORY] = _lock_entry(OLD)
    (dist / "images.lock.json").write_text(json.dumps(lock, indent=2))
    _write(dist / "staging/fraud-scoring", [carrying(group, kind, f"{REPOSITORY}@{NEW}") for group, kind in KINDS])
    _write(dist / "prod/fraud-scoring", [carrying(group, kind, f"{REPOSITORY}@{OLD}") for group, kind in KINDS])
    before = tmp_path / "before"
    shutil.copytree(dist, before)
    result = run_mlkube("promote", "staging", "prod", "--dist", str(dist), "--revision", "r2")
    assert result.returncode == 0, result.stderr
    left_behind = {name: images for name, images in _images(dist / "prod/fraud-scoring").items() if images != {f"{REPOSITORY}@{NEW}"}}
    assert not left_behind
    result = run_mlkube("check", "--pinned", "--env", "prod", "--dist", str(dist))
    assert result.returncode == 0, result.stdout + result.stderr

    # diff: each kind's object in prod is a changed object whose image changed.
    result = run_mlkube("diff", str(before), str(dist), "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.dumps(json.loads(result.stdout))
    for _, kind in KINDS:
        assert f"probe-{kind.lower()}" in report, f"diff does not show {kind}"
    assert NEW.removeprefix("sha256:")[:12] in report
