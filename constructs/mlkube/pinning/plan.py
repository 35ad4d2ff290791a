"""What pinning changes: new image values per file and new lock entries, computed before any write."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..core.image_reference import Reference, parse_reference
from .lock import Lock, LockEntry
from .scan import ImageScalar
from .tree import TreeFile

__all__ = ["PinPlan", "plan_pins", "unpinned_tags"]

#: Gives the new digest of (repository, tag), or None when the digests at hand do not name it.
DigestSource = Callable[[str, str], "str | None"]


@dataclass
class PinPlan:
    replacements: dict[Path, dict[ImageScalar, str]] = field(default_factory=dict)
    lock: Lock = field(default_factory=Lock)
    lock_changed: bool = False
    #: repository:tag values the digest source was asked for and knew.
    used: set[str] = field(default_factory=set)
    unpinned: list[tuple[TreeFile, ImageScalar]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(r) for r in self.replacements.values())


def unpinned_tags(files: list[TreeFile]) -> set[tuple[str, str]]:
    """(repository, tag) of every image value that has a tag and no digest."""
    tags = set()
    for tree_file in files:
        for scalar in tree_file.images:
            ref = parse_reference(scalar.value)
            if ref is not None and ref.tag and not ref.digest:
                tags.add((ref.repository, ref.tag))
    return tags


def _lock_name(environment: str, ref: Reference, names: dict[tuple[str, str], str], tags: dict[tuple[str, str], set[str]]) -> str:
    built = names.get((environment, ref.repository))
    if built:
        return built
    # One environment running two tags of one repository needs two entries.
    return ref.repository if len(tags[(environment, ref.repository)]) <= 1 else ref.tagged


def plan_pins(files: list[TreeFile], lock: Lock, digest_of: DigestSource, names: dict[tuple[str, str], str],
              revision: str) -> PinPlan:
    plan = PinPlan(lock=lock.copy())
    targets: list[tuple[TreeFile, ImageScalar, Reference, str]] = []
    tags: dict[tuple[str, str], set[str]] = defaultdict(set)
    for tree_file in files:
        env = tree_file.environment
        for scalar in tree_file.images:
            ref = parse_reference(scalar.value)
            if ref is None or (ref.tag and ref.digest):
                continue  # not a reference we can pin, or pinned by hand with its tag: left as written
            if ref.tag:
                tags[(env, ref.repository)].add(ref.tag)
                digest = digest_of(ref.repository, ref.tag)
                plan.used.update([ref.tagged] if digest else [])
                digest = digest or lock.digest_of(env, ref.repository, ref.tag)
                if digest:
                    targets.append((tree_file, scalar, ref, digest))
                else:
                    plan.unpinned.append((tree_file, scalar))
                continue
            # Pinned already: a new digest for the tag the lock recorded re-pins it (a rebuilt tag).
            for _, entry in lock.entries_of(env, ref.repository):
                if entry.digest != ref.digest:
                    continue
                tags[(env, ref.repository)].add(entry.tag)
                digest = digest_of(ref.repository, entry.tag)
                if digest:
                    plan.used.add(f"{ref.repository}:{entry.tag}")
                    if digest != ref.digest:
                        targets.append((tree_file, scalar, Reference(ref.repository, entry.tag), digest))
    for tree_file, scalar, ref, digest in targets:
        plan.replacements.setdefault(tree_file.path, {})[scalar] = ref.pinned(digest)
        _record(plan, tree_file.environment, ref, digest, names, tags, revision)
    return plan


def _record(plan: PinPlan, env: str, ref: Reference, digest: str, names: dict[tuple[str, str], str],
            tags: dict[tuple[str, str], set[str]], revision: str) -> None:
    name = _lock_name(env, ref, names, tags)
    images = plan.lock.environments.setdefault(env, {})
    current = images.get(name)
    if current is not None and (current.repository, current.tag, current.digest) == (ref.repository, ref.tag, digest):
        return  # already locked: keep its recorded revision, so that pinning twice changes nothing
    built = (env, ref.repository) in names
    # Built images record their content tag and the revision they were built from; others have neither.
    images[name] = LockEntry(ref.repository, ref.tag or "", digest, (ref.tag or "") if built else "", revision if built else "")
    plan.lock_changed = True
