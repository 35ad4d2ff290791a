"""The connectivity check through the store: only the connections whose namespaces changed are checked again.

A connection's verdict reads the objects of its two sides' namespaces (their pods and NetworkPolicies) and the
Namespace objects' labels (traffic/check.py ``connection_verdicts``). So the connections of one environment are
grouped by (sender's namespace, receiver's namespace), and a group is keyed by the digests of the objects in those
two namespaces, of every Namespace object, by whether each side is managed and by the group's connections. A group
whose key found nothing before is skipped; the others are checked on a view of just the namespaces they need. One
app changed in an environment of 129: its namespace's groups are checked, not the environment's 1,300 connections.
(A group per pair, not per sender: the senders that reach every namespace, an address block or a monitoring
namespace, would make one group of the whole environment. The keys, kept until the next synth, are 16 bytes.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ..core.network.model import Connection, Endpoint
from ..errors import Problem
from ..kube.manifest import Manifest
from .store import ObjectStore, serialized

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


def _sides(connection: Connection) -> tuple[str, str]:
    return _side(connection.source), _side(connection.destination)


def changed_connection_problems(store: ObjectStore, manifests: Sequence[Manifest], connections: Sequence[Connection],
                                managed: set[str]) -> list[Problem] | None:
    """The problems of the environment's connections, checking only the groups not found clean before (their keys go
    to ``store.clean_now`` when clean); None when an object or a group has no digest (the caller checks everything).
    An unchanged environment costs its groups' keys: about what one key over the whole environment cost."""
    from ..traffic.check import connection_verdicts
    from ..traffic.cluster import traffic_view

    keys = _group_keys(store, manifests, connections, managed)
    if keys is None:
        return None
    pending = {sides: key for sides, key in keys.items() if key not in store.clean_before}
    store.clean_now.update(key for sides, key in keys.items() if sides not in pending)
    groups = len(keys)
    del keys
    if not pending:
        return []
    if len(pending) == groups:  # nothing known clean (a first synth): as without the cache
        checking, view = connections, traffic_view(manifests)
    else:  # in the environment's order, so the problems come as an uncached run gives them
        checking = [c for c in connections if _sides(c) in pending]
        needed = {side for sides in pending for side in sides}
        view = traffic_view([m for m in manifests if m.kind == "Namespace" or not needed.isdisjoint(_namespace_names(m))])
    verdicts = connection_verdicts(checking, view, managed)
    del view
    blocked = {_sides(c) for c, problem in zip(checking, verdicts, strict=True) if problem is not None}
    store.clean_now.update(key for sides, key in pending.items() if sides not in blocked)
    return [problem for problem in verdicts if problem is not None]


def _group_keys(store: ObjectStore, manifests: Sequence[Manifest], connections: Sequence[Connection],
                managed: set[str]) -> dict[tuple[str, str], bytes] | None:
    """Each group's key; None when an object or a group has no digest. What it builds for that is dropped before the
    traffic view is made (synth's peak memory is the connectivity check's: tests/test_synth_memory.py)."""
    digests: dict[str, list[str]] = {}  # namespace -> the digests of its objects, in order
    namespace_objects: list[str] = []
    for manifest in manifests:
        digest = store.digest(manifest)
        if digest is None:
            return None
        for name in _namespace_names(manifest):
            digests.setdefault(name, []).append(digest)
        if manifest.kind == "Namespace":
            namespace_objects.append(digest)
    namespaces = {name: _hash(found) for name, found in digests.items()}
    del digests
    labels = _hash(namespace_objects)
    groups: dict[tuple[str, str], list[Connection]] = {}
    for connection in connections:
        groups.setdefault(_sides(connection), []).append(connection)
    keys: dict[tuple[str, str], bytes] = {}
    for sides, members in groups.items():
        key = _group_key(sides, members, namespaces, labels, managed)
        if key is None:
            return None
        keys[sides] = key
    return keys


def _hash(digests: list[str]) -> str:
    return hashlib.blake2b("".join(digests).encode(), digest_size=20).hexdigest()


def _group_key(sides: tuple[str, str], connections: list[Connection], namespaces: dict[str, str], labels: str,
               managed: set[str]) -> bytes | None:
    digest = hashlib.blake2b(b"connectivity group", digest_size=16)
    for side in sides:
        digest.update(f"\0{side}\0{side in managed}\0{namespaces.get(side, '-')}".encode())
    digest.update(labels.encode())
    try:
        digest.update(serialized(connections))
    except Exception:
        return None
    return digest.digest()
