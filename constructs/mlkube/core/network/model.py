"""Traffic as data: the connections a workload needs, declared by the construct that builds it.

A connection goes from a set of senders to a set of receivers on some ports, for a reason. Both
sides are endpoints: pods (by namespace and labels; no labels means every pod of the namespace) or
addresses (a CIDR block). NetworkPolicies are written from these declarations, and the synth check
(traffic/check.py) proves with the evaluator that each one is allowed in both directions.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ...kube.network_policy import NAMESPACE_NAME_LABEL, External, Pod
from ..spec import Spec

__all__ = ["Endpoint", "PortRange", "Connection", "EgressRule", "ALL_TCP", "DNS_PORTS", "HTTPS", "dns_endpoints",
           "peer_of", "port_of", "egress_connections"]

Protocol = Literal["TCP", "UDP", "SCTP"]


@dataclass(frozen=True)
class Endpoint:
    """Pods (``namespace`` and ``pod_labels``; None labels: every pod of the namespace) or a CIDR block."""

    namespace: str | None = None
    pod_labels: tuple[tuple[str, str], ...] | None = None
    cidr: str | None = None
    except_cidrs: tuple[str, ...] = ()
    name: str = ""

    @classmethod
    def pods(cls, namespace: str, labels: Mapping[str, str] | None = None, name: str = "") -> Endpoint:
        # No labels and empty labels both mean every pod of the namespace.
        return cls(namespace=namespace, pod_labels=tuple(sorted(labels.items())) if labels else None, name=name)

    @classmethod
    def block(cls, cidr: str, except_cidrs: tuple[str, ...] | list[str] = (), name: str = "") -> Endpoint:
        return cls(cidr=cidr, except_cidrs=tuple(except_cidrs), name=name)

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.pod_labels or ())

    @property
    def any_pod(self) -> bool:
        return self.cidr is None and self.pod_labels is None

    def describe(self) -> str:
        if self.name:
            return self.name
        if self.cidr is not None:
            return self.cidr + (f" except {', '.join(self.except_cidrs)}" if self.except_cidrs else "")
        return f"any pod of {self.namespace}" if self.any_pod else f"pods {self.labels} of {self.namespace}"

    def contains(self, endpoint: Pod | External) -> bool:
        """Whether a concrete pod or address is one of this endpoint's."""
        if self.cidr is not None:
            if not isinstance(endpoint, External):
                return False
            address = ipaddress.ip_address(endpoint.ip)
            network = ipaddress.ip_network(self.cidr, strict=False)
            return address.version == network.version and address in network and \
                not any(address in ipaddress.ip_network(e, strict=False) for e in self.except_cidrs)
        return isinstance(endpoint, Pod) and endpoint.namespace == self.namespace and \
            all(endpoint.labels.get(key) == value for key, value in self.pod_labels or ())


@dataclass(frozen=True)
class PortRange:
    """A port (``port`` None: every port of the protocol)."""

    port: int | None
    protocol: str = "TCP"

    def describe(self) -> str:
        return f"{self.port if self.port is not None else 'all'}/{self.protocol}"

    def contains(self, port: int, protocol: str) -> bool:
        return protocol == self.protocol and (self.port is None or self.port == port)


ALL_TCP = (PortRange(None, "TCP"),)
# Clusters resolve names with kube-dns/CoreDNS on UDP and TCP 53 (TCP for large answers).
DNS_PORTS = (PortRange(53, "UDP"), PortRange(53, "TCP"))
HTTPS = (PortRange(443, "TCP"),)


def dns_endpoints(network: Any = None) -> list[Endpoint]:
    """The cluster DNS: pods (default kube-system/k8s-app=kube-dns, CoreDNS's label on kubeadm, EKS, GKE and
    AKS) and any node-local addresses the environment's ``network`` names."""
    namespace = getattr(network, "dns_namespace", "kube-system")
    labels = getattr(network, "dns_pod_labels", {"k8s-app": "kube-dns"})
    name = f"{namespace}/" + ",".join(f"{k}={v}" for k, v in sorted(labels.items())) if labels != {"k8s-app": "kube-dns"} else f"{namespace}/kube-dns"
    endpoints = [Endpoint.pods(namespace, labels, name=name)]
    endpoints += [Endpoint.block(cidr, name=f"{cidr} (DNS)") for cidr in getattr(network, "dns_cidrs", [])]
    return endpoints


@dataclass(frozen=True)
class Connection:
    """Senders may open connections to receivers on these ports, for a reason; ``declared_by`` is a construct path."""

    source: Endpoint
    destination: Endpoint
    ports: tuple[PortRange, ...]
    reason: str
    declared_by: str = ""

    def describe(self) -> str:
        ports = ", ".join(p.describe() for p in self.ports)
        return f"{self.source.describe()} -> {self.destination.describe()} on {ports} ({self.reason})"

    def covers(self, source: Pod | External, destination: Pod | External, port: int, protocol: str) -> bool:
        return self.source.contains(source) and self.destination.contains(destination) and \
            any(p.contains(port, protocol) for p in self.ports)


# -- NetworkPolicy pieces from endpoints -----------------------------------------------------------------

def peer_of(endpoint: Endpoint, policy_namespace: str) -> dict[str, Any]:
    """The NetworkPolicyPeer that selects ``endpoint`` from a policy in ``policy_namespace``."""
    if endpoint.cidr is not None:
        block: dict[str, Any] = {"cidr": endpoint.cidr}
        if endpoint.except_cidrs:
            block["except"] = list(endpoint.except_cidrs)
        return {"ipBlock": block}
    pods = {"matchLabels": endpoint.labels} if endpoint.pod_labels else {}
    if endpoint.namespace == policy_namespace:
        return {"podSelector": pods}
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: endpoint.namespace}}, "podSelector": pods}


def port_of(port: PortRange) -> dict[str, Any]:
    """A NetworkPolicyPort; without a number it admits every port of the protocol."""
    return {"port": port.port, "protocol": port.protocol} if port.port is not None else {"protocol": port.protocol}


class EgressRule(Spec):
    """Somewhere the pods may connect to: addresses (``cidrs``) or pods of the cluster (``namespace``/``pod_labels``)."""

    cidrs: list[str] = Field(default_factory=list, description="Address blocks, e.g. the storage endpoint's ['52.216.0.0/15'] or ['0.0.0.0/0'] for anywhere. Default: none (then namespace or pod_labels).")
    except_cidrs: list[str] = Field(default_factory=list, description="Blocks inside cidrs that stay denied, e.g. the cluster's pod network. Default: none.")
    namespace: str | None = Field(default=None, description="Namespace of in-cluster receivers (e.g. a MinIO). Default: the workload's own namespace when pod_labels are set.")
    pod_labels: dict[str, str] | None = Field(default=None, description="Labels of in-cluster receivers. Default: every pod of 'namespace'.")
    ports: list[int] = Field(default_factory=lambda: [443], description="Ports of the receivers. Default: [443] (HTTPS).")
    protocol: Protocol = Field(default="TCP", description="Protocol of the ports. Default: TCP.")
    reason: str = Field(default="declared egress", description="Why the pods connect there, shown by the connectivity check. Default: 'declared egress'.")

    @field_validator("cidrs", "except_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is not a CIDR block such as '10.0.0.0/8' or '2001:db8::/32'") from None
        return value

    @field_validator("ports")
    @classmethod
    def _ports(cls, value: list[int]) -> list[int]:
        bad = [port for port in value if not 1 <= port <= 65535]
        if bad or not value:
            raise ValueError(f"ports must be 1 to 65535 and at least one (got {value})")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> EgressRule:
        in_cluster = self.namespace is not None or self.pod_labels is not None
        if bool(self.cidrs) == in_cluster:
            raise ValueError("set either 'cidrs' (addresses) or 'namespace'/'pod_labels' (pods of the cluster), not both or neither")
        if self.except_cidrs and not self.cidrs:
            raise ValueError("'except_cidrs' needs 'cidrs'")
        return self

    def endpoints(self, own_namespace: str) -> list[Endpoint]:
        if self.cidrs:
            return [Endpoint.block(cidr, self.except_cidrs) for cidr in self.cidrs]
        return [Endpoint.pods(self.namespace or own_namespace, self.pod_labels)]


def egress_connections(source: Endpoint, rules: list[EgressRule], own_namespace: str, declared_by: str,
                       reason: str | None = None) -> list[Connection]:
    """One connection per receiver of each rule."""
    connections = []
    for rule in rules:
        ports = tuple(PortRange(port, rule.protocol) for port in rule.ports)
        for endpoint in rule.endpoints(own_namespace):
            connections.append(Connection(source, endpoint, ports, reason or rule.reason, declared_by))
    return connections
