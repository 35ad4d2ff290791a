"""Fields that a controller owns once an object is applied: Argo CD must neither report them nor reset them.

One table, one row per (controller, kind), each with the source of the behaviour. The Applications get
an ``ignoreDifferences`` item per object a row applies to, and ``RespectIgnoreDifferences=true`` so
that a sync (and self-heal) leaves those fields as the controller set them: without it Argo CD still
applies the Git value of an ignored field on sync (https://argo-cd.readthedocs.io/en/stable/user-guide/sync-options/#respect-ignore-difference-configs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..kube.manifest import Manifest

__all__ = ["ControllerFields", "CONTROLLER_FIELDS", "ignore_differences"]

_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
#: What Kueue writes into a pod template when it admits a workload: podset.Merge merges the flavor's
#: nodeSelector, appends tolerations and scheduling gates (and merges labels/annotations, maps that an
#: apply never removes, so they need no entry). kubernetes-sigs/kueue pkg/podset/podset.go (Merge).
_KUEUE_POD_FIELDS = ("nodeSelector", "tolerations", "schedulingGates")


@dataclass(frozen=True)
class ControllerFields:
    controller: str
    group: str
    kind: str
    json_pointers: tuple[str, ...]
    jq_path_expressions: tuple[str, ...]
    #: (namespace, name) of the objects of ``kind`` whose fields the controller owns, given one folder's objects.
    owned: Callable[[list[Manifest]], set[tuple[str, str]]]
    source: str


def _scale_targets(scaler_kind: str, target_kind: str) -> Callable[[list[Manifest]], set[tuple[str, str]]]:
    def owned(manifests: list[Manifest]) -> set[tuple[str, str]]:
        return {(m.namespace or "", ref["name"]) for m in manifests if m.kind == scaler_kind
                for ref in [(m.obj.get("spec") or {}).get("scaleTargetRef") or {}] if ref.get("kind") == target_kind and ref.get("name")}
    return owned


def _queued(kind: str) -> Callable[[list[Manifest]], set[tuple[str, str]]]:
    def owned(manifests: list[Manifest]) -> set[tuple[str, str]]:
        return {(m.namespace or "", m.name) for m in manifests if m.kind == kind
                and _QUEUE_LABEL in ((m.obj.get("metadata") or {}).get("labels") or {})}
    return owned


CONTROLLER_FIELDS: tuple[ControllerFields, ...] = (
    ControllerFields("HorizontalPodAutoscaler", "apps", "Deployment", ("/spec/replicas",), (), _scale_targets("HorizontalPodAutoscaler", "Deployment"),
                     "the HPA writes the target's replicas through /scale; https://kubernetes.io/docs/tasks/run-application/"
                     "horizontal-pod-autoscale/#migrating-deployments-and-statefulsets-to-horizontal-autoscaling"),
    ControllerFields("HorizontalPodAutoscaler", "apps", "StatefulSet", ("/spec/replicas",), (), _scale_targets("HorizontalPodAutoscaler", "StatefulSet"),
                     "as for Deployments (same page)"),
    ControllerFields("HorizontalPodAutoscaler", "leaderworkerset.x-k8s.io", "LeaderWorkerSet", ("/spec/replicas",), (),
                     _scale_targets("HorizontalPodAutoscaler", "LeaderWorkerSet"),
                     "the HPA writes the groups' count through LWS's scale subresource; kubernetes-sigs/lws site/content/en/docs/examples/hpa.md"),
    ControllerFields("KEDA", "apps", "Deployment", ("/spec/replicas",), (), _scale_targets("ScaledObject", "Deployment"),
                     "KEDA creates an HPA (keda-hpa-<name>) for the scaleTargetRef and scales it to and from zero itself; "
                     "https://keda.sh/docs/latest/concepts/scaling-deployments/, kedacore/keda pkg/scaling/executor/scale_scaledobjects.go"),
    ControllerFields("Kueue", "batch", "Job", ("/spec/suspend", *(f"/spec/template/spec/{name}" for name in _KUEUE_POD_FIELDS)), (),
                     _queued("Job"),
                     "Kueue admits a queued Job by setting spec.suspend=false and merging the flavor into its pod template; "
                     "self-heal re-applying suspend: true suspends it and deletes its pods (kubernetes-sigs/kueue#7295, KEP-2232); "
                     "kubernetes-sigs/kueue pkg/controller/jobs/job/job_controller.go (RunWithPodSetsInfo)"),
    ControllerFields("Kueue", "jobset.x-k8s.io", "JobSet", ("/spec/suspend",),
                     tuple(f".spec.replicatedJobs[].template.spec.template.spec.{name}" for name in _KUEUE_POD_FIELDS), _queued("JobSet"),
                     "as for Jobs, per replicated job: kubernetes-sigs/kueue pkg/controller/jobs/jobset/jobset_controller.go "
                     "(RunWithPodSetsInfo). A CronJob needs no entry: Kueue admits the Jobs it creates, which are not in Git"),
)


def ignore_differences(manifests: list[Manifest]) -> list[dict[str, Any]]:
    """The ``ignoreDifferences`` items of one Application's objects (sorted, one per object)."""
    merged: dict[tuple[str, str, str, str], tuple[list[str], list[str]]] = {}
    present = {(m.kind, m.namespace or "", m.name) for m in manifests}
    for row in CONTROLLER_FIELDS:
        for namespace, name in sorted(row.owned(manifests)):
            if (row.kind, namespace, name) not in present:
                continue
            pointers, expressions = merged.setdefault((row.group, row.kind, namespace, name), ([], []))
            pointers += [p for p in row.json_pointers if p not in pointers]
            expressions += [e for e in row.jq_path_expressions if e not in expressions]
    return [_item(key, pointers, expressions) for key, (pointers, expressions) in sorted(merged.items())]


def _item(key: tuple[str, str, str, str], pointers: list[str], expressions: list[str]) -> dict[str, Any]:
    group, kind, namespace, name = key
    item: dict[str, Any] = {"group": group, "kind": kind, "name": name, "namespace": namespace}
    if pointers:
        item["jsonPointers"] = pointers
    if expressions:
        item["jqPathExpressions"] = expressions
    return item


def rows() -> Iterator[ControllerFields]:
    """The table, for documentation and tests."""
    yield from CONTROLLER_FIELDS
