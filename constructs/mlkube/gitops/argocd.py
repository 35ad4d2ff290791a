"""Argo CD objects per environment: an AppProject, and an Application per output folder (or an ApplicationSet).

Written to ``<out>/<environment>/_argocd/``: the folder an operator applies once (or that a root
Application syncs); everything else flows from Git through it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..core.gitops_settings import GitOps
from ..kube.manifest import Manifest
from .controller_fields import ignore_differences

__all__ = ["ARGOCD_FOLDER", "SYNC_OPTIONS", "argocd_manifests", "destination"]

ARGOCD_FOLDER = "_argocd"
#: We emit Namespaces ourselves; server-side apply merges with controllers' fields; prune after the rest synced;
#: a sync touches only objects that differ, so a Job marked Force=true,Replace=true (sync_waves.RECREATE) is
#: re-created only when it changed (https://argo-cd.readthedocs.io/en/stable/user-guide/sync-options/#selective-sync).
SYNC_OPTIONS = ["CreateNamespace=false", "ServerSideApply=true", "PruneLast=true", "ApplyOutOfSyncOnly=true"]
_API = "argoproj.io/v1alpha1"
#: Deleting an Application deletes its objects (foreground cascade), except those marked Delete=false:
#: the Namespace and every claim (sync_waves.py, checkpoint_volume.py), so removing an app stops its
#: workloads (no GPU keeps running unmanaged) and keeps its data. Without the finalizer Argo CD would
#: orphan everything, the running jobs included. https://argo-cd.readthedocs.io/en/stable/user-guide/app_deletion/,
#: https://argo-cd.readthedocs.io/en/stable/user-guide/sync-options/#no-resource-deletion
_FINALIZER = "resources-finalizer.argocd.argoproj.io"


def destination(cluster: str, namespace: str | None = None) -> dict[str, str]:
    """An Argo CD destination: a URL is a server, anything else a cluster name."""
    result = {"server": cluster} if cluster.startswith("https://") else {"name": cluster}
    if namespace:
        result["namespace"] = namespace
    return result


def _metadata(name: str, gitops: GitOps, environment: Any, extra_annotations: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"labels": {"app.kubernetes.io/managed-by": "mlkube", "mlkube.dev/environment": environment.name},
                                "name": name, "namespace": gitops.argocd_namespace}
    if extra_annotations:
        metadata["annotations"] = extra_annotations
    return metadata


def _project(environment: Any, gitops: GitOps, manifests: list[Manifest], platform_tenancy: Any = None) -> dict[str, Any]:
    """Allow-lists from what the platform declares (its apps' namespaces, its kinds), not from the output:
    an object outside them is a synth error (gitops/tenancy_checks.py) and Argo CD would refuse it too."""
    apps = {m.app for m in manifests if not m.app.startswith("_")}
    namespaces = sorted({environment.namespace_for(app) for app in apps})
    clusters = environment.clusters or [environment.cluster]
    tenancy = platform_tenancy or gitops.tenancy
    return {"apiVersion": _API, "kind": "AppProject", "metadata": _metadata(environment.name, gitops, environment), "spec": {
        "clusterResourceWhitelist": [{"group": group, "kind": kind} for group, kind in tenancy.cluster_kinds()],
        "description": f"mlkube environment {environment.name}" + (" (production)" if environment.production else ""),
        "destinations": [destination(cluster, namespace) for cluster in clusters for namespace in namespaces],
        "namespaceResourceWhitelist": [{"group": group, "kind": kind} for group, kind in tenancy.namespaced_kinds(environment.operators)],
        "sourceRepos": [gitops.repo_url],
    }}


def _sync_policy(environment: Any) -> dict[str, Any]:
    policy: dict[str, Any] = {"syncOptions": list(SYNC_OPTIONS)}
    if environment.automated_sync:
        policy["automated"] = {"prune": environment.sync.prune, "selfHeal": environment.sync.self_heal}
    return policy


def _app_spec(environment: Any, gitops: GitOps, folder: str, target: dict[str, str], manifests: list[Manifest]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "destination": target,
        "project": environment.name,
        "source": {"path": f"{gitops.path}/{environment.name}/{folder}", "repoURL": gitops.repo_url, "targetRevision": gitops.target_revision},
        "syncPolicy": _sync_policy(environment),
    }
    ignore = ignore_differences(manifests)
    if ignore:
        spec["ignoreDifferences"] = ignore
        # Without it a sync would still apply the ignored field and fight the autoscaler.
        spec["syncPolicy"]["syncOptions"].append("RespectIgnoreDifferences=true")
    return spec


def _folders(environment: Any, manifests: list[Manifest]) -> dict[str, list[Manifest]]:
    by_folder: dict[str, list[Manifest]] = defaultdict(list)
    for manifest in manifests:
        by_folder[manifest.app].append(manifest)
    return dict(sorted(by_folder.items()))


def _applications(environment: Any, gitops: GitOps, folders: dict[str, list[Manifest]]) -> list[dict[str, Any]]:
    return [{"apiVersion": _API, "kind": "Application",
             "metadata": {**_metadata(f"{environment.name}-{folder}", gitops, environment), "finalizers": [_FINALIZER]},
             "spec": _app_spec(environment, gitops, folder, destination(environment.cluster, environment.namespace_for(folder)), manifests)}
            for folder, manifests in folders.items()]


def _application_set(environment: Any, gitops: GitOps, folders: dict[str, list[Manifest]]) -> dict[str, Any]:
    """One app per folder × cluster: a list generator of folders crossed with Argo CD's cluster generator."""
    elements = [{"folder": folder, "namespace": environment.namespace_for(folder)} for folder in folders]
    clusters = {"clusters": {"selector": {"matchExpressions": [{"key": gitops.cluster_label, "operator": "In", "values": list(environment.clusters)}]}}}
    ignore = [item for manifests in folders.values() for item in ignore_differences(manifests)]
    spec = _app_spec(environment, gitops, "{{folder}}", {"namespace": "{{namespace}}", "server": "{{server}}"}, [])
    if ignore:
        spec["ignoreDifferences"] = ignore
        spec["syncPolicy"]["syncOptions"].append("RespectIgnoreDifferences=true")
    return {"apiVersion": _API, "kind": "ApplicationSet", "metadata": _metadata(environment.name, gitops, environment), "spec": {
        "generators": [{"matrix": {"generators": [{"list": {"elements": elements}}, clusters]}}],
        "syncPolicy": {"preserveResourcesOnDeletion": True},
        "template": {"metadata": {"finalizers": [_FINALIZER], "labels": {"mlkube.dev/environment": environment.name},
                                  "name": f"{environment.name}-{{{{folder}}}}-{{{{nameNormalized}}}}"},
                     "spec": spec},
    }}


def argocd_manifests(environment: Any, gitops: GitOps, manifests: list[Manifest], tenancy: Any = None) -> list[Manifest]:
    """The Argo CD objects of one environment, given every other object of it."""
    # Folders starting with '_' (_platform: Kueue's cluster objects) are the platform team's: no app Application syncs them.
    folders = _folders(environment, [m for m in manifests if not m.app.startswith("_")])
    objects = [_project(environment, gitops, manifests, tenancy)]
    objects += [_application_set(environment, gitops, folders)] if environment.clusters else _applications(environment, gitops, folders)
    where = f"{environment.name}/{ARGOCD_FOLDER}"
    return [Manifest(obj, f"{where}/{obj['kind']}/{obj['metadata']['name']}", environment.name, ARGOCD_FOLDER) for obj in objects]
