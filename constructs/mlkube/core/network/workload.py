"""What every workload construct declares and emits: DNS, the environment's HTTPS egress, its own
egress rules, and the NetworkPolicies that admit its connections (core/network/policies.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .model import DNS_PORTS, HTTPS, Connection, EgressRule, Endpoint, dns_endpoints, egress_connections
from .policies import sender_policy_specs, workload_policy_spec

__all__ = ["common_egress", "emit_network_policies", "guard_rail_connections", "NETWORK_POLICY_API"]

NETWORK_POLICY_API = "networking.k8s.io/v1"


def common_egress(app: Any, me: Endpoint, declared_by: str, egress: list[EgressRule]) -> list[Connection]:
    """DNS, the environment's ``network.egress_https_cidrs`` and the workload's own ``egress`` rules."""
    connections = [Connection(me, dns, DNS_PORTS, "DNS: resolve Service and external names", declared_by)
                   for dns in dns_endpoints(app.environment.network)]
    connections += [Connection(me, Endpoint.block(cidr), HTTPS, "HTTPS egress of the environment (network.egress_https_cidrs)", declared_by)
                    for cidr in app.environment.network.egress_https_cidrs]
    connections += egress_connections(me, egress, app.namespace_name, declared_by)
    return connections


def guard_rail_connections(namespace: str, environment: Any) -> list[Connection]:
    """What the namespace default-deny admits for every pod of the namespace: DNS and ``network.egress_https_cidrs``."""
    everyone, where = Endpoint.pods(namespace), f"{environment.name}/namespace:{namespace}"
    connections = [Connection(everyone, dns, DNS_PORTS, "DNS (namespace guard rail)", where) for dns in dns_endpoints(environment.network)]
    connections += [Connection(everyone, Endpoint.block(cidr), HTTPS, "network.egress_https_cidrs (namespace guard rail)", where)
                    for cidr in environment.network.egress_https_cidrs]
    return connections


def emit_network_policies(app: Any, me: Endpoint, name: str, connections: list[Connection],
                          add: Callable[[str, dict[str, Any]], None]) -> None:
    """Record the connections on the app and emit the workload's policy and its callers' egress policies.

    ``add(name, spec)`` emits one NetworkPolicy named ``name`` with that spec.
    """
    app.connections.extend(connections)
    namespace = app.namespace_name
    add(name, workload_policy_spec(me, namespace, connections))
    senders = sender_policy_specs(me, namespace, connections)
    for index, spec in enumerate(senders):
        add(f"{name}-clients" + (f"-{index + 1}" if index else ""), spec)
