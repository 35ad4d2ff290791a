"""The connectivity check of synth: every declared connection is allowed by the environment's
NetworkPolicies, in both directions, and (for tests and reports) which allowed flows nobody declared.

Each side of a connection is tried with concrete pods: the workload pods the environment renders that
the endpoint contains, plus a stand-in pod with exactly the endpoint's labels (for "any pod of the
namespace", a pod with no labels: a client that mlkube did not build). A connection on every port is
tried on a few ports across the range. A side in a namespace that no app of the environment uses (the
monitoring stack, kube-system, another team's namespace) is not mlkube's to open: only the other side
is checked there.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.network.model import Connection, Endpoint
from ..core.network.workload import guard_rail_connections
from ..errors import Problem
from ..kube.network_policy import Endpoint as Concrete
from ..kube.network_policy import External, Pod
from .cluster import TrafficView, traffic_view

if TYPE_CHECKING:
    from ..core.synth import SynthContext

__all__ = ["check_connectivity_step", "connection_problems", "connection_verdicts", "undeclared_flows", "environment_connections", "Flow",
           "PROBE_PORTS"]

#: Ports tried for "every port" connections (low, rendezvous-like, ephemeral, highest).
PROBE_PORTS = (1, 29500, 40000, 65535)


@dataclass(frozen=True)
class Flow:
    source: Concrete
    destination: Concrete
    port: int
    protocol: str

    def describe(self) -> str:
        return f"{self.source.describe()} -> {self.destination.describe()} on {self.port}/{self.protocol}"


def environment_connections(platform: Any, environment: Any) -> list[Connection]:
    """Every connection declared in one environment: its apps' and its namespace guard rails'."""
    connections: list[Connection] = []
    namespaces: list[str] = []
    for app in platform.apps:
        if app.environment.name == environment.name:
            connections += app.connections
            if app.namespace_name not in namespaces:
                namespaces.append(app.namespace_name)
    if platform.gitops is not None:  # the default-deny policy of each namespace (gitops/platform_objects.py)
        for namespace in namespaces:
            connections += guard_rail_connections(namespace, environment)
    return connections


def managed_namespaces(platform: Any, environment: Any) -> set[str]:
    return {app.namespace_name for app in platform.apps if app.environment.name == environment.name}


# -- concrete stand-ins for endpoints ------------------------------------------------------------------------

@functools.lru_cache(maxsize=1024)  # a pure function of a frozen endpoint, asked for every connection to it
def _address_in(endpoint: Endpoint) -> External:
    """An address inside the block and outside its exceptions (the first such among a few candidates)."""
    network = ipaddress.ip_network(str(endpoint.cidr), strict=False)
    excluded = [ipaddress.ip_network(e, strict=False) for e in endpoint.except_cidrs]
    size = network.num_addresses
    for offset in (min(1, size - 1), size // 2, size - 1, 0):
        address = network[offset]
        if not any(address in block for block in excluded):
            return External(str(address), endpoint.describe())
    return External(str(network[0]), endpoint.describe())


def concrete(endpoint: Endpoint, view: TrafficView) -> list[Concrete]:
    """The rendered pods the endpoint contains, and a stand-in with exactly its labels."""
    if endpoint.cidr is not None:
        return [_address_in(endpoint)]
    standin = Pod(str(endpoint.namespace), endpoint.labels, endpoint.describe())
    members: list[Concrete] = [standin]
    members += [pod for pod in view.by_namespace.get(str(endpoint.namespace), []) if endpoint.contains(pod) and dict(pod.labels) != endpoint.labels]
    return members


def _ports(connection: Connection) -> Iterator[tuple[int, str]]:
    for port in connection.ports:
        for number in ([port.port] if port.port is not None else PROBE_PORTS):
            yield number, port.protocol


def _unmanaged(endpoint: Concrete, managed: set[str]) -> bool:
    return not isinstance(endpoint, Pod) or endpoint.namespace not in managed


def connection_problems(connections: Iterable[Connection], view: TrafficView, managed: set[str]) -> list[Problem]:
    """A problem for each declared connection some direction denies, naming the policies that deny it."""
    return [problem for problem in connection_verdicts(connections, view, managed) if problem is not None]


def connection_verdicts(connections: Iterable[Connection], view: TrafficView, managed: set[str]) -> list[Problem | None]:
    """For each connection, in order: the problem when some direction denies it, else None.

    A verdict reads only the objects of the two sides' namespaces (their pods and NetworkPolicies: a policy selects
    pods of its own namespace) and the Namespace objects' labels (namespace selectors), so a view of just those
    gives the same verdicts (synth's cache rechecks only connections whose namespaces changed: incremental/steps.py)."""
    verdicts: list[Problem | None] = []
    members: dict[Endpoint, list[Concrete]] = {}  # the same endpoints (DNS, a namespace's pods) recur in many connections

    def members_of(endpoint: Endpoint) -> list[Concrete]:
        found = members.get(endpoint)
        if found is None:
            found = members[endpoint] = concrete(endpoint, view)
        return found

    for connection in connections:
        blocked: list[str] = []
        for source in members_of(connection.source):
            for destination in members_of(connection.destination):
                for port, protocol in _ports(connection):
                    verdict = view.cluster.check(source, destination, port, protocol)
                    for block in verdict.blocks:
                        if _unmanaged(block.endpoint, managed):
                            continue  # the other team's (or the platform's) policies are not ours to open
                        text = f"{port}/{protocol}: {block.describe()}"
                        if text not in blocked:
                            blocked.append(text)
        verdicts.append(Problem(connection.declared_by, "connections", f"declared connection {connection.describe()} is blocked: "
                                + "; ".join(blocked[:4]) + (f" (and {len(blocked) - 4} more)" if len(blocked) > 4 else ""),
                                "an object edited after the construct built it (or a foreign NetworkPolicy) must keep admitting it; "
                                "mlkube validate --connectivity prints who reaches whom") if blocked else None)
    return verdicts


def check_connectivity_step(ctx: SynthContext) -> None:
    """Synth fails when a declared connection of any environment is blocked."""
    by_environment = ctx.manifests_by_environment()
    for environment in ctx.platform.environments:
        view = traffic_view(by_environment.get(environment.name, []))
        connections = environment_connections(ctx.platform, environment)
        ctx.problems += connection_problems(connections, view, managed_namespaces(ctx.platform, environment))


# -- what nobody declared -----------------------------------------------------------------------------------

def _probe_endpoints(view: TrafficView, connections: list[Connection], managed: set[str]) -> list[Concrete]:
    endpoints: list[Concrete] = list(view.pods)
    for namespace in sorted(managed):
        endpoints.append(Pod(namespace, {"mlkube.dev/probe": "other"}, f"{namespace}/(any other pod)"))
    endpoints.append(Pod("mlkube-probe-elsewhere", {}, "(a pod of another namespace)"))
    endpoints.append(External("203.0.113.7", "(an internet address)"))
    for connection in connections:
        for side in (connection.source, connection.destination):
            endpoints += [e for e in concrete(side, view) if e not in endpoints]
    return endpoints


def undeclared_flows(connections: list[Connection], view: TrafficView, managed: set[str]) -> list[Flow]:
    """Flows the policies allow that no declared connection covers, between endpoints of which at least one is
    governed (a rendered workload pod, or any pod of a managed namespace that has a default-deny guard rail).

    Tried: every rendered pod, an unlabelled pod of each managed namespace, a pod of another namespace, an
    internet address and every declared endpoint's stand-ins; on each declared port, each listening port and
    the probe ports.
    """
    endpoints = _probe_endpoints(view, connections, managed)
    guarded = {p.namespace for p in view.cluster.policies if not p.spec.get("podSelector") and set(p.types) == {"Ingress", "Egress"}}

    def governed(endpoint: Concrete) -> bool:
        """A rendered workload pod, or any pod of a namespace with a default-deny guard rail."""
        return endpoint in view.pods or (isinstance(endpoint, Pod) and endpoint.namespace in guarded and endpoint.namespace in managed)

    ports = sorted({(p, proto) for c in connections for p, proto in _ports(c)}
                   | {p for listening in view.listening.values() for p in listening}
                   | {(p, "TCP") for p in PROBE_PORTS} | {(53, "UDP"), (53, "TCP"), (443, "TCP"), (80, "TCP")})
    flows: list[Flow] = []
    for source in endpoints:
        for destination in endpoints:
            if not governed(source) and not governed(destination):
                continue
            for port, protocol in ports:
                if not view.cluster.check(source, destination, port, protocol).allowed:
                    continue
                if not any(c.covers(source, destination, port, protocol) for c in connections):
                    flows.append(Flow(source, destination, port, protocol))
    return flows

