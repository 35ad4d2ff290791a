"""Promotion: a gated environment gets exactly what its source locked ("build once, deploy many").

The only way a gated environment's images change (see mlkube.core.promotion_chain). Copies the source's whole
lock entries (repository, tag, digest, provenance) and model pins to the target in
``<dist>/images.lock.json``, records the promotion (source, revision, fingerprint) for
`mlkube check --pinned`, and rewrites the image values of ``<dist>/<target>/`` to the same
references; only image values change (every other byte stays). The lock and every changed file are
replaced together. The target's chart pins of an earlier promotion are dropped (see mlkube.chart.pins).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..core.image_reference import Reference, parse_reference
from ..core.spec import DNS_LABEL
from ..errors import EXIT_FINDINGS, MlkubeError, Problem
from ..output import replace_files, writes_output
from ..pinning.chart_pins import stale_chart_pins
from ..pinning.lock import LOCK_FILE, Lock, LockEntry, Promotion, fingerprint, load_lock
from ..pinning.rewrite import rewrite_text
from ..pinning.scan import ImageScalar
from ..pinning.tree import TreeFile, scan_tree

__all__ = ["PromotionResult", "promote"]


@dataclass
class PromotionResult:
    source: str
    target: str
    images: int
    files: list[Path]
    #: Apps whose chart pin of the target rendered the images of an earlier promotion (dropped from the lock).
    stale_charts: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (f"mlkube: promoted {self.images} image{'s' if self.images != 1 else ''} from {self.source} to {self.target}; "
                f"{len(self.files)} file{'s' if len(self.files) != 1 else ''} changed")
        if self.stale_charts:
            text += (f"\nmlkube: {len(self.stale_charts)} chart pin{'s' if len(self.stale_charts) != 1 else ''} of {self.target} rendered the "
                     f"previous images and {'were' if len(self.stale_charts) != 1 else 'was'} dropped ({', '.join(self.stale_charts)}): "
                     f"mlkube chart --all --env {self.target} --out DIR --push REGISTRY, then mlkube synth")
        return text


def _environments(dist: Path) -> str:
    return ", ".join(sorted(p.name for p in dist.iterdir() if p.is_dir() and not p.name.startswith((".", "_")) and p.name != "images")) or "none"


def _check_chain(dist: Path, lock: Lock, source: str, target: str) -> None:
    """Only into a gated environment, and only from the source its chain names."""
    where = str(dist / LOCK_FILE)
    if not lock.sources:
        raise MlkubeError.single(f"{where} records no promotion chain, so {target!r} is not a gated environment",
                                 where=where, hint="mark it production=True or promote_from='...' in the platform and run mlkube synth")
    expected = lock.sources.get(target)
    if expected is None:
        gated = ", ".join(f"{env} (from {src})" for env, src in sorted(lock.sources.items()))
        raise MlkubeError.single(f"{target!r} is an entry environment: CI pins it (mlkube pin), promotion only feeds gated ones",
                                 where=where, hint=f"gated environments: {gated}")
    if expected != source:
        raise MlkubeError.single(f"{target!r} is promoted from {expected!r}, not from {source!r}", where=where,
                                 hint=f"mlkube promote {expected} {target}")


def _unpinned(dist: Path, source: str, images: dict[str, LockEntry]) -> list[Problem]:
    problems = []
    for tree_file in scan_tree(dist, frozenset({source})):
        for scalar in tree_file.images:
            ref = parse_reference(scalar.value)
            if ref is None or not ref.digest:
                problems.append(Problem(f"{tree_file.path}:{scalar.line}", scalar.field, f"image {scalar.value!r} is not pinned by digest",
                                        f"let CI pin {source} (mlkube pin) first"))
    return problems


def _new_entry(ref: Reference, old: dict[str, LockEntry], new: dict[str, LockEntry]) -> LockEntry | None:
    """The promoted entry that replaces ``ref``: the same lock key as the target's old entry, else by repository."""
    for name, entry in old.items():
        if entry.repository == ref.repository and (ref.digest in (None, entry.digest)) and name in new:
            return new[name]
    for key in (f"{ref.repository}:{ref.tag}" if ref.tag else None, ref.repository):
        if key and key in new:
            return new[key]
    same = [entry for entry in new.values() if entry.repository == ref.repository]
    return same[0] if len(same) == 1 else None


def _rewrite(files: list[TreeFile], old: dict[str, LockEntry], new: dict[str, LockEntry]) -> dict[Path, bytes]:
    changed: dict[Path, bytes] = {}
    for tree_file in files:
        replacements: dict[ImageScalar, str] = {}
        for scalar in tree_file.images:
            ref = parse_reference(scalar.value)
            entry = _new_entry(ref, old, new) if ref is not None else None
            if entry is not None and scalar.value != f"{entry.repository}@{entry.digest}":
                replacements[scalar] = f"{entry.repository}@{entry.digest}"
        if replacements:
            changed[tree_file.path] = rewrite_text(tree_file.text, replacements).encode("utf-8")
    return changed


@writes_output("dist")  # under the output lock, after recovering a killed run
def promote(dist: Path, source: str, target: str, revision: str = "") -> PromotionResult:
    """Copy SRC's lock entries to the gated DST; refuse (nothing written) when DST is not gated by SRC or SRC is unpinned."""
    if not dist.is_dir():
        raise MlkubeError.single(f"{dist} is not a folder", where=str(dist), hint="pass --dist the synthesized config repo tree (default dist)")
    if not (dist / source).is_dir():
        raise MlkubeError.single(f"no environment {source!r} in {dist}", where=str(dist / source), hint=f"environments there: {_environments(dist)}")
    if source == target:
        raise MlkubeError.single(f"cannot promote {source!r} to itself", hint="mlkube promote staging prod")
    lock = load_lock(dist)
    # The target is an environment synth wrote (a folder of dist/) or one the lock knows; anything else
    # ('../x', a typo) would add a bogus environment to the lock.
    known = {p.name for p in dist.iterdir() if p.is_dir()} | set(lock.environments) | set(lock.sources)
    if not DNS_LABEL.fullmatch(target) or target == "images" or target not in known:
        raise MlkubeError.single(f"no environment {target!r} in {dist}", where=str(dist / LOCK_FILE),
                                 hint=f"environments there: {_environments(dist)}; run `mlkube synth` after adding an "
                                      "environment to the platform")
    _check_chain(dist, lock, source, target)
    images = dict(lock.environments.get(source, {}))
    if not images and not lock.models.get(source):  # a platform of digest-pinned images may still promote model pins
        raise MlkubeError(
            [Problem(str(dist / LOCK_FILE), f"environments.{source}", "no locked images or models", f"run `mlkube pin` for {source} first")],
            title=f"cannot promote {source} to {target}: nothing is locked", exit_code=EXIT_FINDINGS)
    problems = _unpinned(dist, source, images)
    if problems:
        raise MlkubeError(problems, title=f"cannot promote {source} to {target}: {source} has unpinned images; nothing was written",
                          exit_code=EXIT_FINDINGS)
    models = lock.models.get(source)
    updated = lock.copy()
    updated.environments[target] = images
    if models:
        updated.models[target] = models
    else:
        updated.models.pop(target, None)
    previous = lock.promotions.get(target)
    promoted = fingerprint(images, models)
    # Promoting the same images again keeps the record of the first promotion: a rerun changes nothing.
    if previous is None or previous.fingerprint != promoted or previous.source != source:
        updated.promotions[target] = Promotion(source, revision, promoted)
    # The target's charts render its images: the pins of an earlier promotion go (chart/pins.py); the promotion
    # workflow exports and pushes new ones before synth. The source's charts are not copied: they render its objects.
    stale = stale_chart_pins(lock, target, promoted)
    for app in stale:
        del updated.charts[target][app]
    if target in updated.charts and not updated.charts[target]:
        del updated.charts[target]
    target_files = scan_tree(dist, frozenset({target})) if (dist / target).is_dir() else []
    changes = _rewrite(target_files, lock.environments.get(target, {}), images)
    rendered, lock_path = updated.to_bytes(), dist / LOCK_FILE
    if not lock_path.exists() or lock_path.read_bytes() != rendered:
        changes[lock_path] = rendered  # a second promote changes nothing and says so
    replace_files(changes, root=dist)  # journaled: every file and the lock, or none, also across a kill
    return PromotionResult(source, target, len(images), sorted(changes), stale)
