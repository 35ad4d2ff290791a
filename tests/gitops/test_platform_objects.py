"""Namespace guard rails, sync waves, the production pin check, and Kueue against the upstream schema."""

from __future__ import annotations

import json

import jsonschema
import pytest
from gitops_support import synth

from mlkube import Environment, MlkubeError
from mlkube.core.gitops_settings import QuotaSpec


def test_namespace_enforces_the_restricted_pod_security_standard():
    namespace = synth(Environment(name="dev", namespace="ml")).get("Namespace", "ml")
    labels = namespace["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert labels[f"pod-security.kubernetes.io/{mode}-version"] == "v1.34"
    assert namespace["metadata"]["annotations"] == {"argocd.argoproj.io/sync-wave": "-3", "argocd.argoproj.io/sync-options": "Prune=false,Delete=false"}


def test_default_deny_allows_only_dns_egress():
    policy = synth(Environment(name="dev", namespace="ml")).get("NetworkPolicy", "default-deny")
    assert policy["spec"]["podSelector"] == {} and policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in policy["spec"]
    assert policy["spec"]["egress"] == [{"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                                         "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                                                 "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}]}]


def test_quota_and_limit_range_come_from_the_environment():
    objects = synth(Environment(name="dev", namespace="ml", quota=QuotaSpec(cpu="16", memory="64Gi", gpus=2, pods=40)))
    assert objects.get("ResourceQuota", "compute")["spec"]["hard"] == {
        "limits.cpu": "16", "limits.memory": "64Gi", "requests.cpu": "16", "requests.memory": "64Gi",
        "requests.nvidia.com/gpu": "2", "pods": "40"}
    limits = objects.get("LimitRange", "defaults")["spec"]["limits"][0]
    assert limits["defaultRequest"] == {"cpu": "250m", "memory": "256Mi"} and limits["type"] == "Container"


def test_sync_waves_order_namespace_quota_config_before_workloads():
    objects = synth(Environment(name="dev", namespace="ml"), config={"A": "1"})
    wave = {obj["kind"]: (obj["metadata"].get("annotations") or {}).get("argocd.argoproj.io/sync-wave") for obj in objects
            if obj["apiVersion"] != "argoproj.io/v1alpha1"}
    assert wave["Namespace"] == "-3"
    assert wave["ResourceQuota"] == wave["LimitRange"] == wave["NetworkPolicy"] == "-2"
    assert wave["ConfigMap"] == wave["ServiceAccount"] == "-1"
    assert wave["Deployment"] is None and wave["Service"] is None  # wave 0, Argo CD's default


def test_one_set_of_platform_objects_per_namespace():
    objects = synth(Environment(name="dev", namespace="shared"))
    assert [obj["metadata"]["name"] for obj in objects.of_kind("Namespace")] == ["shared"]


def test_local_queue_passes_the_upstream_kueue_schema(shared_dir):
    queue = synth(Environment(name="dev", namespace="ml", kueue_cluster_queue="team-a")).get("LocalQueue", "default")
    assert queue["spec"] == {"clusterQueue": "team-a"}
    schema = json.loads((shared_dir / "crd-schemas/kueue.x-k8s.io/localqueue_v1beta1.json").read_text())
    jsonschema.validate(queue, schema)


def test_production_accepts_images_pinned_by_digest():
    objects = synth(Environment(name="prod", namespace="ml", production=True),
                    model=None)
    assert objects.get("Deployment", "server")["spec"]["template"]["spec"]["containers"][0]["image"].count("@sha256:") == 1


def test_fails_when_production_has_unpinned_images():
    with pytest.raises(MlkubeError) as error:
        synth(Environment(name="prod", namespace="ml", production=True), image="ghcr.io/acme/server:1.0")
    assert ("prod/scoring/server: spec.template.spec.containers[0].image: Deployment/server container 'server': image 'ghcr.io/acme/server:1.0' "
            "is not pinned by digest, and environment 'prod' requires pinned images") in str(error.value)
