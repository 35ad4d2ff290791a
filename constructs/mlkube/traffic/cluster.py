"""A cluster's traffic view from manifests: its NetworkPolicies, namespace labels and pods.

Used by the synth check (declared connections) and by ``mlkube validate --connectivity``
(the matrix of a folder of hand-written manifests).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..kube.manifest import Manifest
from ..kube.network_policy import Cluster, Pod, Policy
from ..policy.pods import pod_views

__all__ = ["TrafficView", "traffic_view", "KSERVE_DEFAULT_PORT"]

#: KServe's model container listens on 8080 unless its runtime says otherwise
#: (kserve/kserve pkg/constants/constants.go InferenceServiceDefaultHttpPort = "8080"). Its pods carry
#: ``serving.kserve.io/inferenceservice: <name>`` (InferenceServicePodLabelKey), which policy/pods.py adds.
KSERVE_DEFAULT_PORT = 8080


@dataclass
class TrafficView:
    cluster: Cluster
    #: One pod per pod template (a Deployment's replicas, a Job's ranks share one), in manifest order.
    pods: list[Pod]
    #: Ports each pod template listens on (container ports, the Services' target ports), for the matrix.
    listening: dict[Pod, list[tuple[int, str]]]

    def __post_init__(self) -> None:
        self.by_namespace: dict[str, list[Pod]] = {}
        for pod in self.pods:
            self.by_namespace.setdefault(pod.namespace, []).append(pod)


def _namespace(manifest: Manifest) -> str:
    return manifest.namespace or "default"


def traffic_view(manifests: Iterable[Manifest]) -> TrafficView:
    items = list(manifests)
    policies = [Policy.from_object(m.obj, m.where) for m in items if m.kind == "NetworkPolicy"]
    namespaces = {m.name: {str(k): str(v) for k, v in ((m.obj.get("metadata") or {}).get("labels") or {}).items()}
                  for m in items if m.kind == "Namespace"}
    pods: list[Pod] = []
    listening: dict[Pod, list[tuple[int, str]]] = {}
    for manifest in items:
        for view in pod_views(manifest.obj):
            named: list[tuple[str, int, str]] = []
            ports: list[tuple[int, str]] = []
            for group in ("initContainers", "containers"):
                for container in view.spec.get(group) or []:
                    for port in (container or {}).get("ports") or []:
                        number, protocol = port.get("containerPort"), str(port.get("protocol") or "TCP")
                        if isinstance(number, int):
                            ports.append((number, protocol))
                            if port.get("name"):
                                named.append((str(port["name"]), number, protocol))
            if manifest.kind == "InferenceService" and not ports:
                ports.append((KSERVE_DEFAULT_PORT, "TCP"))
            pod = Pod(_namespace(manifest), view.labels, f"{_namespace(manifest)}/{manifest.kind}/{manifest.name}", tuple(named))
            pods.append(pod)
            listening[pod] = sorted(set(ports))
    return TrafficView(Cluster(policies, namespaces), pods, listening)
