"""Kueue for the platform team: ResourceFlavor, ClusterQueue with GPU quotas, WorkloadPriorityClass, emitted per
environment and checked against the upstream CRDs; every queued job must fit a flavor of its ClusterQueue."""

from __future__ import annotations

import pytest
from helpers import upstream_errors

from mlkube import BatchJob, Environment, GpuTrainingJob, MlkubeError
from mlkube.testing import YamlSnapshotExtension, synth_app

IMAGE = "ghcr.io/acme/train:1.0"
KUEUE = {
    "flavors": [{"name": "a100", "node_labels": {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"},
                 "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]},
                {"name": "cpu-only"}],
    "cluster_queues": [
        {"name": "ml-gpu", "cohort": "ml", "namespace_labels": {"mlkube.dev/tenant": "true"},
         "flavors": [{"flavor": "a100", "cpu": 96, "memory": "768Gi", "gpus": 8, "gpu_borrowing_limit": 8},
                     {"flavor": "cpu-only", "cpu": 32, "memory": "128Gi"}],
         "preemption": {"within_cluster_queue": "LowerOrNewerEqualPriority", "reclaim_within_cohort": "LowerPriority"},
         "queueing_strategy": "StrictFIFO"},
        {"name": "research", "cohort": "ml", "flavors": [{"flavor": "a100", "cpu": 96, "memory": "768Gi", "gpus": 16}]},
    ],
    "priority_classes": [{"name": "production-training", "value": 1000, "description": "Scheduled production retraining"}],
}


def environments(**kueue_changes):
    return [Environment(name="test", namespace="ml", kueue={**KUEUE, **kueue_changes}, kueue_cluster_queue="ml-gpu")]


@pytest.fixture
def yaml_snapshot(snapshot):
    return snapshot.use_extension(YamlSnapshotExtension)


def training(nodes: int):
    return lambda app: GpuTrainingJob(app, "train", image=IMAGE, nodes=nodes, resources={"gpu": {"count": 8}}, queue="gpu",
                                      workload_priority_class="production-training")


def test_kueue_objects_match_the_upstream_crds(upstream):
    objects = synth_app(training(2), environments=environments())
    kinds = [o["kind"] for o in objects if o["apiVersion"].startswith("kueue.x-k8s.io/") and o["kind"] != "LocalQueue"]
    assert kinds == ["ResourceFlavor", "ResourceFlavor", "ClusterQueue", "ClusterQueue", "WorkloadPriorityClass"]
    for obj in objects:
        if obj["apiVersion"].startswith("kueue.x-k8s.io/"):
            assert upstream_errors(upstream, obj) == [], obj["metadata"]["name"]


def test_cluster_queue_fields():
    queue = synth_app(training(2), environments=environments()).get("ClusterQueue", "ml-gpu")
    assert queue["spec"] == {
        "cohort": "ml",
        "namespaceSelector": {"matchLabels": {"mlkube.dev/tenant": "true"}},
        "preemption": {"reclaimWithinCohort": "LowerPriority", "withinClusterQueue": "LowerOrNewerEqualPriority"},
        "queueingStrategy": "StrictFIFO",
        "resourceGroups": [{"coveredResources": ["cpu", "memory", "nvidia.com/gpu"], "flavors": [
            {"name": "a100", "resources": [{"name": "cpu", "nominalQuota": "96"}, {"name": "memory", "nominalQuota": "768Gi"},
                                           {"borrowingLimit": 8, "name": "nvidia.com/gpu", "nominalQuota": 8}]},
            {"name": "cpu-only", "resources": [{"name": "cpu", "nominalQuota": "32"}, {"name": "memory", "nominalQuota": "128Gi"},
                                               {"name": "nvidia.com/gpu", "nominalQuota": 0}]}]}]}
    assert "namespace" not in queue["metadata"]  # cluster-scoped


def test_a_queue_without_a_selector_admits_every_namespace():
    # Kueue: a nil namespaceSelector admits no namespace, {} admits all (kueue.sigs.k8s.io concepts/cluster_queue).
    objects = synth_app(training(1), environments=environments())
    assert objects.get("ClusterQueue", "research")["spec"]["namespaceSelector"] == {}


def test_kueue_snapshot(yaml_snapshot):
    objects = synth_app(training(2), environments=environments())
    assert [o for o in objects if o["apiVersion"].startswith("kueue.x-k8s.io/")] == yaml_snapshot


def test_a_job_that_fits_by_borrowing_from_the_cohort_passes():
    synth_app(training(2), environments=environments())  # 16 GPUs: 8 nominal + 8 borrowed from 'research'


def test_fails_when_a_job_needs_more_gpus_than_any_flavor_holds():
    with pytest.raises(MlkubeError) as caught:
        synth_app(training(3), environments=environments())
    message = str(caught.value)
    assert "Job/train needs 24 nvidia.com/gpu at once through queue 'gpu' (LocalQueue ml/gpu -> ClusterQueue 'ml-gpu')" in message
    assert "flavor 'a100' 16, flavor 'cpu-only' 0" in message
    assert "raise the GPU quota of a flavor of ClusterQueue 'ml-gpu' to at least 24" in message


def test_fails_when_the_borrowing_limit_stops_the_job():
    queues = [dict(KUEUE["cluster_queues"][0], flavors=[{"flavor": "a100", "cpu": 96, "memory": "768Gi", "gpus": 8, "gpu_borrowing_limit": 4}]),
              KUEUE["cluster_queues"][1]]
    with pytest.raises(MlkubeError) as caught:
        synth_app(training(2), environments=environments(cluster_queues=queues))
    assert "flavor 'a100' 12" in str(caught.value)


def test_a_cpu_job_is_not_checked_for_gpus():
    synth_app(lambda app: BatchJob(app, "etl", image=IMAGE, queue="cpu", parallelism=4, completions=4), environments=environments())


def test_fails_when_a_queue_names_an_undeclared_flavor():
    with pytest.raises(Exception) as caught:
        environments(cluster_queues=[{"name": "ml-gpu", "flavors": [{"flavor": "h100", "cpu": 1, "memory": "1Gi", "gpus": 8}]}])
    assert "cluster queue 'ml-gpu' uses flavors ['h100'] that are not declared (flavors: ['a100', 'cpu-only'])" in str(caught.value)


def test_fails_when_the_environment_queue_is_not_declared():
    with pytest.raises(Exception) as caught:
        Environment(name="test", namespace="ml", kueue=KUEUE, kueue_cluster_queue="missing")
    assert "kueue_cluster_queue 'missing' is not one of the declared cluster queues (ml-gpu, research)" in str(caught.value)


def test_fails_when_the_environment_has_no_kueue_operator():
    env = [Environment(name="test", namespace="ml", kueue=KUEUE, operators=["jobset"])]
    with pytest.raises(MlkubeError) as caught:
        synth_app(lambda app: BatchJob(app, "etl", image=IMAGE), environments=env)
    assert "declares Kueue objects, but environment 'test' does not have Kueue" in str(caught.value)


def test_kueue_objects_are_the_platform_teams_not_an_apps():
    # Cluster-wide objects are no app's: they go to <environment>/_platform/ (applied by the platform team, like _argocd/),
    # and the apps' AppProject still allows no cluster-scoped kind but Namespace (core/tenancy.py).
    from mlkube import Platform
    from mlkube.core.gitops_settings import GitOps
    from mlkube.testing import synth_platform

    platform = Platform(environments=environments(), gitops=GitOps(repo_url="https://git.example.com/ml.git"))
    platform.app("app", training(2))
    result = synth_platform(platform)
    assert {name.rpartition("/")[0] for name in result.files if "clusterqueue" in name} == {"test/_platform"}
    project = result.get("AppProject", "test")["spec"]
    assert project["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]
    assert result.get("ClusterQueue", "ml-gpu")["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "-4"
