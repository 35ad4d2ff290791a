"""Checks across objects through the store, a namespace at a time: only the namespaces whose objects changed are
checked again.

A check fits when the problems of a namespace follow from its own objects: each problem comes from reading one
object alone or objects of one namespace, and nothing else but the settings in every digest (the environment's, the
platform's). The checks across objects (validation/cross_object.py: identities, the pods a Service or
PodDisruptionBudget selects, an autoscaler's target), volume sharing (validation/volume_sharing.py: a claim, its
mounters and their autoscalers share a namespace) and the per-object tenancy rules (gitops/tenancy_checks.py) do.

A namespace whose objects (every digest, in order: the digest covers the object, its construct path and app, and its
environment's settings) are those of a synth that wrote its output, which no problem of these checks lets through,
has no problem now. So the check runs on the other namespaces' objects alone, in the given order, and its problems
are those of running it on all of them. One app changed in an environment of 129: its namespace is checked, not
1,700 objects. tests/test_fast_checks.py checks the claim for each of these checks on broken objects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from ..errors import Problem
from ..kube.manifest import Manifest
from .store import ObjectStore

__all__ = ["changed_namespace_problems"]


def changed_namespace_problems(store: ObjectStore, manifests: Sequence[Manifest], check: Callable[[Sequence[Manifest]], list[Problem]],
                               *, name: str, namespace_of: Callable[[Manifest], str]) -> list[Problem] | None:
    """``check(manifests)``, skipping the namespaces (``namespace_of`` each object) found clean before by the check
    ``name``; their keys go to ``store.clean_now``, and so do the checked ones' when nothing is found. None when an
    object has no digest (the caller runs the check on everything)."""
    keys = _namespace_keys(store, manifests, name, namespace_of)
    if keys is None:
        return None
    pending = {namespace for namespace, key in keys.items() if key not in store.clean_before}
    if len(pending) == len(keys):  # nothing known clean (a first synth): as without the cache
        problems = check(manifests)
    else:
        problems = check([m for m in manifests if namespace_of(m) in pending]) if pending else []
    store.clean_now.update(key for namespace, key in keys.items() if namespace not in pending or not problems)
    return problems


def _namespace_keys(store: ObjectStore, manifests: Sequence[Manifest], name: str,
                    namespace_of: Callable[[Manifest], str]) -> dict[str, bytes] | None:
    keys: dict[str, hashlib.blake2b] = {}
    for manifest in manifests:
        digest = store.digest(manifest)
        if digest is None:
            return None
        namespace = namespace_of(manifest)
        key = keys.get(namespace)
        if key is None:
            key = keys[namespace] = hashlib.blake2b(f"{name}\0{namespace}\0".encode(), digest_size=16)
        key.update(digest.encode())
    return {namespace: key.digest() for namespace, key in keys.items()}
