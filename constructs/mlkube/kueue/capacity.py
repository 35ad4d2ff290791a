"""Synth steps for an environment's Kueue objects: emit them, and check every queued job can be admitted.

Kueue admits a workload when one flavor of its ClusterQueue can hold the whole workload's requests: the
flavor's nominal quota, plus what the queue may borrow from its cohort (the other members' nominal quota of
that flavor, capped by borrowingLimit). A job asking for more GPUs than that stays pending forever (Kueue
docs, concepts/cluster_queue: "Flavors and Resources", "Borrowing"; concepts/workload: the pod sets' total).
Only ClusterQueues the environment declares are checked; a queue managed elsewhere is not known here.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from ..core.kueue_platform import KueueSpec, kueue_objects
from ..core.pipeline import independent_check
from ..core.resources import GPU_RESOURCE
from ..errors import Problem
from ..kube.manifest import Manifest
from .local_queues import queue_of

if TYPE_CHECKING:
    from ..core.synth import SynthContext

__all__ = ["add_kueue_objects", "check_kueue_capacity", "gpus_requested", "PLATFORM_FOLDER"]

#: The folder (and app name) of an environment's platform-wide objects.
PLATFORM_FOLDER = "_platform"


def _pod_gpus(pod_spec: dict[str, Any]) -> int:
    total = 0
    for container in pod_spec.get("containers") or []:
        resources = container.get("resources") or {}
        value = (resources.get("requests") or {}).get(GPU_RESOURCE, (resources.get("limits") or {}).get(GPU_RESOURCE, 0))
        total += int(value or 0)
    return total


def _job_gpus(job_spec: dict[str, Any]) -> int:
    pods = job_spec.get("parallelism", 1)
    return int(pods) * _pod_gpus(((job_spec.get("template") or {}).get("spec")) or {})


def gpus_requested(obj: dict[str, Any]) -> int:
    """nvidia.com/gpu of all the pods a workload runs at once (what Kueue counts against the quota)."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Job":
        return _job_gpus(spec)
    if obj.get("kind") == "CronJob":
        return _job_gpus(((spec.get("jobTemplate") or {}).get("spec")) or {})
    if obj.get("kind") == "JobSet":
        return sum(int(rj.get("replicas", 1)) * _job_gpus(((rj.get("template") or {}).get("spec")) or {})
                   for rj in spec.get("replicatedJobs") or [])
    return 0


def _node_selector(obj: dict[str, Any]) -> dict[str, str]:
    """The nodeSelector of the workload's (first) pod template."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    if obj.get("kind") == "JobSet":
        jobs = spec.get("replicatedJobs") or [{}]
        spec = ((jobs[0].get("template") or {}).get("spec")) or {}
    return dict((((spec.get("template") or {}).get("spec")) or {}).get("nodeSelector") or {})


def add_kueue_objects(ctx: SynthContext) -> None:
    """The TRANSFORMS step: each environment's Kueue objects, in ``<out>/<environment>/_platform/``.

    They are cluster-wide and the platform team's, not an app's: no app's AppProject may own them (core/tenancy.py),
    so, like ``_argocd/``, the folder is applied by the platform team (kubectl apply, or an Application of theirs).
    """
    for environment in ctx.platform.environments:
        kueue: KueueSpec | None = environment.kueue
        if kueue is None:
            continue
        declared = environment.operator_versions
        if declared is not None and "kueue" not in declared:
            ctx.problems.append(Problem(f"{environment.name}", "kueue", f"declares Kueue objects, but environment '{environment.name}' "
                                        f"does not have Kueue (operators: {', '.join(declared) or 'none'})",
                                        "add 'kueue' to the environment's operators, or remove 'kueue'"))
            continue
        where = f"{environment.name}/kueue"  # labelled part-of "platform": a label value cannot start with "_"
        ctx.manifests += [Manifest(obj, where, environment.name, PLATFORM_FOLDER) for obj in kueue_objects(kueue, "platform")]


def _conflicts(kueue: KueueSpec, flavor: str, selector: dict[str, str]) -> bool:
    """The flavor's node labels contradict the pods' nodeSelector: Kueue skips that flavor (kubernetes-sigs/kueue
    pkg/scheduler/flavorassigner: a flavor fits only if the pods' node selector and required affinity match its labels)."""
    labels = next((item.node_labels for item in kueue.flavors if item.name == flavor), {})
    return any(key in selector and selector[key] != value for key, value in labels.items())


def _capacity(kueue: KueueSpec, queue_name: str, selector: dict[str, str]) -> dict[str, int]:
    """flavor -> the most GPUs one workload of ``queue_name`` can get in it (nominal + borrowable); 0 for a flavor
    whose node labels contradict the pods' nodeSelector."""
    queue = kueue.queue(queue_name)
    assert queue is not None
    lenders: dict[str, int] = defaultdict(int)
    if queue.cohort:
        for other in kueue.cluster_queues:
            if other.name != queue.name and other.cohort == queue.cohort:
                for item in other.flavors:
                    lenders[item.flavor] += item.gpus
    capacity = {}
    for item in queue.flavors:
        borrow = lenders[item.flavor] if item.gpu_borrowing_limit is None else min(item.gpu_borrowing_limit, lenders[item.flavor])
        capacity[item.flavor] = 0 if _conflicts(kueue, item.flavor, selector) else item.gpus + borrow
    return capacity


@independent_check
def check_kueue_capacity(ctx: SynthContext) -> None:
    """The CHECKS step: every queued job's LocalQueue leads to a declared ClusterQueue flavor that can hold its GPUs."""
    for environment in ctx.platform.environments:
        kueue: KueueSpec | None = environment.kueue
        if kueue is None:
            continue
        manifests = [m for m in ctx.manifests if m.environment == environment.name]
        local = {(m.namespace, m.name): str((m.obj.get("spec") or {}).get("clusterQueue", "")) for m in manifests if m.kind == "LocalQueue"}
        for manifest in manifests:
            queue = queue_of(manifest) if manifest.kind != "LocalQueue" else None
            gpus = gpus_requested(manifest.obj) if queue else 0
            cluster_queue = local.get((manifest.namespace, queue or ""))
            if not gpus or not cluster_queue or kueue.queue(cluster_queue) is None:
                continue
            capacity = _capacity(kueue, cluster_queue, _node_selector(manifest.obj))
            if max(capacity.values()) >= gpus:
                continue
            offered = ", ".join(f"flavor '{flavor}' {count}" for flavor, count in capacity.items())
            ctx.problems.append(Problem(
                manifest.where, "queue",
                f"{manifest.describe()} needs {gpus} {GPU_RESOURCE} at once through queue '{queue}' (LocalQueue {manifest.namespace}/{queue} "
                f"-> ClusterQueue '{cluster_queue}'), but no flavor can hold them: {offered} (nominal quota plus what the cohort "
                "can lend; 0 where the flavor's node labels contradict the pods' nodeSelector); Kueue would keep the job pending forever",
                f"raise the GPU quota of a flavor of ClusterQueue '{cluster_queue}' to at least {gpus}, or ask for fewer GPUs "
                "(nodes, parallelism or resources.gpu)"))
