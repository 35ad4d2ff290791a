"""One writer at a time per output folder, and recovery before anything reads it.

Every command that writes an output folder (synth, pin, promote, blueprint schema) holds an
exclusive flock(2) on the folder's parent directory (no lock file is left behind) for its whole
read-compute-write, so two runs cannot interleave, and a run never takes another's staging
folders for leftovers of a killed run. Under the lock it first finishes or undoes what a killed
run left (tree swap and file transactions), so it reads the tree a completed run would have left.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import inspect
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from ..errors import MlkubeError
from .ownership import check_editable
from .transaction import recover_files
from .tree import recover_tree

__all__ = ["output_lock", "recover", "writes_output"]

F = TypeVar("F", bound=Callable[..., Any])

#: Parents this process holds the lock of (flock is per open file: a nested take would wait for itself).
_held: set[str] = set()


@contextmanager
def output_lock(out_dir: Path, *, create: bool) -> Iterator[None]:
    parent = Path(os.path.abspath(out_dir)).parent
    key = str(parent)
    if key in _held:
        yield
        return
    if create:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise MlkubeError.single(f"could not create {parent}: {error.strerror or error}; nothing was written",
                                     where=str(parent), hint="check the path and its permissions") from None
    if not parent.is_dir():
        yield  # nothing to lock: the command reports the missing folder itself
        return
    try:
        descriptor = os.open(parent, os.O_RDONLY)
    except OSError:
        yield  # an unreadable parent: the write reports its own error
        return
    try:
        with contextlib.suppress(OSError):  # a file system without flock (some network mounts): write unlocked, as before
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        _held.add(key)
        yield
    finally:
        _held.discard(key)
        os.close(descriptor)


def recover(out_dir: Path) -> None:
    """Finish or undo the writes of a killed run on ``out_dir`` (call under ``output_lock``)."""
    out_dir = Path(os.path.abspath(out_dir))
    try:
        recover_tree(out_dir)
        if out_dir.is_dir() and not out_dir.is_symlink():
            recover_files(out_dir)
    except OSError as error:
        raise MlkubeError.single(f"could not finish the interrupted write of {out_dir}: {error.strerror or error} "
                                 f"(at {error.filename})", where=str(out_dir),
                                 hint="fix the cause (permissions, free space), then run again") from None


def writes_output(parameter: str, *, replaces: bool = False) -> Callable[[F], F]:
    """Run the decorated command that writes the folder named by its ``parameter`` under the output
    lock, after recovery. A command that edits files (``replaces=False``: pin, promote) runs only
    when the folder is mlkube's (ownership.check_editable); one that replaces the tree checks when
    it knows the new files (output.replace_tree)."""

    def decorate(function: F) -> F:
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            folder = Path(signature.bind(*args, **kwargs).arguments[parameter])
            with output_lock(folder, create=replaces):
                recover(folder)
                if not replaces:
                    check_editable(folder)
                return function(*args, **kwargs)

        return cast(F, wrapper)

    return decorate
