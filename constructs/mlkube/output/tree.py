"""Replace an output tree whole, so that a kill at any instant leaves the old or the new tree.

Why this design: ``dist/`` is committed to Git and read by Argo CD and cdk8s as a plain folder, so
it cannot be a symbolic link flipped between generations (Git would commit the link, not the
files). It stays a plain folder, replaced by renames, and the names of the sibling folders are
the journal (a rename is atomic on POSIX, so each state change is a single step):

1. write the new tree into ``.<name>.new-<id>``: the marker first, then every file;
2. rename it to ``.<name>.ready-<id>``: the commit point, from here on the new tree wins;
3. rename ``<name>`` to ``.<name>.old-<id>``;
4. rename ``.<name>.ready-<id>`` to ``<name>``;
5. remove ``.<name>.old-<id>`` (its marker last).

``recover`` (run before every write, under the output lock) finishes or undoes what a killed run
left: a ready tree is swapped in (steps 3-4), an unfinished ``.new-`` tree is removed (the old
tree stays), and old trees are removed once ``<name>`` exists. Between steps 3 and 4 ``<name>`` is
briefly absent; the next mlkube command on it restores it, with no manual step. Only a process
kill is covered: files are not fsynced (a power loss may leave empty files), which would cost a
sync per file on every synth.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
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


def _write_all(root: Path, files: Mapping[str, bytes]) -> None:
    (root / MARKER).write_bytes(MARKER_TEXT)  # first: a killed staging folder is still known as mlkube's
    failpoint("tree:marker")
    for folder in sorted({(root / relative).parent for relative in files}):
        folder.mkdir(parents=True, exist_ok=True)  # once per folder, not once per file
    for index, (relative, data) in enumerate(files.items()):
        if relative == MARKER:
            continue
        with open(root / relative, "wb") as handle:
            handle.write(data)
        if index == 0:
            failpoint("tree:first-file")


def _cannot_write(out_dir: Path, error: OSError, done: str) -> MlkubeError:
    where = error.filename or out_dir
    return MlkubeError.single(f"could not write {out_dir}: {error.strerror or error} (at {where}); {done}",
                              where=str(out_dir), hint="check permissions and free space, then run again")


def swap_in_tree(out_dir: Path, files: Mapping[str, bytes]) -> None:
    """Make ``out_dir`` hold exactly ``files`` and the marker (steps 1-5 of the module docstring)."""
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
        _write_all(staging, files)
        staging.chmod(0o755)
        failpoint("tree:staging-written")
        os.rename(staging, ready)
    except OSError as error:
        remove_owned(staging)
        raise _cannot_write(out_dir, error, f"{out_dir} was not changed") from None
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
