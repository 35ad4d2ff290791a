"""The pods a cluster would start from an app's manifests, as plain data (no podman needed)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem
from ..kube.loader import LoadedManifest
from ..kube.manifest import pod_template
from ..policy.pods import pod_views

__all__ = ["PodToBoot", "Skipped", "pods_to_boot", "COMPLETION_INDEX"]

#: The Job controller writes the index of an Indexed Job's pod into this annotation and label (Kubernetes
#: docs, "Job > Completion mode"), and into JOB_COMPLETION_INDEX in every container.
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"

_ONE_REPLICA = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ReplicationController")


@dataclass
class PodToBoot:
    """One pod: its identity (what fieldRef reads), its spec, and whether it runs to completion."""

    workload: str  # Kind/name of the object it comes from
    name: str
    namespace: str
    spec: dict[str, Any]
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    hostname: str = ""
    completes: bool = False  # a Job's pod (or a Pod with restartPolicy Never/OnFailure): done when it exits
    extra_env: list[dict[str, Any]] = field(default_factory=list)  # what a controller injects (JOB_COMPLETION_INDEX)


@dataclass
class Skipped:
    workload: str
    reason: str


def pods_to_boot(manifests: list[LoadedManifest]) -> tuple[list[PodToBoot], list[Skipped], list[Problem]]:
    pods: list[PodToBoot] = []
    skipped: list[Skipped] = []
    problems: list[Problem] = []
    for manifest in manifests:
        obj, kind = manifest.obj, manifest.kind
        if kind in ("Pod", *_ONE_REPLICA, "Job", "CronJob"):
            template = pod_template(obj)
            if not isinstance(template, dict) or not isinstance(template.get("spec"), dict):
                problems.append(Problem(manifest.where, "spec", f"{kind} has no pod template"))
                continue
            pods += _expand(obj, kind, template)
        elif pod_views(obj):
            skipped.append(Skipped(manifest.describe(), f"{kind} pods are started by its operator, not by mlkube boot"))
    return pods, skipped, problems


def _expand(obj: dict[str, Any], kind: str, template: dict[str, Any]) -> list[PodToBoot]:
    metadata = obj.get("metadata") or {}
    name, namespace = str(metadata.get("name", "")), str(metadata.get("namespace") or "default")
    meta = metadata if kind == "Pod" else (template.get("metadata") or {})
    spec = template["spec"]
    base = PodToBoot(workload=f"{kind}/{name}", name=name, namespace=namespace, spec=copy.deepcopy(spec),
                     labels={k: str(v) for k, v in (meta.get("labels") or {}).items()},
                     annotations={k: str(v) for k, v in (meta.get("annotations") or {}).items()})
    if kind == "Pod":
        base.completes = spec.get("restartPolicy") in ("Never", "OnFailure")
        base.hostname = spec.get("hostname") or name
        return [base]
    if kind == "CronJob":  # one run of its Job, as `kubectl create job --from=cronjob/...` would start
        return _job_pods(base, f"{name}-run", (obj.get("spec") or {}).get("jobTemplate", {}).get("spec") or {})
    if kind == "Job":
        return _job_pods(base, name, obj.get("spec") or {})
    # StatefulSet pods are <name>-<ordinal>; the others get a generated suffix.
    base.name = f"{name}-0" if kind == "StatefulSet" else f"{name}-boot"
    base.hostname = spec.get("hostname") or base.name
    return [base]


def _job_pods(base: PodToBoot, job: str, job_spec: dict[str, Any]) -> list[PodToBoot]:
    """The pods a Job runs at once: min(parallelism, completions), indexes 0..n-1 for an Indexed Job."""
    parallelism = int(job_spec.get("parallelism", 1))
    completions = job_spec.get("completions")
    count = max(1, min(parallelism, int(completions)) if completions is not None else parallelism)
    indexed = job_spec.get("completionMode") == "Indexed"
    pods = []
    for index in range(count):
        pod = copy.deepcopy(base)
        pod.completes = True
        # Labels the Job controller adds (Kubernetes docs, "Jobs": job-name and controller labels).
        pod.labels.update({"batch.kubernetes.io/job-name": job, "job-name": job})
        pod.name = f"{job}-{index}"  # the controller adds a random suffix; boot runs one pod per index
        pod.hostname = pod.spec.get("hostname") or pod.name
        if indexed:
            pod.annotations[COMPLETION_INDEX] = str(index)
            pod.labels[COMPLETION_INDEX] = str(index)
            pod.hostname = f"{job}-{index}"  # Indexed Job pods are named <job>-<index> for DNS with a subdomain
            pod.extra_env = [{"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"}}}]
        pods.append(pod)
    return pods
