"""CHECK: pvc:// models served from snapshot versions (CheckpointVolume.model_uri(path, version=...)).

Production (and ``require_pinned_images``) environments serve a model on a claim only when the claim is restored from a
VolumeSnapshot (its content cannot change after review), and a version is served only once its snapshot exists.
"""

from __future__ import annotations

import os
from typing import Any

from ..core.checkpoint_volume import RESTORED_FROM_ANNOTATION, SNAPSHOT_API_VERSION
from ..core.pipeline import independent_check
from ..errors import Problem
from ..kube.render import file_name
from .fields import mappings
from .synth_steps import ALLOW_UNPINNED_ENV

__all__ = ["served_snapshots"]


def _model_claims(obj: dict[str, Any]) -> list[tuple[str, str]]:
    """(field path, claim) of the model volumes of an object: a pod volume named 'model' on a claim (the kubernetes
    backend), or a KServe ``storageUri: pvc://<claim>/...``."""
    found = []
    for where, mapping in mappings(obj):
        source = mapping.get("persistentVolumeClaim")
        if mapping.get("name") == "model" and isinstance(source, dict) and isinstance(source.get("claimName"), str):
            found.append((f"{where}.persistentVolumeClaim.claimName", source["claimName"]))
        uri = mapping.get("storageUri")
        if isinstance(uri, str) and uri.startswith("pvc://"):
            found.append((f"{where}.storageUri", uri[len("pvc://"):].split("/", 1)[0]))
    return found


@independent_check  # needs no per-object result of the cache: it runs while the pinned-model check waits for them
def served_snapshots(ctx: Any) -> None:
    """CHECK: production serves pvc:// models only from claims restored from a snapshot version, and a version is served
    only once its VolumeSnapshot exists (it is in the output being replaced).

    Argo CD waits for each sync wave's claims to be healthy, and a claim restored from a snapshot stays Pending until the
    snapshot exists (argoproj/gitops-engine pkg/health/health_pvc.go): the snapshot's wave (1) comes after the server's,
    so a version taken and served in one change would never sync.
    """
    required = {env.name for env in ctx.platform.environments if env.require_pinned_images or env.production}
    allowed = os.environ.get(ALLOW_UNPINNED_ENV) == "1"
    restored: dict[tuple[str, str, str], Any] = {}
    for manifest in ctx.manifests:
        annotations = (manifest.obj.get("metadata") or {}).get("annotations") or {}
        if manifest.kind == "PersistentVolumeClaim" and RESTORED_FROM_ANNOTATION in annotations:
            restored[(manifest.environment, manifest.namespace, manifest.name)] = manifest
            snapshot = {**manifest.obj, "apiVersion": SNAPSHOT_API_VERSION, "kind": "VolumeSnapshot"}
            folder = ctx.out_dir / manifest.environment
            if folder.is_dir() and not (folder / manifest.app / file_name(snapshot)).exists():
                ctx.problems.append(Problem(manifest.where, "model", f"claim {manifest.name} is restored from VolumeSnapshot "
                                            f"{annotations[RESTORED_FROM_ANNOTATION]}, which this change takes: Argo CD would wait "
                                            "for the claim before the snapshot exists", "serve the version in a later change, once "
                                            "the snapshot is taken (synced)"))
    for manifest in ctx.manifests:
        if manifest.environment not in required:
            continue
        seen: set[str] = set()
        for path, claim in _model_claims(manifest.obj):
            if (manifest.environment, manifest.namespace, claim) in restored or claim in seen:
                continue  # restored from a snapshot, or already named (a LeaderWorkerSet's leader and workers share it)
            seen.add(claim)
            text = (f"{manifest.describe()}: model on claim {claim!r} can change after review (whatever writes the volume "
                    f"changes the weights), and environment {manifest.environment!r} requires pinned models")
            hint = ("serve a snapshot version: CheckpointVolume(..., snapshot={'versions': ['v1']}), then "
                    "model=volume.model_uri(path, version='v1') in a later change")
            if allowed:
                ctx.warnings.append(f"{manifest.where}: {text} ({ALLOW_UNPINNED_ENV}=1)")
            else:
                ctx.problems.append(Problem(manifest.where, path, text, hint))
