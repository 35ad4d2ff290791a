"""Where each kind keeps its pods: the one table every walker uses (policy, cross-object checks, pins).

A pod-carrying object holds pod templates (``metadata`` + ``spec``) at fixed field paths, or, for
KServe components and serving runtimes, a pod spec written inline with its own ``labels`` and
``annotations``. ``[*]`` in a path stands for every item of a list. Paths follow each API's types:
core/apps/batch from kubernetes pkg/apis, the others from the CRDs in ``../shared/crds`` (jobset,
lws, trainer, kuberay, kserve; found by walking each CRD schema for a ``containers`` field).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["PodSource", "PodView", "ContainerView", "POD_SOURCES", "TEMPLATE_PATHS", "pod_views", "containers",
           "pod_sources", "carries_pods"]


@dataclass(frozen=True)
class PodSource:
    """One place of a kind where pods are described."""

    #: Dotted path to a pod template (``{metadata, spec}``), or to an inline pod spec when ``inline``.
    path: str
    inline: bool = False
    #: A label the operator adds to these pods, set to the object's name (selectors may rely on it).
    name_label: str = ""
    #: Other labels the operator sets on these pods, with fixed values.
    labels: tuple[tuple[str, str], ...] = ()


_TEMPLATE = ("spec.template",)
_JOBSET_LABEL = "jobset.sigs.k8s.io/jobset-name"
_KSERVE_LABEL = "serving.kserve.io/inferenceservice"
_RAY = ("headGroupSpec.template", "workerGroupSpecs[*].template")

#: (API group, kind) -> where its pods are. Built-in kinds are listed under every group that served them.
POD_SOURCES: dict[tuple[str, str], tuple[PodSource, ...]] = {
    ("", "Pod"): (PodSource("", ),),  # the object is its own template: metadata + spec
    ("", "PodTemplate"): (PodSource("template"),),
    ("", "ReplicationController"): (PodSource("spec.template"),),
    **{(group, kind): (PodSource("spec.template"),)
       for kind in ("Deployment", "ReplicaSet", "DaemonSet") for group in ("apps", "extensions")},
    ("apps", "StatefulSet"): (PodSource("spec.template"),),
    ("batch", "Job"): (PodSource("spec.template"),),
    ("batch", "CronJob"): (PodSource("spec.jobTemplate.spec.template"),),
    ("jobset.x-k8s.io", "JobSet"): (PodSource("spec.replicatedJobs[*].template.spec.template", name_label=_JOBSET_LABEL),),
    ("leaderworkerset.x-k8s.io", "LeaderWorkerSet"): (
        # LWS labels every pod with the set's name and its worker index: 0 on each group's leader, 1 to size-1 on
        # its workers (kubernetes-sigs/lws api/leaderworkerset/v1/leaderworkerset_types.go); a Service of the
        # leaders selects worker-index 0. Without a leader template, leaders use the worker template.
        PodSource("spec.leaderWorkerTemplate.leaderTemplate", name_label="leaderworkerset.sigs.k8s.io/name",
                  labels=(("leaderworkerset.sigs.k8s.io/worker-index", "0"),)),
        PodSource("spec.leaderWorkerTemplate.workerTemplate", name_label="leaderworkerset.sigs.k8s.io/name",
                  labels=(("leaderworkerset.sigs.k8s.io/worker-index", "1"),))),
    ("trainer.kubeflow.org", "TrainingRuntime"): (PodSource("spec.template.spec.replicatedJobs[*].template.spec.template"),),
    ("trainer.kubeflow.org", "ClusterTrainingRuntime"): (PodSource("spec.template.spec.replicatedJobs[*].template.spec.template"),),
    # A TrainJob carries no pods of its own: its pods are its TrainingRuntime's, and its runtimePatches
    # are partial patches onto them (kubeflow/trainer trainjob_types.go), not pods to judge alone.
    ("ray.io", "RayCluster"): tuple(PodSource(f"spec.{path}", name_label="ray.io/cluster") for path in _RAY),
    ("ray.io", "RayJob"): (*(PodSource(f"spec.rayClusterSpec.{path}") for path in _RAY), PodSource("spec.submitterPodTemplate")),
    ("ray.io", "RayService"): tuple(PodSource(f"spec.rayClusterConfig.{path}") for path in _RAY),
    ("serving.kserve.io", "InferenceService"): tuple(
        PodSource(f"spec.{component}", inline=True, name_label=_KSERVE_LABEL) for component in ("predictor", "transformer", "explainer")),
    ("serving.kserve.io", "ServingRuntime"): (PodSource("spec", inline=True),),
    ("serving.kserve.io", "ClusterServingRuntime"): (PodSource("spec", inline=True),),
}
_BUILTIN_GROUPS = {"", "apps", "extensions", "batch"}

#: Kinds with exactly one pod template, as a tuple of keys (``()`` for a Pod): for callers that want "the" template.
TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    kind: tuple(sources[0].path.split(".")) if sources[0].path else ()
    for (group, kind), sources in POD_SOURCES.items()
    if group in ("", "apps", "batch") and len(sources) == 1 and "[*]" not in sources[0].path and not sources[0].inline
}


def _group(obj: dict[str, Any]) -> str | None:
    api_version = obj.get("apiVersion")
    return api_version.rpartition("/")[0] if isinstance(api_version, str) else None


def pod_sources(obj: dict[str, Any]) -> tuple[PodSource, ...]:
    """Where the object's kind keeps pods (empty for Services, ConfigMaps, ...).

    An object without apiVersion (a hand-written fragment) is matched on kind among built-in kinds."""
    kind, group = str(obj.get("kind", "")), _group(obj)
    if group is None:
        return next((sources for (g, k), sources in POD_SOURCES.items() if k == kind and g in _BUILTIN_GROUPS), ())
    return POD_SOURCES.get((group, kind), ())


def carries_pods(obj: dict[str, Any]) -> bool:
    return bool(pod_sources(obj))


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
        return ".".join(part for part in (self.path, *parts) if part)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _resolve(node: Any, parts: list[str], prefix: str) -> Iterator[tuple[str, Any]]:
    """Every (field path, node) that a path with ``[*]`` wildcards reaches; malformed shapes reach nothing."""
    if not parts:
        yield prefix, node
        return
    part, rest = parts[0], parts[1:]
    key, wildcard = (part[:-3], True) if part.endswith("[*]") else (part, False)
    child = node.get(key) if isinstance(node, dict) else None
    path = f"{prefix}.{key}" if prefix else key
    if not wildcard:
        if child is not None:
            yield from _resolve(child, rest, path)
        return
    for index, item in enumerate(child if isinstance(child, list) else []):
        yield from _resolve(item, rest, f"{path}[{index}]")


def pod_views(obj: dict[str, Any]) -> list[PodView]:
    """Every pod spec an object carries, with its field path; none for kinds that carry no pods."""
    views: list[PodView] = []
    name = str(_mapping(obj.get("metadata")).get("name", ""))
    for source in pod_sources(obj):
        for path, node in _resolve(obj, source.path.split(".") if source.path else [], ""):
            if not isinstance(node, dict):
                continue
            spec: object
            if source.inline:
                spec, meta, spec_path, meta_path = node, node, path, path
            else:
                spec, meta = node.get("spec"), _mapping(node.get("metadata"))
                spec_path, meta_path = (f"{path}.spec", f"{path}.metadata") if path else ("spec", "metadata")
            if not isinstance(spec, dict):
                continue
            labels = _strings(meta.get("labels"))
            if source.name_label:
                labels[source.name_label] = name
            labels.update(source.labels)
            views.append(PodView(spec_path, spec, labels, _strings(meta.get("annotations")), f"{meta_path}.annotations"))
    return views


def containers(pod: PodView) -> Iterator[ContainerView]:
    """All containers of a pod: app containers, init containers (sidecars among them), ephemeral ones."""
    for group in ("initContainers", "containers", "ephemeralContainers"):
        items = pod.spec.get(group)
        for index, container in enumerate(items if isinstance(items, list) else []):
            if isinstance(container, dict):
                yield ContainerView(f"{pod.path}.{group}[{index}]", container, group)
