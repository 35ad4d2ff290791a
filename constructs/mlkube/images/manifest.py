"""Synth output of built images: dist/images/<name>/{Dockerfile,.dockerignore} and dist/images.json.

images.json is what a CI build matrix reads: per image its name, build context (relative to the
config repo root, where synth runs), Dockerfile and ignore file (relative to the folder that holds
images.json, so that the tree stays the same wherever it is written or copied), content tag,
platforms, the reference per environment and the containers that use it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..pinning.tree import IMAGES_MANIFEST
from .catalog import BuiltImage
from .dockerfile import base_of

if TYPE_CHECKING:
    from ..core.synth import SynthContext

__all__ = ["write_image_files", "images_manifest", "IMAGES_DIR", "IMAGES_MANIFEST", "MANIFEST_VERSION"]

IMAGES_DIR = "images"
MANIFEST_VERSION = 1


def _entry(name: str, image: BuiltImage, gated: frozenset[str] = frozenset()) -> dict[str, Any]:
    folder = f"{IMAGES_DIR}/{name}"
    return {
        "name": name,
        "context": Path(image.spec.context).as_posix(),
        "dockerfile": f"{folder}/Dockerfile",
        "ignorefile": f"{folder}/.dockerignore",
        "tag": image.tag,
        "base": _base(image),
        "purpose": image.spec.purpose,
        "platforms": list(image.spec.platforms),
        # CI builds for entry environments only; gated ones receive the same bytes through mlkube promote.
        "references": {env: ref for env, ref in sorted(image.references.items()) if env not in gated},
        "users": [{"environment": u.environment, "path": u.path, "container": u.container} for u in sorted(set(image.users))],
    }


def _base(image: BuiltImage) -> dict[str, str | None]:
    """The base the Dockerfile starts FROM, and its digest (None: used by tag, not yet pinned)."""
    name, digest = base_of(image.spec)
    return {"reference": name, "digest": digest}


def images_manifest(images: dict[str, BuiltImage], gated: frozenset[str] = frozenset()) -> bytes:
    entries = [_entry(name, images[name], gated) for name in sorted(images)]
    body = {"version": MANIFEST_VERSION, "images": [entry for entry in entries if entry["references"]]}
    return (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode()


def write_image_files(ctx: SynthContext) -> None:
    """The OUTPUTS step: the build files of every image some container uses, and the manifest."""
    from ..core.promotion_chain import promotion_chain

    images: dict[str, BuiltImage] = dict(ctx.platform.built_images.images)  # the platform's catalog (images.catalog.BuiltImages)
    chain, _ = promotion_chain(ctx.platform.environments, ctx.platform.gitops)
    for name, image in images.items():
        ctx.files[f"{IMAGES_DIR}/{name}/Dockerfile"] = image.dockerfile.encode()
        ctx.files[f"{IMAGES_DIR}/{name}/.dockerignore"] = image.dockerignore.encode()
        # BuildKit (docker buildx, build-push-action) reads <Dockerfile>.dockerignore beside the Dockerfile.
        ctx.files[f"{IMAGES_DIR}/{name}/Dockerfile.dockerignore"] = image.dockerignore.encode()
    if images:
        ctx.files[IMAGES_MANIFEST] = images_manifest(images, frozenset(chain.sources))
    for name, image in sorted(images.items()):
        base, digest = base_of(image.spec)
        if digest is None:
            # A tag can move: the same content tag could then be built from other bytes.
            ctx.warnings.append(f"image {name!r}: base {base} is used by tag, not by digest; pin it through the lock "
                                "with `mlkube images pin-bases --resolve`, then synth again")
