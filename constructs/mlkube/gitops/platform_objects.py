"""What every namespace of an environment gets before its workloads: the guard rails.

Namespace (restricted Pod Security Standard enforced), a default-deny NetworkPolicy (DNS egress
allowed), a ResourceQuota, a LimitRange and optionally a Kueue LocalQueue. They are written into
the folder of the (first) app that uses the namespace, ``<out>/<environment>/<app>/``: one Argo CD
Application then applies them before the workloads, ordered by sync wave.
"""

from __future__ import annotations

from typing import Any

from ..core.network.model import peer_of, port_of
from ..core.network.workload import guard_rail_connections
from ..core.resources import GPU_RESOURCE
from ..kube.labels import standard_labels
from ..kube.manifest import Manifest

__all__ = ["namespace_objects", "platform_manifests", "local_queue"]
#: The Pod Security Standard version the labels pin; "latest" would change meaning on upgrades.
PSS_VERSION = "v1.34"


def _metadata(name: str, namespace: str | None, app: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"labels": standard_labels(name, "platform", app), "name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return metadata


def _namespace(namespace: str, app: str) -> dict[str, Any]:
    metadata = _metadata(namespace, None, app)
    for mode in ("enforce", "audit", "warn"):
        metadata["labels"][f"pod-security.kubernetes.io/{mode}"] = "restricted"
        metadata["labels"][f"pod-security.kubernetes.io/{mode}-version"] = PSS_VERSION
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def _network_policy(namespace: str, app: str, environment: Any) -> dict[str, Any]:
    """Deny everything, then admit the guard rail's declared connections (DNS, the environment's HTTPS CIDRs).

    No ingress rules: each workload's own policies admit exactly its declared connections (policies add up).
    """
    egress: list[dict[str, Any]] = []
    for connection in guard_rail_connections(namespace, environment):
        rule = {"ports": [port_of(port) for port in connection.ports], "to": [peer_of(connection.destination, namespace)]}
        same_ports = next((r for r in egress if r["ports"] == rule["ports"]), None)
        if same_ports is not None:
            same_ports["to"] += rule["to"]  # one rule per port set: DNS peers together, HTTPS blocks together
        else:
            egress.append(rule)
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": _metadata("default-deny", namespace, app),
            "spec": {"egress": egress, "podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}


def _resource_quota(namespace: str, app: str, environment: Any) -> dict[str, Any]:
    quota = environment.quota
    hard: dict[str, Any] = {"limits.cpu": quota.cpu, "limits.memory": quota.memory, "requests.cpu": quota.cpu,
                            "requests.memory": quota.memory, f"requests.{GPU_RESOURCE}": str(quota.gpus)}
    if quota.pods is not None:
        hard["pods"] = str(quota.pods)
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": _metadata("compute", namespace, app), "spec": {"hard": hard}}


def _limit_range(namespace: str, app: str, environment: Any) -> dict[str, Any]:
    limits = environment.limits
    item = {"default": {"cpu": limits.default_cpu_limit, "memory": limits.default_memory_limit},
            "defaultRequest": {"cpu": limits.default_cpu_request, "memory": limits.default_memory_request}, "type": "Container"}
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": _metadata("defaults", namespace, app), "spec": {"limits": [item]}}


def local_queue(namespace: str, app: str, cluster_queue: str, name: str = "default") -> dict[str, Any]:
    """A Kueue LocalQueue. v1beta1 is served by every Kueue release (v1beta2 arrives in 0.15, v1beta1 deprecated in 0.16:
    kubernetes-sigs/kueue config/components/crd/bases/kueue.x-k8s.io_localqueues.yaml at each tag)."""
    return {"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "LocalQueue", "metadata": _metadata(name, namespace, app),
            "spec": {"clusterQueue": cluster_queue}}


def namespace_objects(namespace: str, app: str, environment: Any) -> list[dict[str, Any]]:
    """The platform objects of one namespace, in apply order."""
    objects = [_namespace(namespace, app), _resource_quota(namespace, app, environment), _limit_range(namespace, app, environment),
               _network_policy(namespace, app, environment)]
    if environment.kueue_cluster_queue:
        objects.append(local_queue(namespace, app, environment.kueue_cluster_queue))
    return objects


def platform_manifests(environment: Any, apps: list[str]) -> list[Manifest]:
    """Platform objects for every namespace the environment's apps use (one set per namespace)."""
    manifests: list[Manifest] = []
    seen: set[str] = set()
    for app in apps:
        namespace = environment.namespace_for(app)
        if namespace in seen:
            continue
        seen.add(namespace)
        where = f"{environment.name}/{app}/namespace:{namespace}"
        manifests += [Manifest(obj, where, environment.name, app) for obj in namespace_objects(namespace, app, environment)]
    return manifests
