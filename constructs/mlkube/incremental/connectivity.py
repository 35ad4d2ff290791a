"""The connectivity check through the store: only the connections whose namespaces changed are checked again.

A connection's verdict reads the objects of its two sides' namespaces (their pods and NetworkPolicies) and the
Namespace objects' labels (traffic/check.py ``connection_verdicts``). So the connections of one environment are
grouped by (sender's namespace, receiver's namespace), and a group is keyed by the digests of the objects in those
two namespaces, of every Namespace object, by whether each side is managed and by the group's connections. A group
whose key found nothing before is skipped; the others are checked on a view of just the namespaces they need. One
app changed in an environment of 129: its namespace's groups are checked, not the environment's 1,300 connections.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ..core.network.model import Connection, Endpoint
from ..errors import Problem
from ..kube.manifest import Manifest
from .store import ObjectStore, _serialized

__all__ = ["changed_connection_problems"]


def _namespace_names(manifest: Manifest) -> tuple[str, ...]:
    """The namespace the traffic view puts the object's pods in, and the one its NetworkPolicy has (they differ only
    for a null ``metadata.namespace``): traffic/cluster.py ``_namespace``, kube/network_policy.py ``Policy.from_object``."""
    written = (manifest.obj.get("metadata") or {}).get("namespace")
    if isinstance(written, str) and written:
        return (written,)
    return tuple({manifest.namespace or "default", str(written or "default")})


def _side(endpoint: Endpoint) -> str:
    return "" if endpoint.cidr is not None else str(endpoint.namespace)


def changed_connection_problems(store: ObjectStore, manifests: Sequence[Manifest], connections: Sequence[Connection],
                                managed: set[str]) -> list[Problem] | None:
    """The problems of the environment's connections, checking only the groups not found clean before (their keys go
    to ``store.clean_now`` when clean); None when an object or a group has no digest (the caller checks everything).
    An unchanged environment costs its groups' keys: about what one key over the whole environment cost."""
    from ..traffic.check import connection_verdicts
    from ..traffic.cluster import traffic_view

    digests: dict[str, list[str]] = {}  # namespace -> the digests of its objects, in order
    namespace_objects: list[str] = []
    placed: list[tuple[Manifest, tuple[str, ...]]] = []
    for manifest in manifests:
        digest = store.digest(manifest)
        if digest is None:
            return None
        names = _namespace_names(manifest)
        placed.append((manifest, names))
        for name in names:
            digests.setdefault(name, []).append(digest)
        if manifest.kind == "Namespace":
            namespace_objects.append(digest)
    namespaces = {name: _hash(found) for name, found in digests.items()}
    labels = _hash(namespace_objects)
    groups: dict[tuple[str, str], list[int]] = {}
    for index, connection in enumerate(connections):
        groups.setdefault((_side(connection.source), _side(connection.destination)), []).append(index)
    pending: dict[int, str] = {}  # connection index -> its group's key
    for (source, destination), indexes in groups.items():
        key = _group_key(source, destination, namespaces, labels, managed, [connections[i] for i in indexes])
        if key is None:
            return None
        if key in store.clean_before:
            store.clean_now.add(key)
            continue
        for index in indexes:
            pending[index] = key
    if not pending:
        return []
    needed = {_side(connections[i].source) for i in pending} | {_side(connections[i].destination) for i in pending}
    view = traffic_view([m for m, names in placed if m.kind == "Namespace" or not needed.isdisjoint(names)])
    order = sorted(pending)
    verdicts = connection_verdicts([connections[i] for i in order], view, managed)
    blocked_groups = {pending[i] for i, problem in zip(order, verdicts, strict=True) if problem is not None}
    store.clean_now.update(set(pending.values()) - blocked_groups)
    return [problem for problem in verdicts if problem is not None]


def _hash(digests: list[str]) -> str:
    return hashlib.blake2b("".join(digests).encode(), digest_size=20).hexdigest()


def _group_key(source: str, destination: str, namespaces: dict[str, str], labels: str, managed: set[str],
               connections: list[Connection]) -> str | None:
    digest = hashlib.blake2b(b"connectivity group", digest_size=20)
    for side in (source, destination):
        digest.update(f"\0{side}\0{side in managed}\0{namespaces.get(side, '-')}".encode())
    digest.update(labels.encode())
    try:
        digest.update(_serialized(connections))
    except Exception:
        return None
    return digest.hexdigest()
