"""Synth steps of pinning: apply the lock to rendered objects, and require pins where asked."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..errors import MlkubeError, Problem
from ..images.reference import parse_reference
from .fields import image_fields
from .lock import LOCK_FILE, load_lock, lock_path

if TYPE_CHECKING:
    from ..synth import SynthContext

__all__ = ["apply_lock", "require_pinned_images", "write_lock", "ALLOW_UNPINNED_ENV"]

#: Set to 1 to synthesize environments with require_pinned_images anyway (the CI job that builds).
ALLOW_UNPINNED_ENV = "MLKUBE_ALLOW_UNPINNED"


def apply_lock(ctx: SynthContext) -> None:
    """TRANSFORM: ``repo:tag`` values locked for their environment become ``repo@sha256:...``."""
    try:
        lock = load_lock(ctx.out_dir)
    except MlkubeError as error:
        ctx.problems += error.problems
        return
    if not lock.environments:
        return
    for manifest in ctx.manifests:
        for found in image_fields(manifest.obj):
            ref = parse_reference(found.value)
            if ref is not None and ref.tag and not ref.digest:
                digest = lock.digest_of(manifest.environment, ref.repository, ref.tag)
                if digest:
                    found.parent["image"] = ref.pinned(digest)


def require_pinned_images(ctx: SynthContext) -> None:
    """CHECK: in environments with ``require_pinned_images``, every image names a digest."""
    # Production environments run only what was pinned (and promoted); others opt in.
    required = {env.name for env in ctx.platform.environments if env.require_pinned_images or env.production}
    if not required:
        return
    allowed = os.environ.get(ALLOW_UNPINNED_ENV) == "1"
    for manifest in ctx.manifests:
        if manifest.environment not in required:
            continue
        for found in image_fields(manifest.obj):
            ref = parse_reference(found.value)
            if ref is not None and ref.digest:
                continue
            who = manifest.describe() + (f" container '{found.container}'" if found.container else "")
            if allowed:
                ctx.warnings.append(f"{manifest.where}: {who}: image {found.value} is not pinned ({ALLOW_UNPINNED_ENV}=1)")
                continue
            ctx.problems.append(Problem(manifest.where, found.path, f"{who}: image {found.value!r} is not pinned by digest, "
                                        f"and environment {manifest.environment!r} requires pinned images",
                                        f"build and push it, run mlkube pin, then synth again; {ALLOW_UNPINNED_ENV}=1 "
                                        "synthesizes anyway (for the job that builds the images)"))


def write_lock(ctx: SynthContext) -> None:
    """OUTPUT: the lock goes into the new tree (synth replaces the tree whole), also when writing elsewhere."""
    if lock_path(ctx.out_dir).exists():
        ctx.files[LOCK_FILE] = load_lock(ctx.out_dir).to_bytes()
