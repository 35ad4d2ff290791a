"""All-or-nothing writes: a tree or a set of files is fully replaced, or left untouched."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .errors import MlkubeError

__all__ = ["replace_tree", "replace_files"]


def _write_all(root: Path, files: Mapping[str, bytes]) -> None:
    for folder in sorted({(root / relative).parent for relative in files}):
        folder.mkdir(parents=True, exist_ok=True)  # once per folder, not once per file
    for relative, data in files.items():
        with open(root / relative, "wb") as handle:
            handle.write(data)


def replace_tree(out_dir: Path, files: Mapping[str, bytes], keep: tuple[str, ...] = ()) -> None:
    """Make ``out_dir`` hold exactly ``files`` (relative paths), plus the top-level entries in ``keep``.

    The new tree is written beside the old one and swapped in with two renames, so a failure
    while writing leaves the old tree as it was, and stale files of removed apps disappear.
    """
    out_dir = Path(out_dir).absolute()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-", dir=out_dir.parent))
    old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
    try:
        _write_all(staging, files)
        for name in keep:
            source = out_dir / name
            if source.exists() and not (staging / name).exists():
                (shutil.copytree if source.is_dir() else shutil.copy2)(source, staging / name)
        staging.chmod(0o755)
        if out_dir.exists():
            os.rename(out_dir, old)
        os.rename(staging, out_dir)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        if old.exists() and not out_dir.exists():
            os.rename(old, out_dir)
        raise MlkubeError.single(f"could not write {out_dir}: {error.strerror or error}",
                                 where=str(error.filename or out_dir), hint="check permissions and free space") from None
    shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def replace_files(updates: Mapping[Path, bytes]) -> None:
    """Replace several files so that either all change or none does.

    Every new content is first written to a temporary file beside its target (the step that can
    fail: permissions, disk), then each is renamed over its target (atomic on POSIX).
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for target, data in updates.items():
            target = Path(target)
            if target.exists() and not os.access(target, os.W_OK):
                raise PermissionError(13, "file is read-only", str(target))
            handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            if target.exists():
                shutil.copymode(target, temp)
            else:  # mkstemp makes 0600 files; a new file gets the usual mode (0644 under umask 022)
                os.chmod(temp, 0o666 & ~_umask())
            staged.append((Path(temp), target))
    except OSError as error:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)
        raise MlkubeError.single(f"could not write {error.filename}: {error.strerror or error}; no file was changed",
                                 where=str(error.filename or ""), hint="make the file writable and run again") from None
    for temp, target in staged:
        os.replace(temp, target)
