"""Synth check: a volume written by several pods at once must be ReadWriteMany.

A ReadWriteOnce (or ReadWriteOncePod) claim attaches to one node (one pod): a second writer, or
a multi-node job, would wait forever for the volume. The check reads the rendered objects, so it
also covers workloads changed through escape hatches or added with plain cdk8s constructs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .errors import Problem
from .kube.pods import pod_views
from .manifest import Manifest

if TYPE_CHECKING:
    from .synth import SynthContext

__all__ = ["check_volume_sharing", "volume_sharing_step", "written_claims", "pods_at_once"]


def _pod_specs(manifest: Manifest) -> list[dict[str, Any]]:
    return [pod.spec for pod in pod_views(manifest.obj)]


def written_claims(pod_spec: dict[str, Any]) -> set[str]:
    """Claims that some container of the pod mounts writable."""
    claims = {}
    for volume in pod_spec.get("volumes") or []:
        source = volume.get("persistentVolumeClaim")
        if source and not source.get("readOnly"):
            claims[volume["name"]] = source["claimName"]
    written = set()
    for group in ("initContainers", "containers"):
        for container in pod_spec.get(group) or []:
            for mount in container.get("volumeMounts") or []:
                if mount.get("name") in claims and not mount.get("readOnly"):
                    written.add(claims[mount["name"]])
    return written


def pods_at_once(manifest: Manifest, items: list[Manifest]) -> int:
    """How many pods of the workload may run at the same time."""
    spec = manifest.obj.get("spec") or {}
    if manifest.kind == "Job":
        return int(spec.get("parallelism", 1))
    if manifest.kind == "CronJob":
        runs = 1 if spec.get("concurrencyPolicy", "Allow") != "Allow" else 2
        return runs * int(((spec.get("jobTemplate") or {}).get("spec") or {}).get("parallelism", 1))
    if manifest.kind == "JobSet":
        jobs = spec.get("replicatedJobs") or []
        return sum(int(job.get("replicas", 1)) * int(((job.get("template") or {}).get("spec") or {}).get("parallelism", 1)) for job in jobs)
    if manifest.kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        if "replicas" in spec:
            return int(spec["replicas"])
        scalers = [m for m in items if m.kind == "HorizontalPodAutoscaler" and m.namespace == manifest.namespace
                   and ((m.obj.get("spec") or {}).get("scaleTargetRef") or {}).get("name") == manifest.name]
        return max([int((m.obj.get("spec") or {}).get("maxReplicas", 1)) for m in scalers] or [1])
    return 1


def check_volume_sharing(manifests: Iterable[Manifest]) -> list[Problem]:
    """Problems for every single-writer claim written by a multi-pod workload or by more than one workload."""
    items = list(manifests)
    claims = {(m.namespace, m.name): m for m in items if m.kind == "PersistentVolumeClaim"}
    writers: dict[tuple[str, str], list[Manifest]] = defaultdict(list)
    for manifest in items:
        for claim in sorted(set().union(*(written_claims(spec) for spec in _pod_specs(manifest)))):
            writers[(manifest.namespace, claim)].append(manifest)
    problems: list[Problem] = []
    for key, users in writers.items():
        claim = claims.get(key)
        if claim is not None:
            problems += _single_writer(claim, users, items)
    return problems


def _single_writer(claim: Manifest, users: list[Manifest], items: list[Manifest]) -> Iterator[Problem]:
    modes = (claim.obj.get("spec") or {}).get("accessModes") or []
    if "ReadWriteMany" in modes:
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
    by_environment: dict[str, list[Manifest]] = defaultdict(list)
    for manifest in ctx.manifests:
        by_environment[manifest.environment].append(manifest)
    for manifests in by_environment.values():
        ctx.problems += check_volume_sharing(manifests)
