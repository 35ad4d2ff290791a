"""Replace an output tree whole, so that a kill at any instant leaves the old or the new tree.

Why this design: ``dist/`` is committed to Git and read by Argo CD and cdk8s as a plain folder, so
it cannot be a symbolic link flipped between generations (Git would commit the link, not the
files). It stays a plain folder, replaced by renames, and the names of the sibling folders are
the journal (a rename is atomic on POSIX, so each state change is one step):

1. write the new tree into ``.<name>.new-<id>``: the marker first, then every file;
2. on Linux, exchange it with ``<name>`` in one atomic renameat2(RENAME_EXCHANGE) (man 2 rename,
   Linux 3.15+, ext4/xfs/btrfs/tmpfs/overlayfs): ``<name>`` is the old or the new tree at every
   instant, and ``.<name>.new-<id>`` now holds the old tree; remove it (its marker last). Done.
3. where the exchange is not supported: rename ``.new-<id>`` to ``.<name>.ready-<id>`` (the commit
   point: from here on the new tree wins), rename ``<name>`` to ``.<name>.old-<id>``, rename the
   ready tree to ``<name>``, remove the old one.

``recover`` (run before every write, under the output lock) finishes or undoes what a killed run
left: every ``.new-`` tree is removed (unfinished, or the old tree after an exchange: ``<name>`` is
whole either way), a ready tree is swapped in, and old trees are removed once ``<name>`` exists.
Only on the fallback path is ``<name>`` briefly absent (between its two renames); the next mlkube
command on it restores it, with no manual step. Only a process kill is covered: files are not
fsynced (a power loss may leave empty files), which would cost a sync per file on every synth.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import sys
import tempfile
from collections.abc import Collection, Mapping
from pathlib import Path

from ..errors import MlkubeError
from .failpoints import failpoint
from .ownership import MARKER, MARKER_TEXT, is_owned, remove_owned

__all__ = ["swap_in_tree", "recover_tree"]


def _siblings(out_dir: Path, state: str) -> list[Path]:
    prefix = f".{out_dir.name}.{state}-"
    try:
        names = os.listdir(out_dir.parent)
    except FileNotFoundError:
        return []
    return sorted(out_dir.parent / name for name in names if name.startswith(prefix))


def recover_tree(out_dir: Path) -> None:
    """Finish a swap a killed run committed, and remove what unfinished runs left."""
    for staging in _siblings(out_dir, "new"):
        remove_owned(staging)  # never committed: the old tree stays
    ready = [path for path in _siblings(out_dir, "ready") if is_owned(path)]
    for extra in ready[:-1]:
        remove_owned(extra)  # cannot happen under the lock; keep only one
    if ready:
        if out_dir.exists():
            os.rename(out_dir, out_dir.parent / f".{out_dir.name}.old-{ready[-1].name.rsplit('-', 1)[-1]}")
        os.rename(ready[-1], out_dir)
    old = [path for path in _siblings(out_dir, "old") if is_owned(path)]
    if old and not out_dir.exists():
        os.rename(old.pop(), out_dir)  # not reachable by the steps above; never leave no tree at all
    for path in old:
        remove_owned(path)


#: Set to 0 to use the ready/old renames even where the exchange works (tests of that path).
EXCHANGE_ENV = "MLKUBE_RENAME_EXCHANGE"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2  # linux/fs.h


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where that is not supported."""
    if not sys.platform.startswith("linux") or os.environ.get(EXCHANGE_ENV) == "0":
        return False
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)  # glibc 2.28+
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # the kernel or this file system cannot exchange: use the ready/old renames
    raise OSError(code, os.strerror(code), str(first))


def _write_all(root: Path, files: Mapping[str, bytes], unchanged: Collection[str] = (), current: Path | None = None) -> None:
    (root / MARKER).write_bytes(MARKER_TEXT)  # first: a killed staging folder is still known as mlkube's
    failpoint("tree:marker")
    for folder in sorted({(root / relative).parent for relative in files}):
        folder.mkdir(parents=True, exist_ok=True)  # once per folder, not once per file
    for index, (relative, data) in enumerate(files.items()):
        if relative == MARKER:
            continue
        # The same bytes as the current tree's file: linked, not written again (same inode and mtime).
        if current is None or relative not in unchanged or not _link(current / relative, root / relative):
            with open(root / relative, "wb") as handle:
                handle.write(data)
        if index == 0:
            failpoint("tree:first-file")


def _link(existing: Path, new: Path) -> bool:
    """Hard-link a file of the current tree into the new one (False where links are not possible: then it is written)."""
    try:
        os.link(existing, new, follow_symlinks=False)
    except OSError:
        return False
    return True


def _cannot_write(out_dir: Path, error: OSError, done: str) -> MlkubeError:
    where = error.filename or out_dir
    return MlkubeError.single(f"could not write {out_dir}: {error.strerror or error} (at {where}); {done}",
                              hint="check permissions and free space, then run again")


def swap_in_tree(out_dir: Path, files: Mapping[str, bytes], unchanged: Collection[str] = ()) -> None:
    """Make ``out_dir`` hold exactly ``files`` and the marker (the steps of the module docstring).

    ``unchanged``: files ``out_dir`` already holds with exactly the bytes given; they are hard-linked
    into the staging tree instead of written (the swap stays the same: the old tree keeps its links)."""
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-", dir=out_dir.parent))
    except OSError as error:
        raise _cannot_write(out_dir, error, f"{out_dir} was not changed") from None
    ident = staging.name.rsplit("-", 1)[-1]
    ready = out_dir.parent / f".{out_dir.name}.ready-{ident}"
    old = out_dir.parent / f".{out_dir.name}.old-{ident}"
    failpoint("tree:staging-created")
    try:
        _write_all(staging, files, unchanged, out_dir if unchanged and out_dir.is_dir() and not out_dir.is_symlink() else None)
        staging.chmod(0o755)
        failpoint("tree:staging-written")
        exchanged = out_dir.is_dir() and _exchange(staging, out_dir)
        if not exchanged:
            os.rename(staging, ready)
    except OSError as error:
        remove_owned(staging)
        raise _cannot_write(out_dir, error, f"{out_dir} was not changed") from None
    if exchanged:
        failpoint("tree:exchanged")
        with contextlib.suppress(OSError):  # the new tree is in place; the next run's recovery removes the rest
            remove_owned(staging)  # now the old tree
        return
    failpoint("tree:ready")
    try:
        if out_dir.exists():
            os.rename(out_dir, old)
            failpoint("tree:old-aside")
        os.rename(ready, out_dir)
        failpoint("tree:swapped")
        remove_owned(old)
    except OSError as error:
        raise _cannot_write(out_dir, error, "the new tree is complete; the next mlkube command on it finishes the swap") from None
