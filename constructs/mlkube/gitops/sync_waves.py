"""Argo CD sync waves by kind, so namespaces, quotas, volumes and config exist before workloads.

Wave 0 is Argo CD's default and is left implicit. An annotation set by a construct is kept. Volumes
and Namespaces (which hold volumes) get ``Prune=false``: removing them from Git must never delete data.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SYNC_WAVE", "SYNC_OPTIONS", "WAVES", "annotate"]

SYNC_WAVE = "argocd.argoproj.io/sync-wave"
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
WAVES: dict[str, int] = {
    # Kueue's cluster objects first: a ClusterQueue names its flavors, a LocalQueue its ClusterQueue.
    "ResourceFlavor": -5, "ClusterQueue": -4, "WorkloadPriorityClass": -4,
    "Namespace": -3,
    "ResourceQuota": -2, "LimitRange": -2, "NetworkPolicy": -2, "LocalQueue": -2,
    "PersistentVolumeClaim": -1, "ConfigMap": -1, "Secret": -1, "ServiceAccount": -1,
}
_NEVER_PRUNED = {"PersistentVolumeClaim", "Namespace"}


def annotate(obj: dict[str, Any]) -> None:
    """Add the wave (and, for volumes, Prune=false) unless the object already says otherwise."""
    kind = str(obj.get("kind"))
    if str(obj.get("apiVersion", "")).startswith("argoproj.io/"):
        return
    wave = WAVES.get(kind)
    if wave is None and kind not in _NEVER_PRUNED:
        return
    annotations = obj.setdefault("metadata", {}).setdefault("annotations", {})
    if wave is not None:
        annotations.setdefault(SYNC_WAVE, str(wave))
    if kind in _NEVER_PRUNED:
        annotations.setdefault(SYNC_OPTIONS, "Prune=false")
