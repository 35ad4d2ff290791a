"""A NetworkPolicy evaluator: would a packet from one endpoint to another, on a port, be allowed?

It encodes the networking.k8s.io/v1 NetworkPolicy semantics as the API reference and the concepts
page state them:
https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/
https://kubernetes.io/docs/concepts/services-networking/network-policies/

- A connection needs the sender's egress AND the receiver's ingress ("for a connection from a
  source pod to a destination pod to be allowed, both the egress policy on the source pod and the
  ingress policy on the destination pod need to allow the connection", concepts page).
- A pod is isolated for a direction when at least one policy of its namespace selects it
  (``spec.podSelector``) and has that direction in its ``policyTypes``; a pod no policy isolates is
  allowed in that direction. Policies add up: traffic is allowed when any rule of any policy that
  selects the pod admits it (the union; order does not matter).
- ``policyTypes`` unset: "Ingress" always, plus "Egress" when the policy has egress rules
  (kubernetes/kubernetes pkg/apis/networking/v1/defaults.go ``SetDefaults_NetworkPolicy``).
- A rule with no ``from``/``to`` (or an empty list) matches every peer; no ``ports`` matches every
  port. A peer with ``podSelector`` only selects pods of the policy's namespace; with
  ``namespaceSelector`` only, every pod of the selected namespaces; with both, the pods that match
  the pod selector in the selected namespaces. An empty selector selects everything.
- ``ipBlock`` (with ``except``) matches addresses; pod IPs are ephemeral, so the reference says to
  use it for cluster-external addresses: here it never matches a pod.
- A port: ``protocol`` defaults to TCP; no ``port`` means every port of that protocol; a named port
  is the destination pod's container port of that name and protocol; ``endPort`` makes a range
  ``port..endPort`` (numbered ports only).
- Traffic to and from the node a pod runs on (kubelet probes) is always allowed (concepts page):
  not modelled here, as nothing in a manifest depends on it.

Namespaces carry the automatic label ``kubernetes.io/metadata.name`` (set by the API server since
1.21, https://kubernetes.io/docs/reference/labels-annotations-taints/#kubernetes-io-metadata-name).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .selectors import selects

__all__ = ["Pod", "External", "Endpoint", "Policy", "Cluster", "Verdict", "Block", "NAMESPACE_NAME_LABEL"]

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
Direction = Literal["Ingress", "Egress"]


@dataclass(frozen=True)
class Pod:
    """A pod (or every pod of one template): where it runs, its labels, its named container ports."""

    namespace: str
    labels: Mapping[str, str]
    name: str = ""
    #: Named container ports: (name, port, protocol).
    ports: tuple[tuple[str, int, str], ...] = ()

    def __hash__(self) -> int:
        # Computed once: the evaluator's caches look pods up thousands of times (labels are not changed after creation).
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = self.__dict__["_hash"] = hash((self.namespace, tuple(sorted(self.labels.items())), self.name, self.ports))
        return cached

    def __getstate__(self) -> dict[str, Any]:
        # The cached hash is of this process (string hashes are salted per process): never carried to another.
        return {key: value for key, value in self.__dict__.items() if key != "_hash"}

    def describe(self) -> str:
        return self.name or f"{self.namespace}/pod{dict(sorted(self.labels.items()))}"


@dataclass(frozen=True)
class External:
    """An address outside the cluster's pods (the internet, a storage endpoint)."""

    ip: str
    name: str = ""

    def describe(self) -> str:
        return self.name or self.ip


Endpoint = Pod | External


@dataclass(frozen=True)
class Policy:
    """A NetworkPolicy object: its namespace, name, spec, and where it came from (for messages)."""

    namespace: str
    name: str
    spec: Mapping[str, Any]
    where: str = ""

    @classmethod
    def from_object(cls, obj: Mapping[str, Any], where: str = "") -> Policy:
        metadata = obj.get("metadata") or {}
        return cls(str(metadata.get("namespace") or "default"), str(metadata.get("name", "")), obj.get("spec") or {}, where)

    @property
    def types(self) -> tuple[str, ...]:
        explicit = self.spec.get("policyTypes")
        if explicit:
            return tuple(explicit)
        return ("Ingress", "Egress") if self.spec.get("egress") else ("Ingress",)

    def describe(self) -> str:
        return f"NetworkPolicy {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Block:
    """Why a direction is denied: the endpoint isolated, and the policies that isolate it (none admits)."""

    direction: Direction
    endpoint: Endpoint
    policies: tuple[Policy, ...]

    def describe(self) -> str:
        names = ", ".join(p.describe() for p in self.policies)
        side = "egress of the sender" if self.direction == "Egress" else "ingress of the receiver"
        return f"{side} {self.endpoint.describe()} is denied: it is selected by {names}, and no {self.direction.lower()} rule of them admits it"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    blocks: tuple[Block, ...] = field(default_factory=tuple)


class Cluster:
    """The policies and namespace labels of one cluster; answers reachability questions."""

    def __init__(self, policies: Iterable[Policy], namespace_labels: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.policies = list(policies)
        self._namespace_labels = {name: dict(labels) for name, labels in (namespace_labels or {}).items()}
        self._by_namespace: dict[str, list[Policy]] = {}
        self._isolating: dict[tuple[Pod, str], list[Policy]] = {}
        self._labels_of_namespace: dict[str, dict[str, str]] = {}
        # (id of a rule's peer list, endpoint, namespace) -> (the list, whether a peer matches): a check asks the same
        # question for every port and every pair it tries. The list is kept, so that its id names it while cached.
        self._peers_matched: dict[tuple[int, Endpoint, str], tuple[object, bool]] = {}
        for policy in self.policies:
            self._by_namespace.setdefault(policy.namespace, []).append(policy)

    @property
    def namespaces(self) -> list[str]:
        """Namespaces whose labels were given (from Namespace objects)."""
        return sorted(self._namespace_labels)

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        return {**self._namespace_labels.get(namespace, {}), NAMESPACE_NAME_LABEL: namespace}

    def isolating(self, pod: Pod, direction: Direction) -> list[Policy]:
        """The policies that select ``pod`` for ``direction`` (empty: the pod is not isolated)."""
        key = (pod, direction)
        found = self._isolating.get(key)
        if found is None:
            found = self._isolating[key] = [p for p in self._by_namespace.get(pod.namespace, [])
                                            if direction in p.types and selects(p.spec.get("podSelector") or {}, pod.labels)]
        return found

    def check(self, source: Endpoint, destination: Endpoint, port: int, protocol: str = "TCP") -> Verdict:
        """Whether ``source`` may open a connection to ``destination`` on ``port``/``protocol``."""
        blocks: list[Block] = []
        if isinstance(source, Pod):
            block = self._direction(source, "Egress", peer=destination, destination=destination, port=port, protocol=protocol)
            if block:
                blocks.append(block)
        if isinstance(destination, Pod):
            block = self._direction(destination, "Ingress", peer=source, destination=destination, port=port, protocol=protocol)
            if block:
                blocks.append(block)
        return Verdict(not blocks, tuple(blocks))

    # -- one direction ------------------------------------------------------------------------------

    def _direction(self, pod: Pod, direction: Direction, *, peer: Endpoint, destination: Endpoint, port: int, protocol: str) -> Block | None:
        policies = self.isolating(pod, direction)
        if not policies:
            return None
        key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        for policy in policies:
            for rule in policy.spec.get(key) or []:
                rule = rule or {}
                if self._peers_match(rule.get(peers_key), peer, policy.namespace) and \
                        _ports_match(rule.get("ports"), destination, port, protocol):
                    return None
        return Block(direction, pod, tuple(policies))

    def _peers_match(self, peers: list[dict[str, Any]] | None, endpoint: Endpoint, policy_namespace: str) -> bool:
        if not peers:
            return True  # "If this field is empty or missing, this rule matches all sources/destinations"
        key = (id(peers), endpoint, policy_namespace)
        known = self._peers_matched.get(key)
        if known is None:
            known = self._peers_matched[key] = (peers, any(self._peer_matches(peer or {}, endpoint, policy_namespace) for peer in peers))
        return known[1]

    def _peer_matches(self, peer: Mapping[str, Any], endpoint: Endpoint, policy_namespace: str) -> bool:
        block = peer.get("ipBlock")
        if block is not None:
            return isinstance(endpoint, External) and _in_block(endpoint.ip, block)
        if not isinstance(endpoint, Pod):
            return False
        pod_selector, namespace_selector = peer.get("podSelector"), peer.get("namespaceSelector")
        if pod_selector is None and namespace_selector is None:
            return False  # the API server refuses an empty peer
        if namespace_selector is None:
            in_namespace = endpoint.namespace == policy_namespace
        else:
            labels = self._labels_of_namespace.get(endpoint.namespace)
            if labels is None:
                labels = self._labels_of_namespace[endpoint.namespace] = self.namespace_labels(endpoint.namespace)
            in_namespace = selects(namespace_selector, labels)
        return in_namespace and (pod_selector is None or selects(pod_selector, endpoint.labels))


def _in_block(ip: str, block: Mapping[str, Any]) -> bool:
    address = _ip_address(ip)
    try:
        network = _ip_network(str(block.get("cidr")))
    except ValueError:
        return False
    if address.version != network.version or address not in network:
        return False
    for excluded in block.get("except") or []:
        try:
            if address in _ip_network(str(excluded)):
                return False
        except ValueError:
            continue
    return True


# Parsed once per distinct text: the same few blocks and addresses are asked about for every pod and port.
_ip_address = functools.lru_cache(maxsize=1024)(ipaddress.ip_address)


@functools.lru_cache(maxsize=1024)
def _ip_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text, strict=False)


def _ports_match(ports: list[dict[str, Any]] | None, destination: Endpoint, port: int, protocol: str) -> bool:
    if not ports:
        return True  # "If this field is empty or missing, this rule matches all ports"
    for item in ports:  # noqa: SIM110 (a loop, not any() over a generator: asked for every check)
        if _port_matches(item or {}, destination, port, protocol):
            return True
    return False


def _port_matches(item: Mapping[str, Any], destination: Endpoint, port: int, protocol: str) -> bool:
    if str(item.get("protocol") or "TCP") != protocol:
        return False
    wanted = item.get("port")
    if wanted is None:
        return True  # "If this field is not provided, this matches all port names and numbers"
    if isinstance(wanted, str) and not wanted.isdigit():
        # A named port is resolved on the destination pod's containers, with the same protocol.
        return isinstance(destination, Pod) and any(name == wanted and number == port and proto == protocol
                                                     for name, number, proto in destination.ports)
    low = int(wanted)
    high = item.get("endPort")
    return low <= port <= int(high) if high is not None else port == low
