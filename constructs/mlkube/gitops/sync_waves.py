"""Argo CD sync waves by kind, so namespaces, quotas, volumes and config exist before workloads.

Wave 0 is Argo CD's default and is left implicit. An annotation set by a construct is kept. Volumes
and Namespaces (which hold volumes) get ``Prune=false,Delete=false``: neither removing them from Git
(prune) nor deleting the Application (cascade) deletes them, and deleting a Namespace would delete
every claim in it whatever the claim's own annotation says
(https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/,
https://argo-cd.readthedocs.io/en/stable/user-guide/sync-options/#no-prune-resources and #no-resource-deletion).
"""

from __future__ import annotations

from typing import Any

__all__ = ["SYNC_WAVE", "SYNC_OPTIONS", "WAVES", "KEEP", "RECREATE", "annotate"]

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
KEEP = "Prune=false,Delete=false"
#: A Job's pod template is immutable (so is a JobSet's replicatedJobs): a changed Job can only be deleted and
#: created again. Force=true,Replace=true makes Argo CD do exactly that on sync (kubectl replace --force), and
#: the Applications' ApplyOutOfSyncOnly=true limits it to Jobs that changed, so a sync of anything else never
#: restarts a running job. Chosen over content-derived names because pin and promote rewrite image values in
#: place after synth (a tag becomes a digest): a name hashed at synth could not follow, and the rewritten
#: template would hit "field is immutable" again.
#: https://argo-cd.readthedocs.io/en/stable/user-guide/sync-options/#replace-resource-instead-of-applying-changes
#: https://kubernetes.io/docs/concepts/workloads/controllers/job/#mutable-scheduling-directives (what stays mutable)
RECREATE = "Force=true,Replace=true"
_RECREATED = {"Job", "JobSet"}


def annotate(obj: dict[str, Any]) -> None:
    """Add the wave (and, for volumes, Prune=false) unless the object already says otherwise."""
    kind = str(obj.get("kind"))
    if str(obj.get("apiVersion", "")).startswith("argoproj.io/"):
        return
    wave = WAVES.get(kind)
    if wave is None and kind not in _NEVER_PRUNED and kind not in _RECREATED:
        return
    annotations = obj.setdefault("metadata", {}).setdefault("annotations", {})
    if wave is not None:
        annotations.setdefault(SYNC_WAVE, str(wave))
    if kind in _NEVER_PRUNED:
        annotations.setdefault(SYNC_OPTIONS, KEEP)
    if kind in _RECREATED:
        annotations.setdefault(SYNC_OPTIONS, RECREATE)
