"""Where pods hide inside objects: pod specs, their containers and their labels, with field paths.

Policy rules look at pods the same way whatever carries them (a Deployment, a CronJob, a JobSet,
a KServe InferenceService), so this module is the one place that knows each kind's layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["PodView", "ContainerView", "pod_views", "containers", "SERVER_KINDS", "BATCH_KINDS"]

#: Kinds whose pods run to completion: no liveness/readiness probes expected (checkov agrees).
BATCH_KINDS = frozenset({"Job", "CronJob", "JobSet"})
#: Kinds whose pods serve traffic for their whole life: probes are expected.
SERVER_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod", "InferenceService"})

# Standard workloads: (pod spec path, pod metadata path), dot-separated.
_TEMPLATE_PATHS: dict[str, tuple[str, str]] = {
    "Pod": ("spec", "metadata"),
    "Deployment": ("spec.template.spec", "spec.template.metadata"),
    "StatefulSet": ("spec.template.spec", "spec.template.metadata"),
    "DaemonSet": ("spec.template.spec", "spec.template.metadata"),
    "ReplicaSet": ("spec.template.spec", "spec.template.metadata"),
    "Job": ("spec.template.spec", "spec.template.metadata"),
    "CronJob": ("spec.jobTemplate.spec.template.spec", "spec.jobTemplate.spec.template.metadata"),
}
# KServe components are pod specs written inline, with their own labels/annotations.
_KSERVE_COMPONENTS = ("predictor", "transformer", "explainer")


@dataclass(frozen=True)
class ContainerView:
    """One container of a pod spec. ``path`` is its field path in the object."""

    path: str
    container: dict[str, Any]
    group: str

    @property
    def name(self) -> str:
        return str(self.container.get("name", ""))

    @property
    def is_sidecar(self) -> bool:
        """A native sidecar: an init container that keeps running (``restartPolicy: Always``)."""
        return self.group == "initContainers" and self.container.get("restartPolicy") == "Always"

    @property
    def long_running(self) -> bool:
        """Runs for the pod's whole life: an app container or a native sidecar."""
        return self.group == "containers" or self.is_sidecar

    @property
    def security_context(self) -> dict[str, Any]:
        return _mapping(self.container.get("securityContext"))

    def describe(self) -> str:
        kind = {"initContainers": "init container", "ephemeralContainers": "ephemeral container"}.get(self.group, "container")
        if self.is_sidecar:
            kind = "sidecar"
        return f"{kind} {self.name!r}"


@dataclass(frozen=True)
class PodView:
    """A pod spec inside an object, its field path, and the labels its pods will carry."""

    path: str
    spec: dict[str, Any]
    labels: dict[str, str]
    annotations: dict[str, str]
    annotations_path: str

    @property
    def security_context(self) -> dict[str, Any]:
        return _mapping(self.spec.get("securityContext"))

    def field(self, *parts: str) -> str:
        return ".".join((self.path, *parts))


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _at(obj: dict[str, Any], dotted: str) -> Any:
    node: Any = obj
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def pod_views(obj: dict[str, Any]) -> list[PodView]:
    """Every pod spec an object carries (none for Services, ConfigMaps, ...)."""
    kind = str(obj.get("kind", ""))
    if kind in _TEMPLATE_PATHS:
        spec_path, meta_path = _TEMPLATE_PATHS[kind]
        spec, meta = _at(obj, spec_path), _mapping(_at(obj, meta_path))
        if not isinstance(spec, dict):
            return []
        return [PodView(spec_path, spec, _strings(meta.get("labels")), _strings(meta.get("annotations")), f"{meta_path}.annotations")]
    if kind == "JobSet":
        return list(_jobset_pods(obj))
    if kind == "InferenceService":
        return list(_kserve_pods(obj))
    if kind == "LeaderWorkerSet":
        return list(_leader_worker_pods(obj))
    return []


#: LeaderWorkerSet's pod labels (kubernetes-sigs/lws api/leaderworkerset/v1/leaderworkerset_types.go): the set's
#: name on every pod, worker index 0 on each group's leader, 1 to size-1 on its workers.
_LWS_NAME_LABEL = "leaderworkerset.sigs.k8s.io/name"
_LWS_WORKER_INDEX_LABEL = "leaderworkerset.sigs.k8s.io/worker-index"


def _leader_worker_pods(obj: dict[str, Any]) -> Iterator[PodView]:
    """The leader template (or the worker template, used for leaders too when no leader template is given) and the worker template."""
    name = str(_mapping(obj.get("metadata")).get("name", ""))
    templates = _mapping(_at(obj, "spec.leaderWorkerTemplate"))
    roles = [("leaderTemplate", "0"), ("workerTemplate", "1")] if templates.get("leaderTemplate") else [("workerTemplate", "0")]
    for field, index in roles:
        base = f"spec.leaderWorkerTemplate.{field}"
        template = _mapping(templates.get(field))
        spec, meta = template.get("spec"), _mapping(template.get("metadata"))
        if isinstance(spec, dict):
            labels = {**_strings(meta.get("labels")), _LWS_NAME_LABEL: name, _LWS_WORKER_INDEX_LABEL: index}
            yield PodView(f"{base}.spec", spec, labels, _strings(meta.get("annotations")), f"{base}.metadata.annotations")


def _jobset_pods(obj: dict[str, Any]) -> Iterator[PodView]:
    name = str(_mapping(obj.get("metadata")).get("name", ""))
    for index, replicated in enumerate(_at(obj, "spec.replicatedJobs") or []):
        base = f"spec.replicatedJobs[{index}].template.spec.template"
        template = _mapping(_at(_mapping(replicated), "template.spec.template"))
        spec, meta = template.get("spec"), _mapping(template.get("metadata"))
        if isinstance(spec, dict):
            labels = {**_strings(meta.get("labels")), "jobset.sigs.k8s.io/jobset-name": name}
            yield PodView(f"{base}.spec", spec, labels, _strings(meta.get("annotations")), f"{base}.metadata.annotations")


def _kserve_pods(obj: dict[str, Any]) -> Iterator[PodView]:
    name = str(_mapping(obj.get("metadata")).get("name", ""))
    for component in _KSERVE_COMPONENTS:
        spec = _at(obj, f"spec.{component}")
        if isinstance(spec, dict):
            labels = {**_strings(spec.get("labels")), "serving.kserve.io/inferenceservice": name}
            yield PodView(f"spec.{component}", spec, labels, _strings(spec.get("annotations")), f"spec.{component}.annotations")


def containers(pod: PodView) -> Iterator[ContainerView]:
    """All containers of a pod: app containers, init containers (sidecars among them), ephemeral ones."""
    for group in ("initContainers", "containers", "ephemeralContainers"):
        items = pod.spec.get(group)
        for index, container in enumerate(items if isinstance(items, list) else []):
            if isinstance(container, dict):
                yield ContainerView(f"{pod.path}.{group}[{index}]", container, group)
