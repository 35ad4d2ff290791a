"""Digest files that CI writes after pushing, read into one map ``repository:tag -> digest``.

Accepted:
- a JSON object mapping references to digests: ``{"reg/ml/fraud:3f2a...": "sha256:..."}``;
- the metadata file of docker/build-push-action or ``docker buildx build --metadata-file``:
  ``{"containerimage.digest": "sha256:...", "image.name": "reg/ml/fraud:3f2a,reg/ml/fraud:latest"}``,
  or a bake metadata file, an object of such objects keyed by target;
- a ``buildah push --digestfile`` file, which holds only the digest: give it with the reference it
  was pushed as, ``--digest REF=FILE``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..core.image import DIGEST
from ..core.image_reference import parse_reference
from ..errors import MlkubeError, Problem

__all__ = ["read_digest_files", "read_digest_pairs"]

_METADATA_DIGEST = "containerimage.digest"
_METADATA_NAMES = "image.name"


def _add(found: dict[str, str], reference: str, digest: Any, where: str, problems: list[Problem]) -> None:
    parsed = parse_reference(reference.strip())
    if parsed is None or not parsed.tag:
        problems.append(Problem(where, reference, "not an image reference with a tag",
                                "name images as pushed: registry/repository:tag"))
        return
    if not isinstance(digest, str) or not DIGEST.match(digest.strip()):
        problems.append(Problem(where, reference, f"malformed digest {digest!r}", "expected sha256: and 64 lower-case hex digits"))
        return
    key, value = parsed.tagged, digest.strip()
    if found.get(key, value) != value:
        problems.append(Problem(where, reference, f"two different digests given ({found[key]} and {value})"))
        return
    found[key] = value


def _from_metadata(data: dict[str, Any], found: dict[str, str], where: str, problems: list[Problem]) -> None:
    names = str(data.get(_METADATA_NAMES) or "")
    if not names:
        problems.append(Problem(where, _METADATA_NAMES, "build metadata without image names",
                            "build with push: true and tags set, so that the metadata names what was pushed"))
    for name in filter(None, (n.strip() for n in names.split(","))):
        _add(found, name, data.get(_METADATA_DIGEST), where, problems)


def _from_json(data: Any, found: dict[str, str], where: str, problems: list[Problem]) -> None:
    if not isinstance(data, dict):
        problems.append(Problem(where, "", "expected a JSON object"))
    elif _METADATA_DIGEST in data:
        _from_metadata(data, found, where, problems)
    elif data and all(isinstance(value, dict) and _METADATA_DIGEST in value for value in data.values()):
        for value in data.values():
            _from_metadata(value, found, where, problems)
    else:
        for reference, digest in data.items():
            _add(found, reference, digest, where, problems)


def read_digest_files(paths: Iterable[Path], pairs: Iterable[str] = ()) -> dict[str, str]:
    """``repository:tag -> digest`` from JSON digest files and ``REF=FILE`` digest files."""
    found: dict[str, str] = {}
    problems: list[Problem] = []
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as error:
            problems.append(Problem(str(path), "", f"cannot read: {error.strerror}"))
            continue
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
            problems.append(Problem(str(path), "", f"not valid JSON: {error}",
                                    "a buildah --digestfile holds only the digest: pass it as --digest REF=FILE"))
            continue
        _from_json(data, found, str(path), problems)
    found_pairs, pair_problems = read_digest_pairs(pairs)
    problems += pair_problems
    for reference, digest in found_pairs.items():
        _add(found, reference, digest, "--digest", problems)
    if problems:
        raise MlkubeError(problems, title="the digests given cannot be used; nothing was changed")
    return found


def read_digest_pairs(pairs: Iterable[str]) -> tuple[dict[str, str], list[Problem]]:
    """``REF=FILE`` items, each FILE holding one digest (``buildah push --digestfile``)."""
    found: dict[str, str] = {}
    problems: list[Problem] = []
    for pair in pairs:
        reference, separator, file = pair.partition("=")
        if not separator or not reference or not file:
            problems.append(Problem("--digest", pair, "expected REF=FILE, e.g. reg/ml/fraud:3f2a=fraud.digest"))
            continue
        try:
            found[reference] = Path(file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            problems.append(Problem("--digest", pair, f"cannot read {file}: {error}"))
    return found, problems
