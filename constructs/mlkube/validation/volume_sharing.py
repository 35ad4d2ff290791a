"""Synth check: a volume written by several pods at once must be ReadWriteMany, and a single-node
volume may only be mounted by pods that land on one node.

A ReadWriteOnce claim attaches to one node, read-only mounts included: pods on a second node wait
with a Multi-Attach error. A ReadWriteOncePod claim is mounted by one pod in the whole cluster
(Kubernetes docs, "Persistent Volumes", access modes). So a claim written by more than one workload
or by several pods at once must be ReadWriteMany, and a ReadWriteOnce claim mounted (even read-only)
by pods that may run on several nodes (a server with several replicas, a multi-node job, two
workloads) is an error unless every one of them is pinned to the same node. The check reads the
rendered objects, so it also covers workloads changed through escape hatches or added with plain
cdk8s constructs, and KServe InferenceServices serving from a pvc:// storage URI.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import Problem
from ..kube.manifest import Manifest
from ..kube.pods import pod_views

if TYPE_CHECKING:
    from ..core.synth import SynthContext

__all__ = ["check_volume_sharing", "volume_sharing_step", "written_claims", "mounted_claims", "pods_at_once", "pinned_node"]

HOSTNAME_LABEL = "kubernetes.io/hostname"


def _pod_specs(manifest: Manifest) -> list[dict[str, Any]]:
    return [pod.spec for pod in pod_views(manifest.obj)]


def mounted_claims(pod_spec: dict[str, Any]) -> dict[str, bool]:
    """Claims that some container of the pod mounts -> whether one of them writes it."""
    claims: dict[str, tuple[str, bool]] = {}
    for volume in pod_spec.get("volumes") or []:
        source = volume.get("persistentVolumeClaim")
        if source:
            claims[volume["name"]] = (source["claimName"], not source.get("readOnly"))
    mounted: dict[str, bool] = {}
    for group in ("initContainers", "containers"):
        for container in pod_spec.get(group) or []:
            for mount in container.get("volumeMounts") or []:
                if mount.get("name") in claims:
                    claim, writable = claims[mount["name"]]
                    mounted[claim] = mounted.get(claim, False) or (writable and not mount.get("readOnly"))
    return mounted


def written_claims(pod_spec: dict[str, Any]) -> set[str]:
    """Claims that some container of the pod mounts writable."""
    return {claim for claim, writes in mounted_claims(pod_spec).items() if writes}


def _kserve_claims(manifest: Manifest) -> dict[str, bool]:
    """A KServe InferenceService serving from pvc://<claim>/...: KServe mounts the claim read-only into the predictor pods."""
    if manifest.kind != "InferenceService" or not str(manifest.obj.get("apiVersion", "")).startswith("serving.kserve.io/"):
        return {}
    predictor = (manifest.obj.get("spec") or {}).get("predictor") or {}
    uri = str((predictor.get("model") or {}).get("storageUri") or predictor.get("storageUri") or "")
    return {uri[len("pvc://"):].split("/", 1)[0]: False} if uri.startswith("pvc://") else {}


def _claims_of(manifest: Manifest) -> dict[str, bool]:
    claims = _kserve_claims(manifest)
    for spec in _pod_specs(manifest):
        for claim, writes in mounted_claims(spec).items():
            claims[claim] = claims.get(claim, False) or writes
    return claims


def pinned_node(pod_spec: dict[str, Any]) -> str | None:
    """The one node the pods are pinned to (nodeName, a kubernetes.io/hostname node selector, or a required
    node affinity naming one host), or None when they may land on any of several nodes."""
    if pod_spec.get("nodeName"):
        return str(pod_spec["nodeName"])
    selector = pod_spec.get("nodeSelector") or {}
    if selector.get(HOSTNAME_LABEL):
        return str(selector[HOSTNAME_LABEL])
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    hosts = set()
    for term in required.get("nodeSelectorTerms") or []:
        values = [tuple(e.get("values") or ()) for e in term.get("matchExpressions") or []
                  if e.get("key") == HOSTNAME_LABEL and e.get("operator") == "In"]
        if len(values) != 1 or len(values[0]) != 1:
            return None  # a term that allows other hosts (terms are ORed)
        hosts.add(values[0][0])
    return hosts.pop() if len(hosts) == 1 else None


def _pinned_node_of(manifest: Manifest) -> str | None:
    if _kserve_claims(manifest):
        return pinned_node((manifest.obj.get("spec") or {}).get("predictor") or {})
    nodes = {pinned_node(spec) for spec in _pod_specs(manifest)}
    return nodes.pop() if len(nodes) == 1 else None


def pods_at_once(manifest: Manifest, items: list[Manifest] | ScaleIndex) -> int:
    """How many pods of the workload may run at the same time (``items``: the objects deployed with it, or their
    ScaleIndex when asked for many workloads)."""
    spec = manifest.obj.get("spec") or {}
    if manifest.kind == "Job":
        return int(spec.get("parallelism", 1))
    if manifest.kind == "CronJob":
        runs = 1 if spec.get("concurrencyPolicy", "Allow") != "Allow" else 2
        return runs * int(((spec.get("jobTemplate") or {}).get("spec") or {}).get("parallelism", 1))
    if manifest.kind == "JobSet":
        jobs = spec.get("replicatedJobs") or []
        return sum(int(job.get("replicas", 1)) * int(((job.get("template") or {}).get("spec") or {}).get("parallelism", 1)) for job in jobs)
    scalers = items if isinstance(items, ScaleIndex) else ScaleIndex(items)
    if manifest.kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        replicas = int(spec["replicas"]) if "replicas" in spec else max(scalers.maximum(manifest), 1)
        return replicas + (_surge(spec, replicas) if manifest.kind == "Deployment" else 0)
    if manifest.kind == "LeaderWorkerSet":
        # Groups of `size` pods (leader and workers), on as many nodes; rolling updates surge no extra group by default.
        groups = int(spec["replicas"]) if "replicas" in spec else max(scalers.maximum(manifest), 1)
        return groups * int((spec.get("leaderWorkerTemplate") or {}).get("size", 1))
    if _kserve_claims(manifest):
        predictor = spec.get("predictor") or {}
        return int(predictor.get("maxReplicas") or predictor.get("minReplicas") or 1)
    return 1


def _surge(spec: dict[str, Any], replicas: int) -> int:
    """Extra pods a Deployment's rolling update starts beside the old ones: maxSurge, 25% by default, rounded up;
    none with Recreate (Kubernetes docs, "Deployments": Max Surge)."""
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    surge = (strategy.get("rollingUpdate") or {}).get("maxSurge", "25%")
    if isinstance(surge, str) and surge.endswith("%"):
        return math.ceil(replicas * int(surge[:-1]) / 100)
    return int(surge)


class ScaleIndex:
    """The HPAs and KEDA ScaledObjects of an environment by (namespace, target name): built once per environment,
    so a check over every workload stays linear (issue 22)."""

    def __init__(self, items: list[Manifest]) -> None:
        self._scalers: dict[tuple[str, str], list[Manifest]] = defaultdict(list)
        for other in items:
            if other.kind in ("HorizontalPodAutoscaler", "ScaledObject"):
                target = ((other.obj.get("spec") or {}).get("scaleTargetRef") or {}).get("name")
                if isinstance(target, str):  # another value never names a workload
                    self._scalers[(other.namespace, target)].append(other)

    def maximum(self, manifest: Manifest) -> int:
        """The most replicas an HPA or a KEDA ScaledObject targeting the workload may set (0 when none targets it)."""
        counts = [0]
        for other in self._scalers.get((manifest.namespace, manifest.name), []):
            other_spec = other.obj.get("spec") or {}
            if other.kind == "HorizontalPodAutoscaler":
                counts.append(int(other_spec.get("maxReplicas", 1)))
            else:
                counts.append(int(other_spec.get("maxReplicaCount", 100)))  # KEDA's default maxReplicaCount is 100
        return max(counts)


def check_volume_sharing(manifests: Iterable[Manifest]) -> list[Problem]:
    """Problems for every single-writer claim written by a multi-pod workload or by more than one workload."""
    items = list(manifests)
    claims = {(m.namespace, m.name): m for m in items if m.kind == "PersistentVolumeClaim"}
    writers: dict[tuple[str, str], list[Manifest]] = defaultdict(list)
    mounters: dict[tuple[str, str], list[Manifest]] = defaultdict(list)
    for manifest in items:
        for claim, writes in sorted(_claims_of(manifest).items()):
            mounters[(manifest.namespace, claim)].append(manifest)
            if writes:
                writers[(manifest.namespace, claim)].append(manifest)
    problems: list[Problem] = []
    scalers = ScaleIndex(items)
    for key, users in mounters.items():
        claim_object = claims.get(key)
        if claim_object is not None:
            found = list(_single_writer(claim_object, writers.get(key, []), scalers))
            problems += found or list(_single_node(claim_object, users, scalers))
    return problems


def _single_node(claim: Manifest, users: list[Manifest], items: ScaleIndex) -> Iterator[Problem]:
    """ReadWriteOnce: every mounting pod on one node; ReadWriteOncePod: one pod in all."""
    modes = (claim.obj.get("spec") or {}).get("accessModes") or ["ReadWriteOnce"]
    if any(mode in modes for mode in ("ReadWriteMany", "ReadOnlyMany")):
        return
    counts = {user.where: pods_at_once(user, items) for user in users}
    total = sum(counts.values())
    if total <= 1:
        return
    names = ", ".join(f"{user.where} ({user.describe()}, {counts[user.where]} pod{'s' if counts[user.where] > 1 else ''})" for user in users)
    if "ReadWriteOncePod" in modes:
        yield Problem(claim.where, "spec.accessModes", f"PersistentVolumeClaim {claim.name!r} is ReadWriteOncePod (one pod in the cluster) "
                      f"but is mounted by up to {total} pods at once: {names}",
                      "run one pod (replicas=1 and rollout='save-gpus', which starts no extra pod), give each workload its own "
                      "volume, or use access_mode='ReadWriteMany'")
        return
    nodes = {_pinned_node_of(user) for user in users}
    if len(nodes) == 1 and None not in nodes:
        return  # every pod pinned to the same node: ReadWriteOnce allows that
    yield Problem(claim.where, "spec.accessModes", f"PersistentVolumeClaim {claim.name!r} is ReadWriteOnce (attaches to one node, "
                  f"read-only mounts too) but up to {total} pods that may land on different nodes mount it: {names}; pods on a second "
                  "node fail with a Multi-Attach error",
                  "use access_mode='ReadWriteMany' (or ReadOnlyMany for readers), run one pod (replicas=1 and a rollout that "
                  "starts no extra pod: rollout='save-gpus'), or pin every pod to one node "
                  "(nodeSelector kubernetes.io/hostname: <node>, e.g. server.pod_spec['nodeSelector'])")


def _single_writer(claim: Manifest, users: list[Manifest], items: ScaleIndex) -> Iterator[Problem]:
    modes = (claim.obj.get("spec") or {}).get("accessModes") or []
    if "ReadWriteMany" in modes or not users:
        return
    mode = "/".join(modes) or "ReadWriteOnce"
    hint = "set access_mode='ReadWriteMany' on the volume (with a storage class that supports it), or mount it read_only=True"
    if len(users) > 1:
        names = " and ".join(user.where for user in users)
        yield Problem(claim.where, "spec.accessModes", f"PersistentVolumeClaim {claim.name!r} is {mode} but is written by "
                      f"{len(users)} workloads: {names}", hint)
        return
    user = users[0]
    count = pods_at_once(user, items)
    if count > 1:
        yield Problem(claim.where, "spec.accessModes", f"PersistentVolumeClaim {claim.name!r} is {mode} but {user.where} "
                      f"({user.describe()}) writes it from {count} pods at once (multi-node)", hint)


def volume_sharing_step(ctx: SynthContext) -> None:
    """The CHECKS step: run per environment (objects deployed together)."""
    by_environment = ctx.manifests_by_environment()
    for manifests in by_environment.values():
        ctx.problems += check_volume_sharing(manifests)
