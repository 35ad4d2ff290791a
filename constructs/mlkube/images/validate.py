"""Checks of a built image against the file system: they run at synth time, from the repo root."""

from __future__ import annotations

from pathlib import Path

from ..core.image import BuildImage
from ..core.image_reference import parse_reference
from ..errors import Problem
from .dockerignore import IgnoreMatcher

__all__ = ["check_build_image"]


def check_build_image(spec: BuildImage, dockerignore: str, where: str, field: str = "image") -> list[Problem]:
    """Problems with the context, the dependency file and the base; empty when the image can be built."""
    problems: list[Problem] = []
    context = Path(spec.context)
    if not context.is_dir():
        what = "is not a folder" if context.exists() else "does not exist"
        problems.append(Problem(where, f"{field}.context", f"build context {spec.context!r} {what} (relative to {Path.cwd()})",
                                "give a folder relative to the config repo root, where mlkube synth runs"))
    else:
        problems += _check_dependency_file(spec, context, dockerignore, where, field)
    problems += _check_base(spec, where, field)
    return problems


def _check_dependency_file(spec: BuildImage, context: Path, dockerignore: str, where: str, field: str) -> list[Problem]:
    name = "lock_file" if spec.lock_file is not None else "requirements"
    relative = spec.dependency_file
    if relative is None:
        return []
    if not (context / relative).is_file():
        return [Problem(where, f"{field}.{name}", f"{relative!r} is not a file in the build context {spec.context!r}",
                        f"create {spec.context}/{relative}, point `{name}` at the right file, or set requirements=None")]
    if IgnoreMatcher(dockerignore).ignored(Path(relative).as_posix()):
        return [Problem(where, f"{field}.{name}", f"{relative!r} is excluded by the image's .dockerignore patterns",
                        f"add '!{relative}' to the image's `ignore` field")]
    return []


def _check_base(spec: BuildImage, where: str, field: str) -> list[Problem]:
    if spec.base is None:
        return []
    parsed = parse_reference(spec.base)
    if parsed is None:
        return [Problem(where, f"{field}.base", f"{spec.base!r} is not a valid image reference",
                        "expected [registry/]repository:tag or repository@sha256:<64 hex>, lower-case repository")]
    if not parsed.tag and not parsed.digest:
        return [Problem(where, f"{field}.base", f"base {spec.base!r} names no tag or digest",
                        f"pin a version, e.g. {spec.base}:1.0, or give base_digest")]
    if parsed.digest and spec.base_digest and parsed.digest != spec.base_digest:
        return [Problem(where, f"{field}.base_digest", "base_digest differs from the digest written in `base`",
                        "give the digest in one place")]
    return []
