"""Risk rules: each looks at one object change (or, for selectors, the whole head side) and says
what could go wrong on apply, with a level (see ``Level``) and a short reason.

Categories: data loss, recreation (a field Kubernetes will not update in place, so Argo CD must
delete and recreate the object, or fails to sync), availability and security.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..kube.manifest import pod_template
from ..kube.quantity import parse_quantity
from .fields import containers, parse_image
from .model import Level, ObjectChange, Risk
from .sources import Located

__all__ = ["RiskContext", "object_risks", "selector_risks", "RULES", "RESTRICTED_SETTINGS", "DEFAULT_PRODUCTION"]

DATA_LOSS, RECREATION, AVAILABILITY, SECURITY = "data loss", "recreation", "availability", "security"
#: Environments treated as production unless ``--production`` names others.
DEFAULT_PRODUCTION = frozenset({"prod", "production"})
_SCALED = ("Deployment", "StatefulSet", "ReplicaSet")
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"


@dataclass(frozen=True)
class RiskContext:
    production: frozenset[str]
    #: Pod labels of every workload on the head side, per (environment, namespace).
    head_pods: dict[tuple[str, str], list[dict[str, str]]]
    #: (environment, app) folders that the head side no longer has at all: the app is removed.
    removed_apps: frozenset[tuple[str, str]] = frozenset()
    #: Claims read on each side, per environment: (namespace, name) -> the claim.
    base_claims: dict[str, dict[tuple[str, str], Located]] = field(default_factory=dict)
    head_claims: dict[str, dict[tuple[str, str], Located]] = field(default_factory=dict)
    #: Namespace objects read on the base side, per (environment, name).
    base_namespaces: dict[tuple[str, str], Located] = field(default_factory=dict)
    #: Namespace objects read on the head side (a removed one is read on the base side only).
    head_namespaces: dict[tuple[str, str], Located] = field(default_factory=dict)


def claims_by_environment(objects: Iterable[Located]) -> dict[str, dict[tuple[str, str], Located]]:
    index: dict[str, dict[tuple[str, str], Located]] = defaultdict(dict)
    for located in objects:
        if located.obj.get("kind") == "PersistentVolumeClaim":
            index[located.environment][(str(_dig(located.obj, "metadata", "namespace") or ""), str(_dig(located.obj, "metadata", "name")))] = located
    return dict(index)


def namespaces_of(objects: Iterable[Located]) -> dict[tuple[str, str], Located]:
    return {(located.environment, str(_dig(located.obj, "metadata", "name"))): located for located in objects
            if located.obj.get("kind") == "Namespace"}


Rule = Callable[[ObjectChange, RiskContext], Iterable[Risk]]


def _dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _spec(located: Located | None) -> dict[str, Any]:
    spec = located.obj.get("spec") if located else None
    return spec if isinstance(spec, dict) else {}


def pod_labels(obj: dict[str, Any]) -> dict[str, str] | None:
    """Labels of the pods a workload makes (a Pod's own labels), or None for other kinds."""
    if obj.get("kind") == "Pod":
        return _dig(obj, "metadata", "labels") or {}
    template = pod_template(obj)
    return None if template is None else (_dig(template, "metadata", "labels") or {})


def pods_by_namespace(objects: Iterable[Located]) -> dict[tuple[str, str], list[dict[str, str]]]:
    index: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for located in objects:
        labels = pod_labels(located.obj)
        if labels is not None:
            index[(located.environment, str(_dig(located.obj, "metadata", "namespace") or ""))].append(labels)
    return index


def _selects(match_labels: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in match_labels.items())


def _label_selector_matches(selector: Any, pods: list[dict[str, str]]) -> bool:
    """Whether a LabelSelector selects any pod; expressions are not evaluated, so they count as matching."""
    if not isinstance(selector, dict) or selector.get("matchExpressions"):
        return True
    return any(_selects(selector.get("matchLabels") or {}, labels) for labels in pods)


# -- data loss --------------------------------------------------------------------------------------

#: PVC spec fields that cannot change in place: a new claim means a new, empty volume.
_CLAIM_IMMUTABLE = ("storageClassName", "accessModes", "volumeMode", "volumeName", "selector", "dataSource", "dataSourceRef")


def _claim_value(spec: dict[str, Any], field: str) -> Any:
    value = spec.get(field)
    if field == "accessModes" and isinstance(value, list):
        return sorted(value)
    if field == "volumeMode" and value is None:
        return "Filesystem"  # the API default
    return value


def _claim_loss(change: ObjectChange, context: RiskContext) -> Iterator[Risk]:
    if change.kind != "PersistentVolumeClaim":
        return
    if change.status == "removed":
        located = change.base
        assert located is not None
        renamed = [key for key in context.head_claims.get(change.environment, {}) if key[1] == change.name and key[0] != change.namespace]
        if renamed:
            yield Risk(Level.HIGH, DATA_LOSS, f"the claim reappears in namespace {renamed[0][0]!r}: that is a new, empty volume; "
                                              f"the data stays in {change.namespace}/{change.name}, which is no longer managed")
        if (change.environment, change.app) in context.removed_apps:
            yield _app_removal_risk(change, context)
            return
        namespace = context.base_namespaces.get((change.environment, change.namespace))
        if namespace is not None and (change.environment, change.namespace) not in context.head_namespaces \
                and "Prune=false" not in _sync_options(namespace):
            yield Risk(Level.HIGH, DATA_LOSS, f"its namespace {change.namespace!r} is removed without Prune=false: deleting a "
                                              "namespace deletes every claim in it, whatever the claim's own annotation")
            return
        if "Prune=false" in _sync_options(change.base):
            yield Risk(Level.LOW, DATA_LOSS, f"the claim leaves the config repo, but its {SYNC_OPTIONS} Prune=false keeps "
                                             "Argo CD from deleting it: volume and data stay, unmanaged, and the app shows "
                                             "OutOfSync until the claim is deleted by hand")
        else:
            yield Risk(Level.HIGH, DATA_LOSS, "the claim is deleted; with the usual reclaim policy (Delete) its volume and data go too")
        return
    if change.status != "changed":
        return
    if change.moved_from_app is not None:
        yield Risk(Level.HIGH, DATA_LOSS, f"moves from app {change.moved_from_app!r}: that app's Argo CD sync may prune "
                                          "(delete) the claim and its volume before this app recreates it empty")
    old, new = _spec(change.base), _spec(change.head)
    for name in _CLAIM_IMMUTABLE:
        if _claim_value(old, name) != _claim_value(new, name):
            yield Risk(Level.HIGH, DATA_LOSS, f"spec.{name} cannot change on an existing claim: applying it needs a new "
                                              "claim, i.e. a new empty volume")
    before, after = _dig(old, "resources", "requests", "storage"), _dig(new, "resources", "requests", "storage")
    if before is not None and after is not None and _smaller(after, before):
        yield Risk(Level.HIGH, DATA_LOSS, f"storage shrinks from {before} to {after}: volumes cannot shrink, "
                                          "so only a new empty claim would apply")


def _app_removal_risk(change: ObjectChange, context: RiskContext) -> Risk:
    """The claim's whole app leaves the config repo: its Application is deleted (cascade) with it."""
    unprotected = [what for what, located in (("the claim", change.base), ("its Namespace",
                   context.base_namespaces.get((change.environment, change.namespace))))
                   if located is not None and not {"Prune=false", "Delete=false"} <= _sync_options(located)]
    if unprotected:
        return Risk(Level.HIGH, DATA_LOSS, f"app {change.app!r} is removed: deleting its Application cascades, and "
                                           f"{' and '.join(unprotected)} lack{'s' if len(unprotected) == 1 else ''} "
                                           "Prune=false,Delete=false, so the volume and its data are deleted")
    return Risk(Level.HIGH, DATA_LOSS, f"app {change.app!r} is removed: Prune=false,Delete=false keep the claim and its "
                                       "namespace, but nothing manages them any more; deleting that namespace later deletes the "
                                       "data, and the app added again elsewhere starts on an empty volume: snapshot or move the "
                                       "data first")


def _application_removed(change: ObjectChange, context: RiskContext) -> Iterator[Risk]:
    """An Application removed while its folder still has claims: deleting it cascades to its objects."""
    if change.kind not in ("Application", "ApplicationSet") or change.status != "removed":
        return
    path = str(_dig(change.base.obj if change.base else None, "spec", "source", "path") or _dig(
        change.base.obj if change.base else None, "spec", "template", "spec", "source", "path") or "")
    folder = path.rstrip("/").rpartition("/")[2]
    claims = sorted(f"{namespace}/{name}" for (namespace, name), located in context.base_claims.get(change.environment, {}).items()
                    if located.app == folder or "{{" in folder)
    if claims:
        yield Risk(Level.HIGH, DATA_LOSS, f"the Application of {', '.join(claims)} is removed: with its resources finalizer "
                                          "Argo CD deletes every object it managed except those marked Delete=false")


def _snapshot_of_new_claim(change: ObjectChange, context: RiskContext) -> Iterator[Risk]:
    """A VolumeSnapshot added with the claim it copies: taken as soon as the claim binds, of an empty volume."""
    if change.kind != "VolumeSnapshot" or change.status != "added":
        return
    claim = _dig(_spec(change.head), "source", "persistentVolumeClaimName")
    key = (change.namespace, str(claim))
    if key in context.head_claims.get(change.environment, {}) and key not in context.base_claims.get(change.environment, {}):
        yield Risk(Level.MEDIUM, DATA_LOSS, f"snapshots claim {claim!r}, which this change creates: the copy is of an empty "
                                            "volume; add the snapshot after a run has written to it")


def _protection_lost(change: ObjectChange, _: RiskContext) -> Iterator[Risk]:
    """A claim or Namespace that stays but loses Prune=false / Delete=false: the next removal deletes the data."""
    if change.status != "changed" or change.kind not in ("PersistentVolumeClaim", "Namespace"):
        return
    lost = sorted({"Prune=false", "Delete=false"} & _sync_options(change.base) - _sync_options(change.head))
    if lost:
        yield Risk(Level.MEDIUM, DATA_LOSS, f"{change.kind} loses {', '.join(lost)}: removing it from Git or deleting its "
                                            "Application would then delete the claim's data")


def _sync_options(located: Located | None) -> set[str]:
    """Argo CD's per-object sync options. On a removal the live object (the base side) carries them,
    and Argo CD honours ``Prune=false`` there over the Application's prune policy."""
    text = _dig(located.obj if located else None, "metadata", "annotations", SYNC_OPTIONS)
    return {option.strip() for option in text.split(",")} if isinstance(text, str) else set()


def _smaller(after: Any, before: Any) -> bool:
    try:
        return parse_quantity(after) < parse_quantity(before)
    except ValueError:
        return False


def _statefulset_claims_deleted(change: ObjectChange, _: RiskContext) -> Iterator[Risk]:
    if change.kind == "StatefulSet" and change.status == "removed":
        spec = _spec(change.base)
        if spec.get("volumeClaimTemplates") and _dig(spec, "persistentVolumeClaimRetentionPolicy", "whenDeleted") == "Delete":
            yield Risk(Level.HIGH, DATA_LOSS, "the StatefulSet is removed with persistentVolumeClaimRetentionPolicy "
                                              "whenDeleted: Delete, so its claims and their data are deleted")


# -- recreation -------------------------------------------------------------------------------------

#: Per kind, the spec fields the API server refuses to update (Argo CD must delete and recreate).
_IMMUTABLE_SPEC: dict[str, tuple[str, ...]] = {
    "Deployment": ("selector",),
    "ReplicaSet": ("selector",),
    "DaemonSet": ("selector",),
    "StatefulSet": ("selector", "volumeClaimTemplates", "serviceName", "podManagementPolicy"),
    "Job": ("selector", "template", "completionMode"),
    # kubernetes-sigs/jobset pkg/webhooks/jobset_webhook.go (ValidateUpdate): replicatedJobs are immutable.
    "JobSet": ("replicatedJobs",),
}
#: Kinds that mlkube marks Force=true,Replace=true (gitops/sync_waves.py): a change is a delete and create.
_RUNS = ("Job", "JobSet")


def _immutable_fields(change: ObjectChange, _: RiskContext) -> Iterator[Risk]:
    if change.status != "changed":
        return
    old, new = _spec(change.base), _spec(change.head)
    for name in _IMMUTABLE_SPEC.get(change.kind, ()):
        if old.get(name) == new.get(name):
            continue
        if change.kind in _RUNS:
            yield _run_changed(change, name)
        else:
            yield Risk(Level.MEDIUM, RECREATION, f"{change.kind} spec.{name} is immutable: Argo CD must delete and "
                                                 "recreate the object (or the sync fails)")
    if change.kind == "CronJob" and old.get("jobTemplate") != new.get("jobTemplate"):
        yield Risk(Level.INFO, RECREATION, "the CronJob's next runs use the new job template; a run already started "
                                           "finishes on the old one")
    if change.kind == "Job" and old.get("completions") != new.get("completions") and new.get("completionMode") != "Indexed":
        # Only Indexed Jobs with completions == parallelism may change completions (elastic Jobs).
        yield Risk(Level.MEDIUM, RECREATION, "Job spec.completions is immutable for a NonIndexed Job: "
                                             "Argo CD must delete and recreate the Job")
    if change.kind == "Service":
        yield from _service_recreation(old, new)


def _run_changed(change: ObjectChange, field: str) -> Risk:
    """What a sync does with a changed Job or JobSet: re-create it (Replace=true), or fail."""
    if {"Force=true", "Replace=true"} <= _sync_options(change.head):
        return Risk(Level.MEDIUM, RECREATION, f"{change.kind} spec.{field} changed: on sync Argo CD deletes and re-creates it "
                                              "(Force=true,Replace=true): a running run stops and the job runs again from the start "
                                              "(a training job resumes from its last checkpoint)")
    return Risk(Level.HIGH, RECREATION, f"{change.kind} spec.{field} is immutable and the object has no Force=true,Replace=true "
                                        "sync option: the sync fails with 'field is immutable' until someone deletes it by hand")


def _service_recreation(old: dict[str, Any], new: dict[str, Any]) -> Iterator[Risk]:
    if old.get("clusterIP") != new.get("clusterIP"):
        yield Risk(Level.MEDIUM, RECREATION, f"Service spec.clusterIP ({old.get('clusterIP', 'unset')} -> "
                                             f"{new.get('clusterIP', 'unset')}) is immutable: the Service is recreated with a new address")
    old_type, new_type = old.get("type", "ClusterIP"), new.get("type", "ClusterIP")
    if old_type != new_type and "ExternalName" in (old_type, new_type):
        yield Risk(Level.MEDIUM, RECREATION, f"Service type {old_type} -> {new_type}: a change to or from ExternalName "
                                             "adds or drops the cluster IP, so Argo CD replaces the Service")


def _moved_between_apps(change: ObjectChange, _: RiskContext) -> Iterator[Risk]:
    if change.status == "changed" and change.moved_from_app is not None and change.kind != "PersistentVolumeClaim":
        yield Risk(Level.MEDIUM, RECREATION, f"moves from app {change.moved_from_app!r}: that app's Argo CD sync may "
                                             "prune (delete) it before this app creates it again")


# -- availability -----------------------------------------------------------------------------------

def _scale_to_zero(change: ObjectChange, context: RiskContext) -> Iterator[Risk]:
    if change.status != "changed":
        return
    if change.kind in _SCALED:
        field, default = "replicas", 1
    elif change.kind == "HorizontalPodAutoscaler":
        field, default = "maxReplicas", 1
    elif change.kind == "ScaledObject":
        field, default = "maxReplicaCount", 100  # KEDA's default
    else:
        return
    before, after = _spec(change.base).get(field, default), _spec(change.head).get(field, default)
    if after == 0 and before != 0:
        if change.environment in context.production:
            yield Risk(Level.HIGH, AVAILABILITY, f"spec.{field} goes from {before} to 0 in production "
                                                 f"environment {change.environment!r}: nothing will run")
        else:
            yield Risk(Level.INFO, AVAILABILITY, f"spec.{field} goes from {before} to 0 (not a production environment)")


def _pdb_removed(change: ObjectChange, context: RiskContext) -> Iterator[Risk]:
    if change.kind == "PodDisruptionBudget" and change.status == "removed":
        pods = context.head_pods.get((change.environment, change.namespace), [])
        if _label_selector_matches(_spec(change.base).get("selector"), pods) and pods:
            yield Risk(Level.MEDIUM, AVAILABILITY, "the PodDisruptionBudget is removed while the pods it protected remain: "
                                                   "node drains may evict all of them at once")


# -- security ---------------------------------------------------------------------------------------

def _container_context(container: dict[str, Any]) -> dict[str, Any]:
    return container.get("securityContext") or {}


def _run_as_non_root(pod: dict[str, Any], container: dict[str, Any]) -> bool:
    own = _container_context(container).get("runAsNonRoot")
    return bool(own if own is not None else _dig(pod, "securityContext", "runAsNonRoot"))


def _seccomp(pod: dict[str, Any], container: dict[str, Any]) -> bool:
    own = _dig(_container_context(container), "seccompProfile", "type")
    return (own or _dig(pod, "securityContext", "seccompProfile", "type")) in ("RuntimeDefault", "Localhost")


#: The settings of the restricted Pod Security Standard (plus a read-only root), per container.
RESTRICTED_SETTINGS: dict[str, Callable[[dict[str, Any], dict[str, Any]], bool]] = {
    "runAsNonRoot: true": _run_as_non_root,
    "allowPrivilegeEscalation: false": lambda pod, c: _container_context(c).get("allowPrivilegeEscalation") is False,
    "capabilities drop ALL": lambda pod, c: "ALL" in (_dig(_container_context(c), "capabilities", "drop") or []),
    "seccompProfile RuntimeDefault": _seccomp,
    "readOnlyRootFilesystem: true": lambda pod, c: _container_context(c).get("readOnlyRootFilesystem") is True,
}


def _pod_spec(located: Located | None) -> dict[str, Any] | None:
    if located is None:
        return None
    if located.obj.get("kind") == "Pod":
        return _spec(located)
    template = pod_template(located.obj)
    spec = template.get("spec") if template else None
    return spec if isinstance(spec, dict) else None


def _restricted_lost(change: ObjectChange, _: RiskContext) -> Iterator[Risk]:
    old, new = _pod_spec(change.base), _pod_spec(change.head)
    if change.status != "changed" or old is None or new is None:
        return
    old_containers = [c for _, _, c in containers(old)]
    for setting, holds in RESTRICTED_SETTINGS.items():
        if not old_containers or not all(holds(old, c) for c in old_containers):
            continue
        lacking = [name for _, name, c in containers(new) if not holds(new, c)]
        if lacking:
            yield Risk(Level.MEDIUM, SECURITY, f"the pod loses {setting} (containers: {', '.join(lacking)})")


def _host_access(pod: dict[str, Any] | None) -> set[str]:
    if pod is None:
        return set()
    found = {f"{key}: true" for key in ("hostNetwork", "hostPID", "hostIPC") if pod.get(key) is True}
    found |= {f"privileged container {name}" for _, name, c in containers(pod) if _container_context(c).get("privileged") is True}
    found |= {f"hostPath volume {_dig(v, 'hostPath', 'path')}" for v in pod.get("volumes") or []
              if isinstance(v, dict) and isinstance(v.get("hostPath"), dict)}
    return found


def _host_access_added(change: ObjectChange, _: RiskContext) -> Iterator[Risk]:
    if change.status not in ("changed", "added"):
        return
    for item in sorted(_host_access(_pod_spec(change.head)) - _host_access(_pod_spec(change.base))):
        yield Risk(Level.HIGH, SECURITY, f"the pod gains {item}: access to the node beyond the restricted standard")


def _network_policy_removed(change: ObjectChange, context: RiskContext) -> Iterator[Risk]:
    if change.kind == "NetworkPolicy" and change.status == "removed":
        pods = context.head_pods.get((change.environment, change.namespace), [])
        if pods and _label_selector_matches(_spec(change.base).get("podSelector") or {}, pods):
            yield Risk(Level.MEDIUM, SECURITY, "the NetworkPolicy is removed while its pods remain: "
                                               "traffic it restricted is allowed again")


def _digest_to_tag(change: ObjectChange, _context: RiskContext) -> Iterator[Risk]:
    old, new = _pod_spec(change.base), _pod_spec(change.head)
    if change.status != "changed" or old is None or new is None:
        return
    before = {name: str(c.get("image", "")) for _, name, c in containers(old)}
    for _, name, container in containers(new):
        image = str(container.get("image", ""))
        if name in before and parse_image(before[name]).digest and not parse_image(image).digest:
            yield Risk(Level.MEDIUM, SECURITY, f"container {name}'s image is no longer pinned by digest ({image}): "
                                               "the tag can move to other content")


def _mutable_model(change: ObjectChange, context: RiskContext) -> Iterator[Risk]:
    """A model that can change after review, in production: replicas may serve different weights, a rollback keeps the new ones."""
    from ..core.model import ModelReference
    from ..pinning.models import model_fields

    if change.head is None or change.status == "unchanged" or change.environment not in context.production:
        return
    for found in model_fields(change.head.obj):
        ref = ModelReference(found.value)
        if not ref.immutable:
            level = Level.HIGH if ref.pinnable else Level.MEDIUM
            yield Risk(level, SECURITY, f"model {found.value} is not pinned to one content in production: "
                                        f"each pod start downloads whatever it names then; {ref.pin_hint()}")


RULES: tuple[Rule, ...] = (
    _claim_loss, _statefulset_claims_deleted,
    _application_removed, _protection_lost, _snapshot_of_new_claim,
    _immutable_fields, _moved_between_apps,
    _scale_to_zero, _pdb_removed,
    _restricted_lost, _host_access_added, _network_policy_removed, _digest_to_tag, _mutable_model,
)


def object_risks(change: ObjectChange, context: RiskContext) -> list[Risk]:
    risks = {risk for rule in RULES for risk in rule(change, context)}
    return sorted(risks, key=Risk.sort_key)


def selector_risks(base: dict[Any, Located], head: dict[Any, Located], base_pods: dict[tuple[str, str], list[dict[str, str]]],
                   context: RiskContext) -> Iterator[tuple[Located, Risk]]:
    """Services on the head side whose selector matched pods on the base side and matches none now."""
    for key, service in head.items():
        if service.obj.get("kind") != "Service":
            continue
        selector = _spec(service).get("selector")
        if not isinstance(selector, dict) or not selector:
            continue  # no selector: endpoints are managed by hand
        scope = (service.environment, str(_dig(service.obj, "metadata", "namespace") or ""))
        if any(_selects(selector, labels) for labels in context.head_pods.get(scope, [])):
            continue
        before = base.get(key)
        old_selector = _spec(before).get("selector") if before else None
        if isinstance(old_selector, dict) and old_selector and any(_selects(old_selector, labels) for labels in base_pods.get(scope, [])):
            yield service, Risk(Level.HIGH, AVAILABILITY, f"the Service's selector {_selector_text(selector)} no longer "
                                                          "matches the pod labels of any workload in its namespace: "
                                                          "it will have no endpoints")


def _selector_text(selector: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{key}={value}" for key, value in sorted(selector.items())) + "}"
