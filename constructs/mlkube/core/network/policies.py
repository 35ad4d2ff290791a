"""NetworkPolicies written from declared connections: each side of a connection gets its half.

A connection needs the sender's egress AND the receiver's ingress
(https://kubernetes.io/docs/concepts/services-networking/network-policies/). A workload's own
policy selects its pods for both directions: ingress from what may call it, egress to what it calls
(DNS first). Senders in the workload's namespace that are not its own pods (the default callers of
a model server: every pod of the namespace) get a separate egress-only policy that selects them;
policies add up, so it opens that one destination whatever other policies select them.
"""

from __future__ import annotations

from typing import Any

from .model import Connection, Endpoint, peer_of, port_of

__all__ = ["workload_policy_spec", "sender_policy_specs"]


def _rule(peers_key: str, peer: dict[str, Any], connection: Connection) -> dict[str, Any]:
    return {peers_key: [peer], "ports": [port_of(port) for port in connection.ports]}


def workload_policy_spec(me: Endpoint, namespace: str, connections: list[Connection]) -> dict[str, Any]:
    """The policy of the pods ``me``: isolated both ways, admitting exactly the connections to and from them."""
    ingress = [_rule("from", peer_of(c.source, namespace), c) for c in connections if c.destination == me]
    egress = [_rule("to", peer_of(c.destination, namespace), c) for c in connections if c.source == me]
    spec: dict[str, Any] = {"podSelector": {"matchLabels": me.labels}, "policyTypes": ["Ingress", "Egress"]}
    if ingress:
        spec["ingress"] = _unique(ingress)
    if egress:
        spec["egress"] = _unique(egress)
    return spec


def sender_policy_specs(me: Endpoint, namespace: str, connections: list[Connection]) -> list[dict[str, Any]]:
    """Egress-only policies for the other senders in ``namespace`` of connections to ``me`` (one per sender set)."""
    by_sender: dict[Endpoint, list[dict[str, Any]]] = {}
    for connection in connections:
        source = connection.source
        if connection.destination == me and source != me and source.cidr is None and source.namespace == namespace:
            by_sender.setdefault(source, []).append(_rule("to", peer_of(me, namespace), connection))
    return [{"egress": _unique(rules), "podSelector": {"matchLabels": sender.labels} if sender.pod_labels else {},
             "policyTypes": ["Egress"]} for sender, rules in by_sender.items()]


def _unique(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    for rule in rules:
        if rule not in seen:
            seen.append(rule)
    return seen
