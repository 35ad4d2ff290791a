"""The image values of a synthesized tree (``dist/<environment>/<app>/*.yaml``), file by file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import MlkubeError, Problem
from ..images.manifest import IMAGES_MANIFEST
from ..images.reference import parse_reference
from .scan import ImageScalar, scan_images

__all__ = ["TreeFile", "scan_tree", "built_image_names"]


@dataclass
class TreeFile:
    path: Path
    environment: str
    text: str
    images: list[ImageScalar]


def _manifest_files(dist: Path) -> list[Path]:
    # Manifests live two levels down or deeper; top-level files and hidden folders are not objects.
    return sorted(p for p in dist.rglob("*.y*ml") if p.suffix in (".yaml", ".yml") and p.is_file()
                  and len(p.relative_to(dist).parts) >= 2 and not any(part.startswith(".") for part in p.relative_to(dist).parts))


def scan_tree(dist: Path, environments: frozenset[str] | None = None) -> list[TreeFile]:
    """Every manifest file that has at least one image value; raises MlkubeError on unreadable files."""
    if not dist.is_dir():
        raise MlkubeError.single(f"{dist} is not a folder", hint="run mlkube synth first, or pass --dist DIR")
    found: list[TreeFile] = []
    problems: list[Problem] = []
    for path in _manifest_files(dist):
        environment = path.relative_to(dist).parts[0]
        if environments is not None and environment not in environments:
            continue
        try:
            data = path.read_bytes()
            if b"image" not in data:  # most objects (Services, ConfigMaps, policies) have none
                continue
            text = data.decode("utf-8")
            images = scan_images(text)
        except (OSError, UnicodeDecodeError) as error:
            problems.append(Problem(str(path), "", f"cannot read: {error}"))
            continue
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            problems.append(Problem(f"{path}:{mark.line + 1}" if mark else str(path), "", f"not valid YAML: {error}"))
            continue
        if images:
            found.append(TreeFile(path, environment, text, images))
    if problems:
        raise MlkubeError(problems, title="some files of the tree cannot be read; nothing was changed")
    return found


def built_image_names(dist: Path) -> dict[tuple[str, str], str]:
    """(environment, repository) -> built image name, from dist/images.json (empty without it)."""
    path = dist / IMAGES_MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError) as error:
        raise MlkubeError.single(f"cannot read {path}: {error}", where=str(path), hint="run mlkube synth again") from None
    names: dict[tuple[str, str], str] = {}
    for image in data.get("images", []) if isinstance(data, dict) else []:
        for environment, reference in (image.get("references") or {}).items():
            parsed = parse_reference(str(reference))
            if parsed is not None:
                names[(environment, parsed.repository)] = str(image.get("name"))
    return names
