"""Defects of the per-module pod tables (issue 18), judged through the one table."""

from __future__ import annotations

from mlkube.kube.manifest import Manifest
from mlkube.validation.cross_object import check_cross_object


def _jobset(gpus: str) -> dict:
    container = {"name": "main", "image": "ghcr.io/acme/train@sha256:" + "a" * 64,
                 "resources": {"requests": {"nvidia.com/gpu": gpus}, "limits": {"nvidia.com/gpu": gpus}}}
    return {"apiVersion": "jobset.x-k8s.io/v1alpha2", "kind": "JobSet", "metadata": {"name": "train", "namespace": "ml"},
            "spec": {"replicatedJobs": [{"name": "node", "replicas": 1, "template": {"spec": {"template": {"spec": {
                "containers": [container], "restartPolicy": "Never"}}}}}]}}


def test_fails_when_a_jobset_asks_for_half_a_gpu():
    """Failing before: the whole-GPU check refused "0.5" in a Job and passed it in a JobSet."""
    problems = check_cross_object([Manifest(_jobset("0.5"), "ml/train", "dev", "app")])
    assert any("must be a whole number of devices" in p.message for p in problems)
    assert not check_cross_object([Manifest(_jobset("8"), "ml/train", "dev", "app")])
