"""Checks that span objects: selectors that select, targets that exist, names, GPU counts.

Partner checks (a Service or PodDisruptionBudget selects pods, an HPA's target exists) look among the
objects given; ``mlkube validate --cross-object=warn|off`` relaxes them for a partial set of files.
The other checks look at one object each and always apply. Objects without a namespace count as being
in ``default`` (what the API server does for a namespaced object created without one). Every walk
tolerates malformed objects: the schema check reports those; these checks only skip them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ..errors import Problem
from ..kube.cron import check_schedule
from ..kube.manifest import Manifest
from ..kube.pods import PodView, containers, pod_views
from ..kube.quantity import parse_quantity

__all__ = ["PARTNER_KINDS", "CrossObjectIndex", "check_cross_object", "checked_namespace", "partner_problems", "EXTENDED_GPU_RESOURCES"]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# Kinds whose names become DNS labels (Service hostnames, Namespaces) or pod name prefixes.
_LABEL_NAMED_KINDS = {"Service", "Namespace", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod",
                      "ReplicationController", "ReplicaSet"}
EXTENDED_GPU_RESOURCES = re.compile(r"^(nvidia\.com/(gpu|mig-[0-9a-z.]+)|amd\.com/gpu)$")
#: Characters the API server appends to a generateName prefix (names.SimpleNameGenerator: 5 random).
_GENERATED_SUFFIX = "x" * 5


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _metadata(manifest: Manifest) -> dict[str, Any]:
    return _dict(manifest.obj.get("metadata"))


def _namespace(manifest: Manifest) -> str:
    namespace = _metadata(manifest).get("namespace")
    return namespace if isinstance(namespace, str) and namespace else "default"


def checked_namespace(manifest: Manifest) -> str:
    """The namespace the checks across objects place ``manifest`` in ("default" for a cluster-scoped object): every
    check here reads only objects of one such namespace (identities, selectors, scale targets) or the object alone,
    so the problems of a namespace follow from its objects (incremental/namespaces.py relies on it)."""
    return _namespace(manifest)


def check_cross_object(manifests: Iterable[Manifest], *, partners: bool = True) -> list[Problem]:
    """All cross-object problems among objects that are deployed together; ``partners=False`` skips
    the checks that need partner objects (selectors, scale targets)."""
    index = CrossObjectIndex()
    problems: list[Problem] = []
    for manifest in manifests:
        problems += index.add(manifest)
    if partners:
        problems += index.partner_problems()
    return problems


def partner_problems(items: Sequence[Manifest]) -> list[Problem]:
    """Problems of Services, PodDisruptionBudgets and autoscalers whose partners are not among ``items``."""
    index = CrossObjectIndex()
    for manifest in items:
        index.add_partners(manifest)
    return index.partner_problems()


#: Kinds whose checks need partner objects (pods a selector selects, a scale target).
PARTNER_KINDS = ("Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ScaledObject")


class CrossObjectIndex:
    """What the checks across objects keep of each object, so that objects can be seen one at a time and
    dropped (``mlkube validate`` streams files; issue 22): identities, pod labels and scale targets per
    namespace, and a small copy of each object that needs partners (its selector or target).

    Selectors and targets match only within a namespace: indexed by namespace, the checks stay linear in
    the number of objects (issue 22: a scan of the whole environment per Service, PDB and HPA made synth
    quadratic)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, str, str], tuple[int, str]] = {}
        self._pods: dict[str, list[dict[str, str]]] = defaultdict(list)
        self._targets: set[tuple[str, str, str]] = set()
        self._needing: list[Manifest] = []

    def add(self, manifest: Manifest) -> list[Problem]:
        """Index one object; its own problems (name, GPU counts, schedule) and a duplicate of an earlier one."""
        problems = list(_duplicate(manifest, self._seen))
        problems += _name(manifest)
        views = pod_views(manifest.obj)
        for pod in views:
            problems += _pod_gpu_resources(manifest, pod)
        problems += _cron_schedule(manifest)
        self.add_partners(manifest, views)
        return problems

    def add_partners(self, manifest: Manifest, views: list[PodView] | None = None) -> None:
        namespace = _namespace(manifest)
        for view in pod_views(manifest.obj) if views is None else views:
            self._pods[namespace].append(view.labels)
        self._targets.add((manifest.kind, manifest.name, namespace))
        if manifest.kind in PARTNER_KINDS:
            self._needing.append(_partner_view(manifest))

    def partner_problems(self) -> list[Problem]:
        """Problems of the Services, PodDisruptionBudgets and autoscalers added, against all objects added."""
        problems: list[Problem] = []
        for manifest in self._needing:
            if manifest.kind == "Service":
                problems += _service_selects_pods(manifest, self._pods)
            elif manifest.kind == "PodDisruptionBudget":
                problems += _pdb_selects_pods(manifest, self._pods)
            else:
                problems += _hpa_target_exists(manifest, self._targets)
        return problems


def _partner_view(manifest: Manifest) -> Manifest:
    """The fields the partner checks read (kind, name, namespace, selector, scale target), nothing else."""
    metadata, spec = _metadata(manifest), _dict(manifest.obj.get("spec"))
    kept = {key: metadata[key] for key in ("name", "namespace") if key in metadata}
    body = {key: spec[key] for key in ("selector", "scaleTargetRef") if key in spec}
    return Manifest({"kind": manifest.obj.get("kind"), "metadata": kept, "spec": body}, manifest.where)


def _identity(manifest: Manifest) -> tuple[str, str, str, str]:
    group, kind, _, name = manifest.key
    return group, kind, _namespace(manifest), name


def _duplicates(items: list[Manifest]) -> Iterator[Problem]:
    seen: dict[tuple[str, str, str, str], tuple[int, str]] = {}
    for manifest in items:
        yield from _duplicate(manifest, seen)


def _duplicate(manifest: Manifest, seen: dict[tuple[str, str, str, str], tuple[int, str]]) -> Iterator[Problem]:
    if not manifest.name:
        return  # generateName: the API server picks a new name for each
    serial = len(seen)
    first, where = seen.setdefault(_identity(manifest), (serial, manifest.where))
    if first != serial:
        yield Problem(manifest.where, "metadata.name",
                      f"{manifest.describe()} is defined twice (also at {where})",
                      "give one of them another name")


def _name(manifest: Manifest) -> Iterator[Problem]:
    metadata = _metadata(manifest)
    name, prefix = metadata.get("name"), metadata.get("generateName")
    if not name and isinstance(prefix, str) and prefix:
        # ValidateObjectMeta: a generateName prefix is checked as the name it makes (prefix + 5 characters).
        yield from _name_rule(manifest, "metadata.generateName", prefix + _GENERATED_SUFFIX, f"generateName {prefix!r}")
        return
    if not name:
        yield Problem(manifest.where, "metadata.name", f"{manifest.kind} has no metadata.name (nor generateName)",
                      "name the object (metadata.name), or let the API server name it (metadata.generateName: prefix-)")
        return
    yield from _name_rule(manifest, "metadata.name", str(name), f"name {str(name)!r}")


def _name_rule(manifest: Manifest, field: str, name: str, shown: str) -> Iterator[Problem]:
    labels = _dict(_metadata(manifest).get("labels"))
    if manifest.kind in _LABEL_NAMED_KINDS or labels.get("app.kubernetes.io/managed-by") == "mlkube":
        if len(name) > 63 or not _DNS_LABEL.match(name):
            yield Problem(manifest.where, field, f"{manifest.kind} {shown} is not a DNS-1123 label",
                          "use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit")
    elif len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        yield Problem(manifest.where, field, f"{manifest.kind} {shown} is not a DNS-1123 subdomain",
                      "use lower-case letters, digits, '-' and '.'")


def _cron_schedule(manifest: Manifest) -> Iterator[Problem]:
    """A CronJob's schedule as the API server parses it (robfig/cron ParseStandard; see mlkube.kube.cron)."""
    if manifest.kind != "CronJob" or not str(manifest.obj.get("apiVersion", "")).startswith("batch/"):
        return
    schedule = _dict(manifest.obj.get("spec")).get("schedule")
    if isinstance(schedule, str):
        try:
            check_schedule(schedule)
        except ValueError as error:
            yield Problem(manifest.where, "spec.schedule", str(error)[:300],
                          "use 5 fields ('30 2 * * *'), a lower-case macro (@daily) or '@every 5m'")


def _gpu_resources(manifest: Manifest) -> Iterator[Problem]:
    for pod in pod_views(manifest.obj):
        yield from _pod_gpu_resources(manifest, pod)


def _pod_gpu_resources(manifest: Manifest, pod: PodView) -> Iterator[Problem]:
    for container in containers(pod):
        resources = _dict(container.container.get("resources"))
        requests, limits = _dict(resources.get("requests")), _dict(resources.get("limits"))
        for resource in sorted(set(requests) | set(limits)):
            if not EXTENDED_GPU_RESOURCES.match(str(resource)):
                continue
            field = f"{container.path}.resources"
            values = {"requests": requests.get(resource), "limits": limits.get(resource)}
            for where, value in values.items():
                if value is None:
                    continue
                try:
                    number = parse_quantity(value)
                except ValueError:
                    continue  # not a quantity: the quantity check reports it
                if number != number.to_integral_value() or number < 0:
                    yield Problem(manifest.where, f"{field}.{where}.{resource}",
                                  f"{resource} must be a whole number of devices (got {str(value)[:40]!r})",
                                  "GPUs cannot be shared by fractions; use a MIG profile for part of a GPU")
            if values["limits"] is None:
                yield Problem(manifest.where, f"{field}.limits.{resource}",
                              f"{resource} is requested but has no limit", "extended resources need limits equal to requests")
            elif values["requests"] is not None and _same_quantity(values["requests"], values["limits"]) is False:
                yield Problem(manifest.where, f"{field}.requests.{resource}",
                              f"{resource} request ({str(values['requests'])[:40]}) differs from its limit ({str(values['limits'])[:40]})",
                              "set requests equal to limits for GPUs")


def _same_quantity(first: Any, second: Any) -> bool | None:
    try:
        return parse_quantity(first) == parse_quantity(second)
    except ValueError:
        return None


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(str(key)) == str(value) for key, value in selector.items())


def _service_selects_pods(service: Manifest, pods: dict[str, list[dict[str, str]]]) -> Iterator[Problem]:
    selector = _dict(service.obj.get("spec")).get("selector")
    if not selector or not isinstance(selector, dict):
        return  # a Service without selector is managed by hand (EndpointSlices)
    namespace = _namespace(service)
    if not any(_selects(selector, labels) for labels in pods.get(namespace, ())):
        yield Problem(service.where, "spec.selector", f"Service {service.name!r} selects no pods: no workload in "
                      f"namespace {namespace!r} has pod labels {selector}", "make the selector match the pod template labels")


def _pdb_selects_pods(pdb: Manifest, pods: dict[str, list[dict[str, str]]]) -> Iterator[Problem]:
    selector = _dict(_dict(pdb.obj.get("spec")).get("selector"))
    match = _dict(selector.get("matchLabels"))
    if selector.get("matchExpressions"):
        return  # expressions are rare in mlkube output; the schema already checked their shape
    namespace = _namespace(pdb)
    if not any(_selects(match, labels) for labels in pods.get(namespace, ())):
        yield Problem(pdb.where, "spec.selector.matchLabels", f"PodDisruptionBudget {pdb.name!r} selects no pods "
                      f"(matchLabels {match})", "make the selector match the pod template labels")


def _hpa_target_exists(hpa: Manifest, targets: set[tuple[str, str, str]]) -> Iterator[Problem]:
    target = _dict(_dict(hpa.obj.get("spec")).get("scaleTargetRef"))
    kind, name = target.get("kind"), target.get("name")
    kind = kind or "Deployment"  # KEDA's default target kind
    namespace = _namespace(hpa)
    if not isinstance(kind, str) or not isinstance(name, str) or (kind, name, namespace) not in targets:
        yield Problem(hpa.where, "spec.scaleTargetRef", f"{hpa.kind} {hpa.name!r} targets {kind}/{name}, "
                      f"which is not among the objects of namespace {namespace!r}", "point scaleTargetRef at a Deployment that exists")
