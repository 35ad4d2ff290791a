"""Synth steps of pinning: apply the lock to rendered objects, and require pins where asked."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..core.image_reference import Reference, parse_reference
from ..core.promotion_chain import PromotionChain, promotion_chain
from ..errors import MlkubeError, Problem
from .fields import ImageField, image_fields
from .lock import ALLOW_UNPINNED_ENV, LOCK_FILE, Lock, LockEntry, load_lock, lock_path
from .models import ModelPins, apply_model_pins, lock_fields, model_fields

if TYPE_CHECKING:
    from ..core.synth import SynthContext
    from ..kube.manifest import Manifest

__all__ = ["apply_lock", "apply_locks", "ImagePins", "require_pinned_images", "write_lock", "ALLOW_UNPINNED_ENV"]


def chain_of(ctx: SynthContext) -> tuple[PromotionChain, list[Problem]]:
    return promotion_chain(ctx.platform.environments, ctx.platform.gitops)


def built_names(ctx: SynthContext) -> dict[tuple[str, str], str]:
    """(environment, repository) -> built image name (the key of its lock entry)."""
    names: dict[tuple[str, str], str] = {}
    for name, built in ctx.platform.built_images.images.items():
        for environment, reference in built.references.items():
            parsed = parse_reference(reference)
            if parsed is not None:
                names[(environment, parsed.repository)] = name
    return names


def gated_entry(lock: Lock, environment: str, ref: Reference, names: dict[tuple[str, str], str]) -> LockEntry | None:
    """The lock entry that stands for ``ref`` in a gated environment, whatever tag the blueprint now says.

    By key (built image name, ``repository:tag``, repository), else the one entry of that repository.
    """
    images = lock.environments.get(environment, {})
    for key in (names.get((environment, ref.repository)), f"{ref.repository}:{ref.tag}" if ref.tag else None, ref.repository):
        if key and key in images:
            return images[key]
    same = [entry for entry in images.values() if entry.repository == ref.repository]
    return same[0] if len(same) == 1 else None


def apply_lock(ctx: SynthContext) -> None:
    """TRANSFORM: ``repo:tag`` values locked for their environment become ``repo@sha256:...``.

    A gated environment runs what its lock says (what was promoted into it), whatever the blueprint's
    tag is now: a code change gives entry environments a new content tag and leaves it untouched.
    """
    chain, lock = _chain_and_lock(ctx)
    pins = ImagePins.of(ctx, chain, lock) if lock is not None else None
    if pins is not None:
        for manifest in ctx.manifests:
            pins.apply(ctx, manifest, image_fields(manifest.obj))


def apply_locks(ctx: SynthContext) -> None:
    """TRANSFORM: ``apply_lock``, then ``apply_model_lock``, walking each object once for both (``models.lock_fields``).

    The same result: the first changes only ``image`` values and the second only model URIs (a ``storageUri``, the
    downloader's first argument), neither of which decides what the other finds; only the first reports problems.
    """
    chain, lock = _chain_and_lock(ctx)
    if lock is None:
        return
    images = ImagePins.of(ctx, chain, lock)
    models = ModelPins(lock) if lock.models else None
    if images is None and models is None:
        return
    for manifest in ctx.manifests:
        model_pins = models.of_environment(manifest.environment) if models is not None else None
        if images is not None and model_pins:
            image_places, model_places = lock_fields(manifest.obj)
            images.apply(ctx, manifest, image_places)
            apply_model_pins(model_places, model_pins)
        elif images is not None:
            images.apply(ctx, manifest, image_fields(manifest.obj))
        elif model_pins:
            apply_model_pins(model_fields(manifest.obj), model_pins)


def _chain_and_lock(ctx: SynthContext) -> tuple[PromotionChain, Lock | None]:
    """The promotion chain and the lock synth reads, their problems in ``ctx.problems`` (the lock None: unreadable)."""
    chain, problems = chain_of(ctx)
    ctx.problems += problems
    try:
        return chain, load_lock(ctx.out_dir)
    except MlkubeError as error:
        ctx.problems += error.problems
        return chain, None


class ImagePins:
    """What ``apply_lock`` needs of the lock, the promotion chain and the built images, read once per synth."""

    def __init__(self, lock: Lock, chain: PromotionChain, names: dict[tuple[str, str], str], allowed: bool) -> None:
        self.lock, self.chain, self.names, self.allowed = lock, chain, names, allowed

    @classmethod
    def of(cls, ctx: SynthContext, chain: PromotionChain, lock: Lock) -> ImagePins | None:
        """The pins of this synth, or None when the lock changes no image."""
        if not lock.environments and not chain.sources:
            return None
        return cls(lock, chain, built_names(ctx) if chain.sources else {}, os.environ.get(ALLOW_UNPINNED_ENV) == "1")

    def apply(self, ctx: SynthContext, manifest: Manifest, fields: list[ImageField]) -> None:
        """Pin the images of ``manifest`` (its ``fields``); report an image a gated environment was never given."""
        gated = self.chain.is_gated(manifest.environment)
        for found in fields:
            ref = parse_reference(found.value)
            if ref is None:
                continue
            if gated:
                _apply_gated(ctx, manifest, found, ref, self.lock, self.names, self.chain, self.allowed)
            elif ref.tag and not ref.digest:
                digest = self.lock.digest_of(manifest.environment, ref.repository, ref.tag)
                if digest:
                    found.parent["image"] = ref.pinned(digest)


def _apply_gated(ctx: SynthContext, manifest: Manifest, found: ImageField, ref: Reference, lock: Lock, names: dict[tuple[str, str], str],
                 chain: PromotionChain, allowed: bool) -> None:
    entry = gated_entry(lock, manifest.environment, ref, names)
    if entry is not None:
        found.parent["image"] = f"{entry.repository}@{entry.digest}"
        return
    if ref.digest:
        return  # pinned by digest in the blueprint and not promoted yet: reviewable as written
    env, source = manifest.environment, chain.sources[manifest.environment]
    who = manifest.describe() + (f" container '{found.container}'" if found.container else "")
    text = f"{who}: image {found.value} was never promoted to gated environment {env!r}"
    hint = (f"let CI build and pin it in {source}, then run `mlkube promote {source} {env}`; "
            f"{ALLOW_UNPINNED_ENV}=1 writes the blueprint's reference until then")
    if allowed:
        ctx.warnings.append(f"{manifest.where}: {text} ({ALLOW_UNPINNED_ENV}=1)")
    else:
        ctx.problems.append(Problem(manifest.where, found.path, text, hint))


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
    """OUTPUT: the lock goes into the new tree (synth replaces the tree whole), also when writing elsewhere.

    It carries the promotion chain (``promoteFrom`` of each gated environment) for pin, promote and check.
    """
    chain, _ = chain_of(ctx)
    if not lock_path(ctx.out_dir).exists() and not chain.sources:
        return
    lock = load_lock(ctx.out_dir)
    lock.sources = dict(chain.sources)
    ctx.files[LOCK_FILE] = lock.to_bytes()
