"""Safe writes: only into mlkube's own folders, and whole or not at all, also across a kill.

* ``replace_tree``: make a folder hold exactly some files (``blueprint schema``, chart export);
* ``writing_tree``: the same, with the files written one by one as they are made (synth: no file's bytes held);
* ``replace_files(updates, root=FOLDER)``: change files of an output folder together (pin, promote);
* ``replace_files(updates)``: change a few files elsewhere together (init, workflows);
* ``writes_output``: the lock, recovery and ownership check around a command that edits a folder.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from .files import replace_files_directly
from .guard import output_lock, recover, writes_output
from .ownership import MARKER, MARKER_TEXT, adopt, check_inside, check_replaceable
from .transaction import replace_files_in
from .tree import StagingTree, swap_in_tree

__all__ = ["replace_tree", "writing_tree", "NewTree", "TreeFiles", "replace_files", "writes_output", "output_lock", "recover",
           "MARKER", "MARKER_TEXT"]


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


class NewTree:
    """The tree that replaces an output folder, written file by file (``writing_tree``)."""

    def __init__(self, out_dir: Path, planned: Collection[str]) -> None:
        self.out_dir = out_dir
        self.planned = planned
        self._staging = StagingTree(out_dir)

    def write(self, relative: str, data: bytes) -> None:
        """Write one of the planned files."""
        if relative not in self.planned:
            raise ValueError(f"{relative} is not one of the files planned for {self.out_dir}")  # a programming error
        self._staging.write(relative, data)

    def link(self, relative: str) -> bool:
        """Hard-link one of the planned files from the current tree, which holds exactly its new bytes (False: write it)."""
        if relative not in self.planned:
            raise ValueError(f"{relative} is not one of the files planned for {self.out_dir}")
        return self._staging.link(relative)

    def commit(self, extra: Mapping[str, bytes] | None = None) -> None:
        """Add ``extra`` files (beside the planned ones), check the folder may be replaced, and swap the new tree in.
        Every planned file must have been written or linked."""
        extra = extra or {}
        check_inside(self.out_dir, extra)
        both = _Both(self.planned, extra)
        check_replaceable(self.out_dir, both)
        adopt(self.out_dir)
        for relative, data in extra.items():
            self._staging.write(relative, data)
        self._staging.commit()

    def discard(self) -> None:
        self._staging.discard()


class _Both(Collection[str]):
    """The planned paths and the extra ones, for ``in`` (no copy of a set of 50,000 paths)."""

    def __init__(self, first: Collection[str], second: Collection[str]) -> None:
        self.first, self.second = first, second

    def __contains__(self, item: object) -> bool:
        return item in self.first or item in self.second

    def __iter__(self) -> Iterator[str]:
        yield from self.first
        yield from (path for path in self.second if path not in self.first)

    def __len__(self) -> int:
        return len(self.first) + sum(1 for path in self.second if path not in self.first)


@contextmanager
def writing_tree(out_dir: Path | str, planned: Collection[str]) -> Iterator[NewTree]:
    """Make ``out_dir`` hold exactly the ``planned`` files (relative paths) and the extra files given to
    ``commit``, written one by one as the body makes them (``write``, or ``link`` for a file the current tree
    already holds with the same bytes), so no file's bytes need to be held until the end. Crash-safe as
    ``replace_tree`` (output.tree): the body ends with ``tree.commit(extra)``; leaving it any other way (an
    error, problems found) removes what was written and leaves ``out_dir`` untouched. Refuses (exit 2, nothing
    touched) a path outside ``out_dir`` (at once) or an ``out_dir`` that is not mlkube's (at ``commit``)."""
    out_dir = Path(os.path.abspath(out_dir))
    check_inside(out_dir, planned)
    with output_lock(out_dir, create=True):
        recover(out_dir)
        tree = NewTree(out_dir, planned)
        try:
            yield tree
        except Exception:
            tree.discard()
            raise
        tree.discard()  # not committed (nothing to do after a commit); an interrupt, like a kill, leaves it to recovery


class TreeFiles(Mapping[str, bytes]):
    """The files an output folder was given, read from it on access (``SynthResult.files``): the bytes are not
    held in memory. Reads the folder as it is when read: after another synth into it, the newer files."""

    def __init__(self, out_dir: Path, paths: Collection[str], extra: Collection[str] = ()) -> None:
        self.out_dir = out_dir
        self._paths: Collection[str] = _Both(paths, extra) if extra else paths

    def __getitem__(self, relative: str) -> bytes:
        if relative not in self._paths:
            raise KeyError(relative)
        return (self.out_dir / relative).read_bytes()

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def __contains__(self, relative: object) -> bool:
        return relative in self._paths

    def __repr__(self) -> str:
        return f"TreeFiles({str(self.out_dir)!r}, {len(self)} files)"


def replace_files(updates: Mapping[Path, bytes], root: Path | None = None) -> None:
    """Replace several files so that either all change or none does (journaled below ``root``)."""
    if root is None:
        replace_files_directly(updates)
    else:
        replace_files_in(root, updates)
