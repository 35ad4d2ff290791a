"""``mlkube check --pinned``: every image of the tree pinned by digest, and by the locked digest."""

from __future__ import annotations

from pathlib import Path

from ..errors import Problem
from ..images.reference import parse_reference
from .lock import load_lock
from .tree import scan_tree

__all__ = ["check_pinned"]


def check_pinned(dist: Path, environments: frozenset[str] | None = None) -> tuple[list[Problem], int]:
    """(problems, number of image values checked)."""
    lock = load_lock(dist)
    problems: list[Problem] = []
    checked = 0
    for tree_file in scan_tree(dist, environments):
        env = tree_file.environment
        for scalar in tree_file.images:
            checked += 1
            where = f"{tree_file.path}:{scalar.line}"
            who = f"{scalar.kind}/{scalar.name}" + (f" container '{scalar.container}'" if scalar.container else "")
            ref = parse_reference(scalar.value)
            if ref is None or not ref.digest:
                problems.append(Problem(where, scalar.field, f"{who}: image {scalar.value!r} is not pinned by digest",
                                        "build and push it, then run mlkube pin (--resolve or --digests FILE)"))
                continue
            locked = lock.entries_of(env, ref.repository)
            if locked and all(entry.digest != ref.digest for _, entry in locked):
                expected = ", ".join(f"{entry.tag} -> {entry.digest}" for _, entry in locked)
                problems.append(Problem(where, scalar.field, f"{who}: digest {ref.digest} is not the one locked for "
                                        f"{ref.repository} in {env} ({expected})",
                                        "run mlkube synth to apply the lock, or mlkube pin to update it"))
    return problems, checked
