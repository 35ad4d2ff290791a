"""``mlkube pin``: put digests into the lock and into every image value of the tree, all or nothing."""

from __future__ import annotations

import os
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import MlkubeError, Problem
from ..output import replace_files, writes_output
from .lock import LOCK_FILE, Lock, load_lock
from .models import GcsResolver, HuggingFaceResolver, S3Resolver, model_replacements, plan_model_pins
from .plan import PinPlan, plan_pins, unpinned_tags
from .registry import RegistryClient, RegistryError
from .rewrite import rewrite_text
from .tree import TreeFile, built_image_names, scan_tree

__all__ = ["PinResult", "ModelPinning", "pin_from_digests", "pin_from_registry", "default_revision"]


@dataclass
class PinResult:
    references: int
    files: int
    lock_changed: bool
    unpinned: list[str]
    models_changed: bool = False

    def summary(self) -> str:
        if not self.references and not self.lock_changed:
            text = "nothing to pin: no file changed"
        elif not self.references and self.models_changed:
            text = "pinned no image reference"
        else:
            text = f"pinned {self.references} image reference{'s' if self.references != 1 else ''} in {self.files} files"
            text += "; lock updated" if self.lock_changed else ""
        if self.models_changed:
            text += "\nmodel pins updated in the lock and the manifests"
        if self.unpinned:
            shown = ", ".join(self.unpinned[:5]) + (", ..." if len(self.unpinned) > 5 else "")
            text += f"\nnote: {len(self.unpinned)} image references have no digest yet ({shown}); mlkube check --pinned lists them"
        return text


def default_revision() -> str:
    """The source revision recorded in the lock: $MLKUBE_REVISION, $GITHUB_SHA, else git HEAD, else ''."""
    for variable in ("MLKUBE_REVISION", "GITHUB_SHA", "CI_COMMIT_SHA"):
        if os.environ.get(variable):
            return os.environ[variable]
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def _entry_files(dist: Path, lock: Lock) -> list[TreeFile]:
    """The files of the entry environments: pin never changes a gated environment (only mlkube promote does)."""
    return [tree_file for tree_file in scan_tree(dist) if tree_file.environment not in lock.sources]


@dataclass
class ModelPinning:
    """What pins models: a map from CI (``--models FILE``) and/or the Hugging Face API (``--resolve``)."""

    given: dict[str, str] | None = None
    given_from: str = ""
    resolver: HuggingFaceResolver | None = None
    #: Resolves oci:// model tags by the registry's HEAD (``--resolve``).
    registry: RegistryClient | None = None
    #: Resolves s3:// models to their objects' version ids (``--resolve``).
    s3: S3Resolver | None = None
    #: Resolves gs:// models to their objects' generations (``--resolve``).
    gcs: GcsResolver | None = None


def _pin_models(dist: Path, lock: Lock, files: list[TreeFile], models: ModelPinning | None, revision: str) -> tuple[Lock, bool]:
    """Model pins of the entry environments, before any write (so that images and models change together or not at all)."""
    if models is None:
        return lock, False
    entry = {tree_file.environment for tree_file in files}
    return plan_model_pins(dist, lock, entry, revision, given=models.given, given_from=models.given_from, resolver=models.resolver,
                           registry=models.registry, s3=models.s3, gcs=models.gcs)


@writes_output("dist")  # under the output lock, after recovering a killed run
def pin_from_digests(dist: Path, digests: dict[str, str], revision: str, models: ModelPinning | None = None) -> PinResult:
    """Pin with digests CI reported; a digest for an image the tree does not use is an error."""
    before = lock = load_lock(dist)
    files = _entry_files(dist, lock)
    lock, models_changed = _pin_models(dist, lock, files, models, revision)
    plan = plan_pins(files, lock, lambda repo, tag: digests.get(f"{repo}:{tag}"), built_image_names(dist), revision)
    unknown = sorted(set(digests) - plan.used)
    if unknown:
        used = sorted({s.value for f in files for s in f.images})[:5]
        raise MlkubeError([Problem("digests", reference, f"names an image that no manifest in {dist} uses",
                                   f"images in the tree include: {', '.join(used)}" if used else "the tree has no images")
                           for reference in unknown], title="the digests given cannot be used; nothing was changed")
    return _apply(dist, plan, files, models_changed, before)


@writes_output("dist")
def pin_from_registry(dist: Path, client: RegistryClient, revision: str, models: ModelPinning | None = None) -> PinResult:
    """Pin every tagged image value with the digest its registry serves for the tag (and models, when asked)."""
    before = lock = load_lock(dist)
    files = _entry_files(dist, lock)
    lock, models_changed = _pin_models(dist, lock, files, models, revision)
    answers = client.resolve_all(unpinned_tags(files))
    errors = [Problem(f"{repo}:{tag}", "", answer.message, answer.hint)
              for (repo, tag), answer in answers.items() if isinstance(answer, RegistryError)]
    if errors:
        raise MlkubeError(errors, title="the registry did not give every digest; nothing was changed")
    digests = {key: str(value) for key, value in answers.items()}
    plan = plan_pins(files, lock, lambda repo, tag: digests.get((repo, tag)), built_image_names(dist), revision)
    return _apply(dist, plan, files, models_changed, before)


def _read_only(path: Path) -> bool:
    # As root, access(2) allows writing anything: honour the permission bits the user set. Other
    # failures (immutable files, full disks) surface in replace_files, which then changes nothing.
    return path.exists() and not path.stat().st_mode & stat.S_IWUSR


def _apply(dist: Path, plan: PinPlan, files: list[TreeFile], models_changed: bool = False, before: Lock | None = None) -> PinResult:
    texts = {tree_file.path: tree_file.text for tree_file in files}
    updates: dict[Path, bytes] = {}
    replacements = {path: dict(found) for path, found in plan.replacements.items()}
    for path, found in (model_replacements(files, before, plan.lock) if models_changed and before is not None else {}).items():
        replacements.setdefault(path, {}).update(found)
    for path in sorted(replacements):
        new = rewrite_text(texts[path], replacements[path])
        if new != texts[path]:
            updates[path] = new.encode("utf-8")
    if plan.lock_changed or models_changed:
        updates[dist / LOCK_FILE] = plan.lock.to_bytes()
    blocked = [path for path in updates if _read_only(path)]
    if blocked:
        raise MlkubeError([Problem(str(path), "", "file is read-only") for path in blocked],
                          title="some files cannot be changed; no file was changed")
    if updates:
        replace_files(updates, root=dist)  # journaled: every file and the lock, or none, also across a kill
    unpinned = sorted({scalar.value for _, scalar in plan.unpinned})
    return PinResult(plan.count, len([p for p in updates if p.name != LOCK_FILE]), plan.lock_changed or models_changed, unpinned,
                     models_changed)
