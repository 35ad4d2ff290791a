"""Replace a few files outside an output folder (init, workflows, schemas import): all change or none does."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ..errors import MlkubeError
from .transaction import new_file_mode

__all__ = ["replace_files_directly"]


def _stage(target: Path, data: bytes) -> Path:
    """``data`` in a temporary file beside ``target``; the temporary file is gone again if writing fails."""
    if target.exists() and not os.access(target, os.W_OK):
        raise PermissionError(13, "file is read-only", str(target))
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        if target.exists():
            shutil.copymode(target, temp)
        else:  # mkstemp makes 0600 files; a new file gets the usual mode (0644 under umask 022)
            os.chmod(temp, new_file_mode())
    except BaseException:
        os.unlink(temp)
        raise
    return Path(temp)


def replace_files_directly(updates: Mapping[Path, bytes]) -> None:
    """Write every new content to a temporary file beside its target (the step that can fail:
    permissions, disk), then rename each over its target (atomic on POSIX). Not journaled: a kill
    during the renames can leave some files new; output folders use ``replace_files_in``."""
    staged: list[tuple[Path, Path]] = []
    target = Path()
    try:
        for target, data in updates.items():
            target = Path(target)
            staged.append((_stage(target, data), target))
    except OSError as error:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)
        where = error.filename or target  # a full disk fails in write(2), which names no file
        raise MlkubeError.single(f"could not write {where}: {error.strerror or error}; no file was changed",
                                 where=str(where), hint="make the file writable or free some space, and run again") from None
    for temp, target in staged:
        os.replace(temp, target)
