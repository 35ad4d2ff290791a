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
from ..output import replace_files, writes_output
from ..render import to_yaml
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


@writes_output("dist")  # under the output lock, after recovering a killed run
def promote(dist: Path, source: str, target: str) -> PromotionResult:
    """Copy SRC's locked digests to DST; refuse (exit 1, nothing written) when SRC has an unpinned image."""
    # The target folder may not exist yet (a new environment): then only the lock changes, and synth writes it.
    for name in (source,):
        if not (dist / name).is_dir():
            raise MlkubeError.single(f"no environment {name!r} in {dist}", where=str(dist / name),
                                     hint=f"environments there: {', '.join(sorted(p.name for p in dist.iterdir() if p.is_dir() and not p.name.startswith(('.', '_')) and p.name != 'images')) or 'none'}")
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
    replace_files(changes, root=dist)  # journaled: every file and the lock, or none, also across a kill
    return PromotionResult(source, target, len(images), sorted(changes))
