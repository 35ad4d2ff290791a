"""The checks across objects through the store: only the namespaces whose objects changed are checked again.

Every check of validation/cross_object.py reads one object alone (its name, GPU counts, schedule) or the objects of
one namespace (a duplicate identity, the pods a Service or PodDisruptionBudget selects, an autoscaler's target), a
cluster-scoped object counting as namespace "default" (``checked_namespace``). So the problems of a namespace follow
from its objects: a namespace whose objects (every digest, in order: the digest covers the object, its construct path
and app, and its environment's settings) are those of a synth that wrote its output, which no problem of these checks
lets through, has none. The other namespaces are checked together, in the environment's order, so the problems come
as an uncached run gives them. One app changed in an environment of 129: its namespace is checked, not 1,700 objects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ..errors import Problem
from ..kube.manifest import Manifest
from ..validation.cross_object import check_cross_object, checked_namespace
from .store import ObjectStore

__all__ = ["changed_cross_object_problems"]


def changed_cross_object_problems(store: ObjectStore, manifests: Sequence[Manifest]) -> list[Problem] | None:
    """``check_cross_object(manifests)`` of one environment, skipping the namespaces found clean before (their keys go to
    ``store.clean_now``, and so do the checked ones when nothing is found); None when an object has no digest."""
    keys = _namespace_keys(store, manifests)
    if keys is None:
        return None
    pending = {namespace for namespace, key in keys.items() if key not in store.clean_before}
    if len(pending) == len(keys):  # nothing known clean (a first synth): as without the cache
        problems = check_cross_object(manifests)
    else:
        problems = check_cross_object([m for m in manifests if checked_namespace(m) in pending]) if pending else []
    store.clean_now.update(key for namespace, key in keys.items() if namespace not in pending or not problems)
    return problems


def _namespace_keys(store: ObjectStore, manifests: Sequence[Manifest]) -> dict[str, bytes] | None:
    keys: dict[str, hashlib.blake2b] = {}
    for manifest in manifests:
        digest = store.digest(manifest)
        if digest is None:
            return None
        namespace = checked_namespace(manifest)
        key = keys.get(namespace)
        if key is None:
            key = keys[namespace] = hashlib.blake2b(f"cross-object\0{namespace}\0".encode(), digest_size=16)
        key.update(digest.encode())
    return {namespace: key.digest() for namespace, key in keys.items()}
