"""The image lock as plain dicts, for promotion: read it, look digests up, write it back.

The lock's format and its bytes belong to mlkube.pinning.lock; writing goes through it, so `promote`,
`pin` and `synth` all write the same bytes for the same lock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import MlkubeError
from ..pinning.lock import LOCK_FILE, parse_lock

__all__ = ["LOCK_FILE", "read_lock", "render_lock", "locked_images", "split_reference", "pinned_reference"]


def read_lock(path: Path) -> dict[str, Any]:
    """The lock at ``path``, or an empty lock when there is none yet."""
    if not path.exists():
        return {"version": 1, "environments": {}}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise MlkubeError.single(f"{path} is not valid JSON: {error.msg}", where=f"{path}:{error.lineno}",
                                 hint="restore it from Git, or run `mlkube pin` again") from None
    except RecursionError:
        raise MlkubeError.single(f"{path} is nested too deeply to be an mlkube image lock", where=str(path),
                                 hint="restore it from Git, or run `mlkube pin` again") from None
    if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("environments"), dict):
        raise MlkubeError.single(f"{path} is not an mlkube image lock (version 1)", where=str(path),
                                 hint='expected {"version": 1, "environments": {...}}')
    return data


def render_lock(lock: dict[str, Any]) -> bytes:
    """The lock's bytes exactly as `mlkube pin` and synth write them."""
    return parse_lock(json.dumps(lock), LOCK_FILE).to_bytes()


def locked_images(lock: dict[str, Any], environment: str) -> dict[str, dict[str, Any]]:
    return dict(((lock.get("environments") or {}).get(environment) or {}).get("images") or {})


def split_reference(reference: str) -> tuple[str, str | None, str | None]:
    """``repo:tag@sha256:x`` -> (repo, tag, digest); a ':' in a registry port is not a tag."""
    name, _, digest = reference.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1:], digest or None
    return name, None, digest or None


def pinned_reference(entry: dict[str, Any]) -> str:
    """The reference a pinned container uses: ``repository@digest``, as `mlkube pin` writes it (the lock keeps the tag)."""
    return f"{entry['repository']}@{entry['digest']}"
