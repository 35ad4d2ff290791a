"""The image values of a synthesized tree (``dist/<environment>/<app>/*.yaml``), file by file."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..core.image_reference import parse_reference
from ..errors import MlkubeError, Problem
from .scan import ImageScalar, scan_images

__all__ = ["TreeFile", "scan_tree", "built_image_names", "IMAGES_MANIFEST"]

#: The built images' manifest at the top of the output (written by images/manifest.py, which sits above pinning).
IMAGES_MANIFEST = "images.json"


@dataclass
class TreeFile:
    path: Path
    environment: str
    text: str
    images: list[ImageScalar]


def _manifest_files(dist: Path) -> list[tuple[str, str]]:
    """(environment, path) of every YAML file below an environment folder, in path order.

    Top-level files (images.json, the lock) and hidden folders are not objects. Plain os.walk:
    pathlib per file costs more than the YAML scan on large trees.
    """
    found: list[tuple[str, str]] = []
    for folder, folders, files in os.walk(dist):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        relative = os.path.relpath(folder, dist)
        if relative == ".":
            continue
        environment = relative.split(os.sep, 1)[0]
        found += [(environment, os.path.join(folder, name)) for name in files
                  if name.endswith((".yaml", ".yml")) and not name.startswith(".")]
    return sorted(found, key=lambda item: item[1])


def scan_tree(dist: Path, environments: frozenset[str] | None = None) -> list[TreeFile]:
    """Every manifest file that has at least one image value; raises MlkubeError on unreadable files."""
    if not dist.is_dir():
        raise MlkubeError.single(f"{dist} is not a folder", hint="run mlkube synth first, or pass --dist DIR")
    found: list[TreeFile] = []
    problems: list[Problem] = []
    for environment, name in _manifest_files(dist):
        if environments is not None and environment not in environments:
            continue
        try:
            with open(name, "rb") as handle:
                data = handle.read()
            if b"image" not in data:  # most objects (Services, ConfigMaps, policies) have none
                continue
            text = data.decode("utf-8")
            images = scan_images(text)
        except (OSError, UnicodeDecodeError) as error:
            problems.append(Problem(name, "", f"cannot read: {error}"))
            continue
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            problems.append(Problem(f"{name}:{mark.line + 1}" if mark else name, "", f"not valid YAML: {error}"))
            continue
        if images:
            found.append(TreeFile(Path(name), environment, text, images))
    if problems:
        raise MlkubeError(problems, title="some files of the tree cannot be read; nothing was changed")
    return found


def built_image_names(dist: Path) -> dict[tuple[str, str], str]:
    """(environment, repository) -> built image name, from dist/images.json (empty without it)."""
    path = dist / IMAGES_MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError, RecursionError) as error:
        raise MlkubeError.single(f"cannot read {path}: {error}", where=str(path), hint="run mlkube synth again") from None
    names: dict[tuple[str, str], str] = {}
    for image in data.get("images", []) if isinstance(data, dict) else []:
        for environment, reference in (image.get("references") or {}).items():
            parsed = parse_reference(str(reference))
            if parsed is not None:
                names[(environment, parsed.repository)] = str(image.get("name"))
    return names
