"""Checks that span objects: selectors that select, targets that exist, names, GPU counts."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from ..errors import Problem
from ..manifest import Manifest, pod_template
from ..policy.pods import pod_views
from ..quantity import parse_quantity

__all__ = ["check_cross_object", "EXTENDED_GPU_RESOURCES"]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# Kinds whose names become DNS labels (Service hostnames, Namespaces) or pod name prefixes.
_LABEL_NAMED_KINDS = {"Service", "Namespace", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"}
EXTENDED_GPU_RESOURCES = re.compile(r"^(nvidia\.com/(gpu|mig-[0-9a-z.]+)|amd\.com/gpu)$")


def check_cross_object(manifests: Iterable[Manifest]) -> list[Problem]:
    """All cross-object problems among objects that are deployed together.

    Selectors and targets only match within a namespace, so pods and targets are indexed by namespace
    (and pods by label) once: the checks stay linear in the number of objects (bench/, issue 22).
    """
    items = list(manifests)
    problems: list[Problem] = []
    problems += _duplicates(items)
    for manifest in items:
        problems += _name(manifest)
        problems += _gpu_resources(manifest)
    pods = _PodIndex(items)
    targets = {(m.kind, m.name, _namespace_of(m)) for m in items}
    for manifest in items:
        if manifest.kind == "Service":
            problems += _service_selects_pods(manifest, pods)
        elif manifest.kind == "PodDisruptionBudget":
            problems += _pdb_selects_pods(manifest, pods)
        elif manifest.kind in ("HorizontalPodAutoscaler", "ScaledObject"):
            problems += _hpa_target_exists(manifest, targets)
    return problems


def _namespace_of(manifest: Manifest) -> str:
    """The namespace selectors and targets are matched in (the one place that says which namespaces are the same)."""
    return manifest.namespace


class _PodIndex:
    """Pod label sets per namespace, and per (namespace, label, value), so a selector looks only at candidates."""

    def __init__(self, items: list[Manifest]) -> None:
        self.by_namespace: dict[str, list[dict[str, str]]] = defaultdict(list)
        self.by_label: dict[tuple[str, str, str], list[dict[str, str]]] = defaultdict(list)
        for manifest in items:
            for labels in _pod_label_sets(manifest):
                namespace = _namespace_of(manifest)
                self.by_namespace[namespace].append(labels)
                for pair in labels.items() if isinstance(labels, dict) else ():
                    try:
                        self.by_label[(namespace, *pair)].append(labels)
                    except TypeError:  # an unhashable label value never equals a selector's value
                        continue

    def any_selected(self, namespace: str, selector: dict[str, str]) -> bool:
        """Whether some pod of the namespace has every label of the selector (an empty selector selects all)."""
        if not selector:
            return bool(self.by_namespace.get(namespace))
        try:
            candidates = min((self.by_label.get((namespace, key, value), []) for key, value in selector.items()), key=len)
        except TypeError:  # a selector value that is not hashable: compare against every pod of the namespace
            candidates = self.by_namespace.get(namespace, [])
        return any(_selects(selector, labels) for labels in candidates)


def _duplicates(items: list[Manifest]) -> Iterator[Problem]:
    seen: dict[tuple[str, str, str, str], Manifest] = {}
    for manifest in items:
        first = seen.setdefault(manifest.key, manifest)
        if first is not manifest:
            yield Problem(manifest.where, "metadata.name",
                          f"{manifest.describe()} is defined twice (also at {first.where})",
                          "give one of them another name")


def _name(manifest: Manifest) -> Iterator[Problem]:
    name = manifest.name
    if manifest.kind in _LABEL_NAMED_KINDS or (manifest.obj.get("metadata") or {}).get("labels", {}).get("app.kubernetes.io/managed-by") == "mlkube":
        if len(name) > 63 or not _DNS_LABEL.match(name):
            yield Problem(manifest.where, "metadata.name",
                          f"{manifest.kind} name {name!r} is not a DNS-1123 label",
                          "use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit")
    elif len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        yield Problem(manifest.where, "metadata.name", f"{manifest.kind} name {name!r} is not a DNS-1123 subdomain",
                      "use lower-case letters, digits, '-' and '.'")


def _containers(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for group in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(group) or []):
            yield f"{group}[{index}]", container


def _template_path(kind: str) -> str:
    return {"CronJob": "spec.jobTemplate.spec.template.spec", "Pod": "spec"}.get(kind, "spec.template.spec")


def _pod_specs(manifest: Manifest) -> list[tuple[str, dict[str, Any]]]:
    """(field path, pod spec) of each pod template of the object."""
    if manifest.kind == "LeaderWorkerSet":
        return [(view.path, view.spec) for view in pod_views(manifest.obj)]
    template = pod_template(manifest.obj)
    if template is None:
        return []
    spec = template.get("spec") if manifest.kind != "Pod" else manifest.obj.get("spec")
    return [(_template_path(manifest.kind), spec or {})]


def _gpu_resources(manifest: Manifest) -> Iterator[Problem]:
    for spec_path, spec in _pod_specs(manifest):
        yield from _gpu_resources_of(manifest, spec_path, spec)


def _gpu_resources_of(manifest: Manifest, spec_path: str, spec: dict[str, Any]) -> Iterator[Problem]:
    for path, container in _containers(spec):
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        for resource in sorted(set(requests) | set(limits)):
            if not EXTENDED_GPU_RESOURCES.match(resource):
                continue
            field = f"{spec_path}.{path}.resources"
            values = {"requests": requests.get(resource), "limits": limits.get(resource)}
            for where, value in values.items():
                if value is None:
                    continue
                try:
                    number = parse_quantity(value)
                except ValueError:
                    number = Decimal("NaN")
                if number.is_nan() or number != number.to_integral_value() or number < 0:
                    yield Problem(manifest.where, f"{field}.{where}.{resource}",
                                  f"{resource} must be a whole number of devices (got {value!r})",
                                  "GPUs cannot be shared by fractions; use a MIG profile for part of a GPU")
            if values["limits"] is None:
                yield Problem(manifest.where, f"{field}.limits.{resource}",
                              f"{resource} is requested but has no limit", "extended resources need limits equal to requests")
            elif values["requests"] is not None and str(values["requests"]) != str(values["limits"]):
                yield Problem(manifest.where, f"{field}.requests.{resource}",
                              f"{resource} request ({values['requests']}) differs from its limit ({values['limits']})",
                              "set requests equal to limits for GPUs")


#: Label an operator puts on the pods of a custom resource that owns pods.
_OPERATOR_POD_LABELS = {("serving.kserve.io", "InferenceService"): "serving.kserve.io/inferenceservice"}


def _pod_label_sets(manifest: Manifest) -> list[dict[str, str]]:
    """The labels of each kind of pod the object makes (a LeaderWorkerSet makes leaders and workers)."""
    if manifest.kind == "LeaderWorkerSet":
        return [view.labels for view in pod_views(manifest.obj)]
    labels = _pod_labels(manifest)
    return [] if labels is None else [labels]


def _pod_labels(manifest: Manifest) -> dict[str, str] | None:
    operator_label = _OPERATOR_POD_LABELS.get((manifest.key[0], manifest.kind))
    if operator_label is not None:
        return {operator_label: manifest.name}
    if manifest.kind == "Pod":
        return (manifest.obj.get("metadata") or {}).get("labels") or {}
    template = pod_template(manifest.obj)
    if template is None:
        return None
    return (template.get("metadata") or {}).get("labels") or {}


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def _service_selects_pods(service: Manifest, pods: _PodIndex) -> Iterator[Problem]:
    selector = (service.obj.get("spec") or {}).get("selector")
    if not selector:
        return  # a Service without selector is managed by hand (EndpointSlices)
    if not pods.any_selected(_namespace_of(service), selector):
        yield Problem(service.where, "spec.selector", f"Service {service.name!r} selects no pods: no workload in "
                      f"namespace {service.namespace!r} has pod labels {selector}", "make the selector match the pod template labels")


def _pdb_selects_pods(pdb: Manifest, pods: _PodIndex) -> Iterator[Problem]:
    selector = ((pdb.obj.get("spec") or {}).get("selector") or {})
    match = selector.get("matchLabels") or {}
    if selector.get("matchExpressions"):
        return  # expressions are rare in mlkube output; the schema already checked their shape
    if not pods.any_selected(_namespace_of(pdb), match):
        yield Problem(pdb.where, "spec.selector.matchLabels", f"PodDisruptionBudget {pdb.name!r} selects no pods "
                      f"(matchLabels {match})", "make the selector match the pod template labels")


def _hpa_target_exists(hpa: Manifest, targets: set[tuple[str, str, str]]) -> Iterator[Problem]:
    target = (hpa.obj.get("spec") or {}).get("scaleTargetRef") or {}
    kind, name = target.get("kind"), target.get("name")
    kind = kind or "Deployment"  # KEDA's default target kind
    if not (isinstance(kind, str) and isinstance(name, str) and (kind, name, _namespace_of(hpa)) in targets):
        yield Problem(hpa.where, "spec.scaleTargetRef", f"{hpa.kind} {hpa.name!r} targets {kind}/{name}, "
                      f"which is not among the objects of namespace {hpa.namespace!r}", "point scaleTargetRef at a Deployment that exists")
