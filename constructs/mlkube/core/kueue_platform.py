"""Kueue for the platform team: ResourceFlavors, ClusterQueues with GPU quotas, WorkloadPriorityClasses.

An environment's ``kueue=KueueSpec(...)`` declares them; synth emits them into ``<out>/<environment>/_platform/`` (kueue.x-k8s.io/v1beta1, served by every
Kueue release mlkube supports: kubernetes-sigs/kueue config/components/crd/bases at each tag) and checks that every queued job can be admitted
(``kueue_check.py``). Field meanings follow the Kueue API reference (kueue.sigs.k8s.io/docs/reference/kueue.v1beta1/)
and the concepts pages for ClusterQueue, ResourceFlavor and WorkloadPriorityClass.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, NonNegativeInt, model_validator

from ..kube.labels import standard_labels
from ..kube.quantity import Quantity
from .placement import Toleration
from .resources import GPU_RESOURCE
from .spec import DnsLabel, Spec

__all__ = ["KueueSpec", "ResourceFlavorSpec", "ClusterQueueSpec", "FlavorQuota", "PreemptionSpec", "WorkloadPriorityClassSpec",
           "KUEUE_API", "kueue_objects"]

KUEUE_API = "kueue.x-k8s.io/v1beta1"


class ResourceFlavorSpec(Spec):
    """A kind of node (ResourceFlavor): admitted pods get its node labels as a nodeSelector and its tolerations."""

    name: DnsLabel = Field(description="Name, e.g. 'a100-on-demand'.")
    node_labels: dict[str, str] = Field(default_factory=dict, description="Node labels of this flavor's nodes, e.g. "
                                        "{'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB'}. Default: none (any node).")
    tolerations: list[Toleration] = Field(default_factory=list, description="Tolerations added to admitted pods (for the taints "
                                          "of this flavor's nodes). Default: none.")


class FlavorQuota(Spec):
    """What one flavor gives a ClusterQueue: nominal quotas of cpu, memory and GPUs, and how much it may borrow."""

    flavor: DnsLabel = Field(description="Name of a ResourceFlavor declared in the same KueueSpec.")
    cpu: Quantity = Field(description="Nominal CPU quota, e.g. 96.")
    memory: Quantity = Field(description="Nominal memory quota, e.g. '768Gi'.")
    gpus: NonNegativeInt = Field(default=0, description="Nominal quota of nvidia.com/gpu. Default: 0.")
    gpu_borrowing_limit: NonNegativeInt | None = Field(default=None, description="GPUs this queue may borrow from its cohort beyond its "
                                                       "quota. Default: no limit (what the cohort has unused).")


class PreemptionSpec(Spec):
    """Which admitted workloads Kueue may evict to admit a pending one (ClusterQueue spec.preemption)."""

    within_cluster_queue: Literal["Never", "LowerPriority", "LowerOrNewerEqualPriority"] = Field(
        default="LowerPriority", description="Preempt workloads of the same queue of lower priority. Default: LowerPriority.")
    reclaim_within_cohort: Literal["Never", "LowerPriority", "Any"] = Field(
        default="Any", description="Reclaim this queue's lent quota from other queues of the cohort. Default: Any.")


class ClusterQueueSpec(Spec):
    """A pool of quota (ClusterQueue) that LocalQueues of the selected namespaces draw from."""

    name: DnsLabel = Field(description="Name, e.g. 'ml-gpu'; LocalQueues point at it (Environment.kueue_cluster_queue).")
    namespace_labels: dict[str, str] | None = Field(default=None, description="Only namespaces with these labels may use the queue "
                                                    "(namespaceSelector.matchLabels). Default: every namespace (selector {}; "
                                                    "Kueue's own default, no selector, admits none).")
    cohort: DnsLabel | None = Field(default=None, description="Cohort whose queues lend each other unused quota. Default: none.")
    flavors: list[FlavorQuota] = Field(min_length=1, description="Flavors in the order Kueue tries them, each with its quotas.")
    preemption: PreemptionSpec = Field(default_factory=PreemptionSpec, description="Preemption policy. Default: lower priority "
                                       "within the queue, any to reclaim lent quota.")
    queueing_strategy: Literal["BestEffortFIFO", "StrictFIFO"] = Field(default="BestEffortFIFO", description="'BestEffortFIFO' lets "
                                                                       "smaller workloads pass one that does not fit. Default: BestEffortFIFO.")

    @model_validator(mode="after")
    def _flavors_once(self) -> ClusterQueueSpec:
        names = [item.flavor for item in self.flavors]
        if len(set(names)) != len(names):
            raise ValueError(f"a flavor appears twice in the queue's flavors: {names}")
        return self

    @property
    def covers_gpus(self) -> bool:
        return any(item.gpus for item in self.flavors)


class WorkloadPriorityClassSpec(Spec):
    """A Kueue priority for queueing and preemption (jobs name it with workload_priority_class)."""

    name: DnsLabel = Field(description="Name, e.g. 'production-training'.")
    value: int = Field(description="Priority; higher is admitted first and may preempt lower.")
    description: str = Field(default="", description="What the class is for. Default: empty.")


class KueueSpec(Spec):
    """The Kueue objects of one environment (cluster-scoped; one set per cluster)."""

    flavors: list[ResourceFlavorSpec] = Field(default_factory=list, description="ResourceFlavors. Default: none.")
    cluster_queues: list[ClusterQueueSpec] = Field(default_factory=list, description="ClusterQueues. Default: none.")
    priority_classes: list[WorkloadPriorityClassSpec] = Field(default_factory=list, description="WorkloadPriorityClasses. Default: none.")

    @model_validator(mode="after")
    def _references(self) -> KueueSpec:
        declared = {item.name for item in self.flavors}
        problems = []
        for queue in self.cluster_queues:
            missing = [item.flavor for item in queue.flavors if item.flavor not in declared]
            if missing:
                problems.append(f"cluster queue '{queue.name}' uses flavors {missing} that are not declared "
                                f"(flavors: {sorted(declared) or 'none'}); add them to 'flavors'")
        for field, names in (("flavors", [f.name for f in self.flavors]), ("cluster_queues", [q.name for q in self.cluster_queues]),
                             ("priority_classes", [p.name for p in self.priority_classes])):
            if len(set(names)) != len(names):
                problems.append(f"{field}: names repeat ({names})")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def queue(self, name: str) -> ClusterQueueSpec | None:
        return next((queue for queue in self.cluster_queues if queue.name == name), None)


def _metadata(name: str, app: str) -> dict[str, Any]:
    return {"labels": standard_labels(name, "platform", app), "name": name}


def _flavor(spec: ResourceFlavorSpec, app: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if spec.node_labels:
        body["nodeLabels"] = dict(sorted(spec.node_labels.items()))
    if spec.tolerations:
        body["tolerations"] = [item.to_kube() for item in spec.tolerations]
    return {"apiVersion": KUEUE_API, "kind": "ResourceFlavor", "metadata": _metadata(spec.name, app), "spec": body}


def _cluster_queue(spec: ClusterQueueSpec, app: str) -> dict[str, Any]:
    # Every flavor of a resource group lists the group's covered resources, in the same order (Kueue validation).
    covered = ["cpu", "memory", *([GPU_RESOURCE] if spec.covers_gpus else [])]
    flavors = []
    for item in spec.flavors:
        resources: list[dict[str, Any]] = [{"name": "cpu", "nominalQuota": item.cpu}, {"name": "memory", "nominalQuota": item.memory}]
        if spec.covers_gpus:
            gpu: dict[str, Any] = {"name": GPU_RESOURCE, "nominalQuota": item.gpus}
            if item.gpu_borrowing_limit is not None:
                gpu["borrowingLimit"] = item.gpu_borrowing_limit
            resources.append(gpu)
        flavors.append({"name": item.flavor, "resources": resources})
    body: dict[str, Any] = {
        "namespaceSelector": {"matchLabels": dict(spec.namespace_labels)} if spec.namespace_labels else {},
        "preemption": {"reclaimWithinCohort": spec.preemption.reclaim_within_cohort,
                       "withinClusterQueue": spec.preemption.within_cluster_queue},
        "queueingStrategy": spec.queueing_strategy,
        "resourceGroups": [{"coveredResources": covered, "flavors": flavors}],
    }
    if spec.cohort:
        body["cohort"] = spec.cohort
    return {"apiVersion": KUEUE_API, "kind": "ClusterQueue", "metadata": _metadata(spec.name, app), "spec": dict(sorted(body.items()))}


def _priority_class(spec: WorkloadPriorityClassSpec, app: str) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": KUEUE_API, "kind": "WorkloadPriorityClass", "metadata": _metadata(spec.name, app), "value": spec.value}
    if spec.description:
        obj["description"] = spec.description
    return obj


def kueue_objects(spec: KueueSpec, app: str) -> list[dict[str, Any]]:
    """Flavors first (queues refer to them), then queues, then priority classes."""
    return [*(_flavor(item, app) for item in spec.flavors), *(_cluster_queue(item, app) for item in spec.cluster_queues),
            *(_priority_class(item, app) for item in spec.priority_classes)]
