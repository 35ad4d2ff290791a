"""Promotion: DST gets exactly the digests SRC locked ("build once, deploy many").

Copies SRC's lock entries to DST in ``<dist>/images.lock.json`` and rewrites the image references
of ``<dist>/<DST>/`` to the same digests; the lock and every changed file are replaced together.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import EXIT_FINDINGS, MlkubeError, Problem
from ..image import is_digest_reference
from ..output import replace_files
from ..render import to_yaml
from ..spec import DNS_LABEL
from .lock import LOCK_FILE, locked_images, pinned_reference, read_lock, render_lock, split_reference
from .pinned import containers

__all__ = ["PromotionResult", "promote"]


@dataclass
class PromotionResult:
    source: str
    target: str
    images: int
    files: list[Path]

    def summary(self) -> str:
        return (f"mlkube: promoted {self.images} image{'s' if self.images != 1 else ''} from {self.source} to {self.target}; "
                f"{len(self.files)} file{'s' if len(self.files) != 1 else ''} changed")


def _documents(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    return [(path, yaml.safe_load(path.read_text())) for path in sorted(folder.glob("*/*.yaml"))
            if not path.parent.name.startswith("_")]


def _unpinned(dist: Path, source: str, images: dict[str, dict[str, Any]]) -> list[Problem]:
    problems = [Problem(f"{dist / LOCK_FILE}", f"environments.{source}.images.{name}", f"locked image {name!r} has no digest")
                for name, entry in sorted(images.items()) if not str(entry.get("digest", "")).startswith("sha256:")]
    for path, obj in _documents(dist / source):
        for field, container in containers(obj):
            if not is_digest_reference(str(container.get("image", ""))):
                problems.append(Problem(str(path), f"{field}.image", f"image {container.get('image')!r} is not pinned by digest"))
    return problems


def _rewrite(dist: Path, target: str, images: dict[str, dict[str, Any]]) -> dict[Path, bytes]:
    by_repository = {entry["repository"]: entry for entry in images.values()}
    changed: dict[Path, bytes] = {}
    for path, obj in _documents(dist / target) if (dist / target).is_dir() else []:
        touched = False
        for _, container in containers(obj):
            repository, _, _ = split_reference(str(container.get("image", "")))
            entry = by_repository.get(repository)
            if entry is not None and container["image"] != pinned_reference(entry):
                container["image"] = pinned_reference(entry)
                touched = True
        if touched:
            changed[path] = to_yaml(obj).encode()
    return changed


def _environments(dist: Path) -> set[str]:
    """Environments synth wrote (folders of dist/) and those the lock names."""
    folders = {p.name for p in dist.iterdir() if p.is_dir() and DNS_LABEL.fullmatch(p.name) and p.name != "images"}
    lock = read_lock(dist / LOCK_FILE)
    return folders | {str(name) for name in lock.get("environments", {})}


def promote(dist: Path, source: str, target: str) -> PromotionResult:
    """Copy SRC's locked digests to DST; refuse (exit 1, nothing written) when SRC has an unpinned image."""
    if not dist.is_dir():
        raise MlkubeError.single(f"{dist} is not a folder", where=str(dist), hint="pass --dist the synthesized config repo tree (default dist)")
    known = _environments(dist)
    for name in (source, target):
        # An environment is a folder of dist/ (synth writes one per environment) or an entry of the lock;
        # anything else ('../x', a typo) would add a bogus environment to the lock.
        if not DNS_LABEL.fullmatch(name) or name not in known:
            raise MlkubeError.single(f"no environment {name!r} in {dist}", where=str(dist / LOCK_FILE),
                                     hint=f"environments there: {', '.join(sorted(known)) or 'none'}; run `mlkube synth` after "
                                          "adding an environment to the platform")
    if source == target:
        raise MlkubeError.single(f"cannot promote {source!r} to itself", hint="mlkube promote staging prod")
    lock = read_lock(dist / LOCK_FILE)
    images = locked_images(lock, source)
    if not images:
        raise MlkubeError(
            [Problem(str(dist / LOCK_FILE), f"environments.{source}", "no locked images", f"run `mlkube pin` for {source} first")],
            title=f"cannot promote {source} to {target}: nothing is locked", exit_code=EXIT_FINDINGS)
    problems = _unpinned(dist, source, images)
    if problems:
        raise MlkubeError(problems, title=f"cannot promote {source} to {target}: {source} has unpinned images; nothing was written",
                          exit_code=EXIT_FINDINGS)
    updated = copy.deepcopy(lock)
    updated["environments"][target] = {"images": copy.deepcopy(images)}
    changes = _rewrite(dist, target, images)
    rendered, lock_path = render_lock(updated), dist / LOCK_FILE
    if not lock_path.exists() or lock_path.read_bytes() != rendered:
        changes[lock_path] = rendered  # a second promote changes nothing and says so
    replace_files(changes)
    return PromotionResult(source, target, len(images), sorted(changes))
