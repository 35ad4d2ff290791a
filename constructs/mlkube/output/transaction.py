"""Change several files of an output folder together: every file and the lock, or none of them.

A redo journal, committed by one rename: the new contents and ``journal.json`` (which file goes
where) are written into ``<root>/.mlkube-txn.new/``; renaming that folder to ``.mlkube-txn.ready``
is the commit point; then each staged file is renamed over its target. A kill before the commit
leaves every file as it was (the next run removes the staging folder); a kill after it leaves a
journal the next run replays (a rename is atomic, and a staged file already moved is skipped), so
re-running a killed ``pin`` or ``promote`` converges. A full disk fails while staging, before the
commit: the staging folder is removed and no file changes.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path

from ..errors import MlkubeError, Problem
from .failpoints import failpoint

__all__ = ["replace_files_in", "recover_files", "TXN_NEW", "TXN_READY"]

TXN_NEW = ".mlkube-txn.new"
TXN_READY = ".mlkube-txn.ready"
JOURNAL = "journal.json"


class _StagingFailed(Exception):
    """Writing the staged copy of ``target`` failed (write(2) on a full disk names no file)."""

    def __init__(self, target: Path, error: OSError) -> None:
        super().__init__(str(target))
        self.target, self.error = target, error


def _blocked(target: Path) -> str | None:
    """Why ``target`` cannot be replaced, checked before anything is staged (None when it can)."""
    if not target.exists():
        return None
    # As root, access(2) allows writing anything: honour the permission bits the user set.
    if not target.stat().st_mode & stat.S_IWUSR:
        return "file is read-only"
    try:  # an immutable file (chattr +i) passes the bits; opening it for writing (without writing) fails
        os.close(os.open(target, os.O_WRONLY | os.O_APPEND))
    except OSError as error:
        return "file is read-only" if error.errno in (errno.EPERM, errno.EACCES, errno.EROFS) else (error.strerror or str(error))
    return None


def _stage(staging: Path, root: Path, updates: Mapping[Path, bytes]) -> None:
    journal = []
    for index, (target, data) in enumerate(updates.items()):
        staged = staging / str(index)
        try:
            staged.write_bytes(data)
            mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else new_file_mode()
            os.chmod(staged, mode)
        except OSError as error:
            raise _StagingFailed(target, error) from None
        journal.append({"file": str(index), "target": os.path.relpath(target, root)})
        if index == 0:
            failpoint("files:first-staged")
    try:
        (staging / JOURNAL).write_text(json.dumps(journal, indent=1) + "\n", encoding="utf-8")
    except OSError as error:
        raise _StagingFailed(staging / JOURNAL, error) from None
    failpoint("files:journal-written")


def new_file_mode() -> int:
    """The mode open(2) gives a new file (0644 under umask 022); staged files are made with it."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _replay(ready: Path, root: Path) -> None:
    """Move every staged file of a committed journal over its target (again, after a kill)."""
    journal_path = ready / JOURNAL
    if journal_path.exists():
        for entry in json.loads(journal_path.read_text(encoding="utf-8")):
            staged = ready / entry["file"]
            if staged.exists():
                target = root / entry["target"]
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, target)
                failpoint("files:replaced")
        journal_path.unlink()
        failpoint("files:journal-removed")
    shutil.rmtree(ready)


def recover_files(root: Path) -> None:
    """Finish a committed change a killed run left in ``root``, and drop an uncommitted one."""
    if (root / TXN_NEW).is_dir():
        shutil.rmtree(root / TXN_NEW)
    if (root / TXN_READY).is_dir():
        _replay(root / TXN_READY, root)


def replace_files_in(root: Path, updates: Mapping[Path, bytes]) -> None:
    """Replace files below ``root`` so that all change or none does, also across a kill (module docstring)."""
    root = Path(os.path.abspath(root))
    updates = {Path(os.path.abspath(target)): data for target, data in updates.items()}
    outside = [str(target) for target in updates if root not in target.parents]
    if outside:
        raise ValueError(f"files outside {root}: {outside}")  # a programming error, not user input
    blocked = [Problem(str(target), "", reason) for target in updates if (reason := _blocked(target))]
    if blocked:
        raise MlkubeError(blocked, title="some files cannot be changed; no file was changed")
    if not updates:
        return
    staging = root / TXN_NEW
    try:
        staging.mkdir()
        failpoint("files:staging-created")
        _stage(staging, root, updates)
        os.rename(staging, root / TXN_READY)
    except (OSError, _StagingFailed) as failure:
        shutil.rmtree(staging, ignore_errors=True)
        target, error = (failure.target, failure.error) if isinstance(failure, _StagingFailed) else (staging, failure)
        raise MlkubeError.single(f"could not write {target}: {error.strerror or error}; no file was changed",
                                 where=str(target), hint="free some space or fix the permissions, then run again") from None
    failpoint("files:ready")
    try:
        _replay(root / TXN_READY, root)
    except OSError as error:
        raise MlkubeError.single(f"could not replace {error.filename}: {error.strerror or error}; the change is "
                                 f"recorded in {root / TXN_READY}, and the next mlkube command on {root} finishes it",
                                 where=str(root), hint="fix the cause, then run the command again") from None
