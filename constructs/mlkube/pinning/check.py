"""``mlkube check --pinned``: every image of the tree pinned by digest, and by the locked digest; every model at its
immutable form, and at the one the lock records (a hand-edited model revision fails)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..core.image_reference import parse_reference
from ..errors import MlkubeError, Problem
from .lock import LOCK_FILE, Lock, fingerprint, load_lock, parse_lock
from .models import locked_model_problems, model_values
from .tree import _manifest_files, scan_tree

__all__ = ["check_pinned", "check_pinned_models"]


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
            if not locked and env in lock.sources:
                problems.append(Problem(where, scalar.field, f"{who}: {ref.repository} is not in the lock of gated environment {env!r}: "
                                        "it was never promoted there", f"mlkube promote {lock.sources[env]} {env}, then mlkube synth"))
            elif locked and all(entry.digest != ref.digest for _, entry in locked):
                expected = ", ".join(f"{entry.tag} -> {entry.digest}" for _, entry in locked)
                problems.append(Problem(where, scalar.field, f"{who}: digest {ref.digest} is not the one locked for "
                                        f"{ref.repository} in {env} ({expected})",
                                        "run mlkube synth to apply the lock, or mlkube pin to update it"))
    problems += _promotion_drift(dist, lock, environments)
    return problems, checked


def check_pinned_models(dist: Path, environments: frozenset[str] | None = None) -> tuple[list[Problem], int]:
    """(problems, number of model values checked) of the model URIs of the tree (storageUri, model-downloader args)."""
    lock = load_lock(dist)
    problems: list[Problem] = []
    checked = 0
    for env, path in _manifest_files(dist):
        if environments is not None and env not in environments:
            continue
        text = Path(path).read_text(encoding="utf-8")
        if "storageUri" not in text and "model-downloader" not in text:
            continue  # no model value: skip the YAML parse
        for value, line, field in model_values(text):
            checked += 1
            problems += [Problem(f"{path}:{line}", field, message, "run mlkube synth to apply the lock, or mlkube pin (--resolve or "
                                 "--models FILE) to update it") for message in locked_model_problems(value, field, env, lock)]
    return problems, checked


def _promotion_drift(dist: Path, lock: Lock, environments: frozenset[str] | None) -> list[Problem]:
    """Each gated environment's lock still holds exactly what its last promotion copied from its source."""
    problems = []
    where = str(dist / LOCK_FILE)
    for env, source in sorted(lock.sources.items()):
        if environments is not None and env not in environments:
            continue
        promotion = lock.promotions.get(env)
        if promotion is None:
            continue  # never promoted by this mlkube: the manifests are checked against the lock above
        images = lock.environments.get(env, {})
        if promotion.source != source:
            problems.append(Problem(where, f"environments.{env}.promoted.from", f"{env} was promoted from {promotion.source}, "
                                    f"but its chain says {source}", f"mlkube promote {source} {env}"))
        if fingerprint(images, lock.models.get(env)) != promotion.fingerprint:
            problems.append(Problem(where, f"environments.{env}.images", f"{env}'s locked images differ from what `mlkube promote` "
                                    f"copied from {promotion.source}: changed by hand or by another command",
                                    f"restore it from version control, or mlkube promote {promotion.source} {env}"))
            continue
        then = _source_lock_at(dist, promotion.revision)
        if then is not None:
            expected = fingerprint(then.environments.get(promotion.source, {}), then.models.get(promotion.source))
            if expected != promotion.fingerprint:
                problems.append(Problem(where, f"environments.{env}.promoted", f"{env} does not hold {promotion.source}'s locked images "
                                        f"of revision {promotion.revision[:12]}, the revision it records as promoted",
                                        f"mlkube promote {promotion.source} {env} from a clean checkout"))
    return problems


def _source_lock_at(dist: Path, revision: str) -> Lock | None:
    """The lock as committed at ``revision`` (git), or None when git does not know it (no repo, shallow clone)."""
    if not revision:
        return None
    try:
        prefix = subprocess.run(["git", "rev-parse", "--show-prefix"], cwd=dist, capture_output=True, text=True, timeout=10, check=False)
        if prefix.returncode != 0:
            return None
        shown = subprocess.run(["git", "show", f"{revision}:{prefix.stdout.strip()}{LOCK_FILE}"], cwd=dist, capture_output=True,
                               text=True, timeout=10, check=False)
    except OSError:
        return None
    if shown.returncode != 0:
        return None
    try:
        return parse_lock(shown.stdout, f"{revision}:{LOCK_FILE}")
    except MlkubeError:  # an unreadable old lock proves nothing either way
        return None
