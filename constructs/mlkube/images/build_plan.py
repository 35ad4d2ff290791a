"""Which built images CI must build: those whose content tag is not in the registry yet.

A content tag names the bytes of an image's inputs (context, Dockerfile, ignore file, platforms),
so an image whose tag the registry already holds is never rebuilt: a rebuild would push new bytes
under the same tag (timestamps, package mirrors) and change what a pinned digest means. The
release workflow runs ``mlkube images plan`` first; it builds only the missing images and pins
the others from the digests the registry already serves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.image_reference import parse_reference
from ..errors import MlkubeError, Problem
from ..pinning.registry import RegistryClient, RegistryError

__all__ = ["BuildPlan", "plan_builds", "read_build_matrix"]

#: The file ``mlkube synth`` writes beside the manifests: every image the platform builds.
MATRIX_FILE = "images.json"


@dataclass
class BuildPlan:
    """Images to build (matrix entries of images.json) and digests of the tags that already exist."""

    build: list[dict[str, Any]] = field(default_factory=list)
    existing: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        names = ", ".join(image["name"] for image in self.build) or "none"
        return (f"mlkube: {len(self.build)} image(s) to build ({names}); "
                f"{len(self.existing)} reference(s) already in the registry, not rebuilt")


def read_build_matrix(dist: Path) -> list[dict[str, Any]]:
    """The ``images`` list of ``<dist>/images.json`` (empty when the platform builds no image)."""
    path = dist / MATRIX_FILE
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        raise MlkubeError.single(f"cannot read {path}: {error}", hint="run mlkube synth to regenerate it") from None
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        raise MlkubeError.single(f"{path} has no 'images' list", hint="run mlkube synth to regenerate it")
    return images


def _tagged(reference: str) -> tuple[str, str] | None:
    parsed = parse_reference(reference)
    return (parsed.repository, parsed.tag) if parsed is not None and parsed.tag else None


def plan_builds(dist: Path, client: RegistryClient) -> BuildPlan:
    """Ask the registry for every reference of every built image; an image with a missing one is built.

    Any answer other than a digest or "not found" (denied, unreachable, 5xx) stops the plan: building
    blindly could overwrite a tag that exists, and skipping could pin nothing.
    """
    images = read_build_matrix(dist)
    wanted = {image["name"]: sorted(set((image.get("references") or {}).values())) for image in images}
    pairs = {ref: _tagged(ref) for refs in wanted.values() for ref in refs}
    answers = client.resolve_all(pair for pair in pairs.values() if pair is not None)
    plan = BuildPlan()
    problems: list[Problem] = []
    for image in images:
        missing = False
        for ref in wanted[image["name"]]:
            pair = pairs[ref]
            answer = answers.get(pair) if pair is not None else None
            if isinstance(answer, str):
                plan.existing[ref] = answer
            elif isinstance(answer, RegistryError) and answer.status == 404:
                missing = True
            else:
                message = answer.message if isinstance(answer, RegistryError) else "not a tagged reference"
                problems.append(Problem(f"images.json: {image['name']}", ref, message, getattr(answer, "hint", "")))
        if missing:
            # The repository the build job scans by digest after the push (the first reference's).
            first = pairs[wanted[image["name"]][0]] if wanted[image["name"]] else None
            plan.build.append({**image, "repository": first[0] if first else ""})
    if problems:
        raise MlkubeError(problems, title="cannot tell which images to build; nothing was built or written")
    # Built images are pinned from the build's digests: keep only digests of images that are not rebuilt.
    rebuilt = {ref for image in plan.build for ref in wanted[image["name"]]}
    plan.existing = {ref: digest for ref, digest in sorted(plan.existing.items()) if ref not in rebuilt}
    return plan
