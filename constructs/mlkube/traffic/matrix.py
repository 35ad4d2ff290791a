"""The connectivity matrix of a folder of manifests (one cluster, e.g. ``dist/<environment>``): who
reaches whom on which port, as the NetworkPolicies in it decide (kube/network_policy.py).

Sources and destinations: each pod template of the folder, an unlabelled pod of each of its
namespaces (a client nobody declared), a pod of each other namespace the policies name (with the
labels they name), a pod of some other namespace, kube-dns, an address in each block the egress
rules name, and an internet address.
Ports tried: the destination's container ports, every port a policy names, DNS 53, HTTPS 443 and a
spread of others; a cell lists the ports allowed, "all" when every port tried on TCP is.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..kube.manifest import Manifest
from ..kube.network_policy import NAMESPACE_NAME_LABEL, Direction, Endpoint, External, Pod
from .check import PROBE_PORTS
from .cluster import TrafficView, traffic_view

__all__ = ["Matrix", "cluster_matrix", "connectivity_matrix", "echo_matrices"]

KUBE_DNS = Pod("kube-system", {"k8s-app": "kube-dns"}, "kube-system/kube-dns", (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")))
INTERNET = External("203.0.113.7", "(internet 203.0.113.7)")
ELSEWHERE = Pod("mlkube-elsewhere", {}, "(a pod of another namespace)")


@dataclass
class Matrix:
    sources: list[Endpoint]
    destinations: list[Endpoint]
    #: (source index, destination index) -> allowed ports as text ("-" none).
    cells: dict[tuple[int, int], str]

    def render(self) -> str:
        names = [e.describe() for e in self.destinations]
        lines = ["destinations:"] + [f"  [{i + 1}] {name}" for i, name in enumerate(names)]
        headers = [f"[{i + 1}]" for i in range(len(names))]
        widths = [max(len(headers[j]), *(len(self.cells[(i, j)]) for i in range(len(self.sources)))) for j in range(len(names))]
        first = max(len("FROM \\ TO"), *(len(s.describe()) for s in self.sources))
        lines.append("")
        lines.append("  ".join(["FROM \\ TO".ljust(first), *(h.ljust(w) for h, w in zip(headers, widths, strict=True))]).rstrip())
        for i, source in enumerate(self.sources):
            row = [self.cells[(i, j)].ljust(w) for j, w in enumerate(widths)]
            lines.append("  ".join([source.describe().ljust(first), *row]).rstrip())
        lines.append("")
        lines.append("cells: ports the NetworkPolicies allow (sender's egress and receiver's ingress); 'all': every TCP port tried; '-': none; "
                     "'open': no NetworkPolicy selects either side")
        return "\n".join(lines)


def _policy_ports(view: TrafficView) -> set[tuple[int, str]]:
    ports: set[tuple[int, str]] = set()
    for policy in view.cluster.policies:
        for key in ("ingress", "egress"):
            for rule in policy.spec.get(key) or []:
                for item in (rule or {}).get("ports") or []:
                    protocol = str((item or {}).get("protocol") or "TCP")
                    for number in ((item or {}).get("port"), (item or {}).get("endPort")):
                        if isinstance(number, int):
                            ports.add((number, protocol))
    return ports


def _referenced(view: TrafficView) -> tuple[list[Endpoint], list[Endpoint]]:
    """Pods of the namespaces the policies name (monitoring, callers' namespaces) and the address blocks they name."""
    pods: list[Endpoint] = []
    blocks: list[Endpoint] = []
    for policy in view.cluster.policies:
        for key, peers_key in (("ingress", "from"), ("egress", "to")):
            for rule in policy.spec.get(key) or []:
                for peer in (rule or {}).get(peers_key) or []:
                    peer = peer or {}
                    named = ((peer.get("namespaceSelector") or {}).get("matchLabels") or {}).get(NAMESPACE_NAME_LABEL)
                    if named and named != policy.namespace:
                        labels = {str(k): str(v) for k, v in ((peer.get("podSelector") or {}).get("matchLabels") or {}).items()}
                        pod = Pod(str(named), labels, f"{named}/" + (",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "(any pod)"))
                        if pod not in pods and pod != KUBE_DNS and (pod.namespace, dict(pod.labels)) != (KUBE_DNS.namespace, dict(KUBE_DNS.labels)):
                            pods.append(pod)
                    cidr = (peer.get("ipBlock") or {}).get("cidr")
                    if cidr and key == "egress":
                        block = _representative(str(cidr))
                        if block is not None and block not in blocks:
                            blocks.append(block)
    return pods, blocks


def _representative(cidr: str) -> External | None:
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None
    if network.prefixlen == 0:
        return None  # the internet column stands for it
    return External(str(network[1] if network.num_addresses > 2 else network[0]), f"({cidr})")


def _ports_of(destination: Endpoint, view: TrafficView, shared: set[tuple[int, str]]) -> list[tuple[int, str]]:
    own: set[tuple[int, str]] = set(view.listening.get(destination, [])) if isinstance(destination, Pod) else set()
    if destination is KUBE_DNS:
        own |= {(53, "UDP"), (53, "TCP")}
    return sorted(own | shared)


def _isolated(view: TrafficView, endpoint: Endpoint, direction: Direction) -> bool:
    return isinstance(endpoint, Pod) and bool(view.cluster.isolating(endpoint, direction))


def _cell(allowed: list[tuple[int, str]], tried: list[tuple[int, str]]) -> str:
    if not allowed:
        return "-"
    tcp_tried = [p for p in tried if p[1] == "TCP"]
    tcp_allowed = [p for p in allowed if p[1] == "TCP"]
    text = ["all"] if tcp_allowed == tcp_tried and len(tcp_tried) > 2 else [str(p) for p, _ in tcp_allowed]
    text += [f"{p}/{proto}" for p, proto in allowed if proto != "TCP"]
    return ",".join(text)


def connectivity_matrix(manifests: Iterable[Manifest]) -> Matrix:
    view = traffic_view(manifests)
    namespaces = sorted({p.namespace for p in view.pods} | set(view.cluster.namespaces))
    others: list[Endpoint] = [Pod(ns, {}, f"{ns}/(any other pod)") for ns in namespaces]
    referenced, blocks = _referenced(view)
    sources: list[Endpoint] = [*view.pods, *others, *referenced, ELSEWHERE, INTERNET]
    destinations: list[Endpoint] = [*view.pods, *others, *referenced, KUBE_DNS, *blocks, INTERNET]
    shared = _policy_ports(view) | {(p, "TCP") for p in PROBE_PORTS} | {(443, "TCP"), (80, "TCP")}
    cells: dict[tuple[int, int], str] = {}
    for j, destination in enumerate(destinations):
        tried = _ports_of(destination, view, shared)
        for i, source in enumerate(sources):
            if not _isolated(view, source, "Egress") and not _isolated(view, destination, "Ingress"):
                cells[(i, j)] = "open"
                continue
            allowed = [(port, protocol) for port, protocol in tried if view.cluster.check(source, destination, port, protocol).allowed]
            cells[(i, j)] = _cell(allowed, tried)
    return Matrix(sources, destinations, cells)


def cluster_matrix(group: Sequence[Any]) -> tuple[str, str]:
    """The folder of one cluster's objects, and its matrix as text."""
    return os.path.commonpath([str(Path(m.file).parent) for m in group]), connectivity_matrix(group).render()


def echo_matrices(matrices: Sequence[tuple[str, str]]) -> None:
    """Print matrices of ``cluster_matrix``, each under its folder when there are several."""
    import click

    for index, (folder, text) in enumerate(matrices):
        if len(matrices) > 1:
            click.echo(("\n" if index else "") + f"== cluster {folder} ==")
        click.echo(text)
