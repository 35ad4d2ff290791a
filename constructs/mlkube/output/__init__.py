"""Safe writes: only into mlkube's own folders, and whole or not at all, also across a kill.

* ``replace_tree``: make a folder hold exactly some files (synth, ``blueprint schema``);
* ``replace_files(updates, root=FOLDER)``: change files of an output folder together (pin, promote);
* ``replace_files(updates)``: change a few files elsewhere together (init, workflows);
* ``writes_output``: the lock, recovery and ownership check around a command that edits a folder.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path

from .files import replace_files_directly
from .guard import output_lock, recover, writes_output
from .ownership import MARKER, MARKER_TEXT, adopt, check_inside, check_replaceable
from .transaction import replace_files_in
from .tree import swap_in_tree

__all__ = ["replace_tree", "replace_files", "writes_output", "output_lock", "recover", "MARKER", "MARKER_TEXT"]


def replace_tree(out_dir: Path | str, files: Mapping[str, bytes], unchanged: Collection[str] = ()) -> None:
    """Make ``out_dir`` hold exactly ``files`` (relative paths) and the marker, or refuse (exit 2,
    nothing touched) when ``out_dir`` is not mlkube's; crash-safe (see output.tree). ``unchanged``:
    files the current tree already holds with exactly these bytes (linked into the new tree, not written)."""
    out_dir = Path(os.path.abspath(out_dir))
    check_inside(out_dir, files)
    with output_lock(out_dir, create=True):
        recover(out_dir)
        check_replaceable(out_dir, files)
        adopt(out_dir)
        swap_in_tree(out_dir, {**files, MARKER: MARKER_TEXT}, unchanged)


def replace_files(updates: Mapping[Path, bytes], root: Path | None = None) -> None:
    """Replace several files so that either all change or none does (journaled below ``root``)."""
    if root is None:
        replace_files_directly(updates)
    else:
        replace_files_in(root, updates)
