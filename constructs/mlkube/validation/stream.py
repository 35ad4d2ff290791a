"""``mlkube validate`` folder by folder: memory bounded by the largest folder, not the whole tree.

Objects in one folder are deployed together (one Argo CD Application) and cross-object checks look
only inside a folder, so each folder is read (with the YAML nodes kept for line numbers), checked
and dropped before the next is read. Findings are the same as checking the whole tree at once, and
the report is sorted the same way (errors.format_problems). Issue 22: 750 MiB at 20,000 files when
every node of every file was kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import MlkubeError, Problem
from ..loader import LoadedManifest, load_manifests, yaml_files

__all__ = ["validate_by_folder", "GroupCheck"]

#: Checks one folder's objects: (problems, kinds without a schema).
GroupCheck = Callable[[list[LoadedManifest]], tuple[list[Problem], list[str]]]


def validate_by_folder(paths: Iterable[str | Path], check: GroupCheck) -> tuple[list[Problem], list[str], int]:
    """Problems, kinds without a schema and the number of objects; raises MlkubeError listing every file
    that cannot be read (as reading the whole tree first did), whatever folder it is in."""
    folders: dict[Path, list[Path]] = {}
    for file in yaml_files(paths):
        folders.setdefault(file.parent, []).append(file)
    problems: list[Problem] = []
    unreadable: list[Problem] = []
    unknown: set[str] = set()
    count = 0
    for files in folders.values():
        try:
            manifests = load_manifests(files)
        except MlkubeError as error:
            unreadable += error.problems
            continue
        count += len(manifests)
        if not unreadable:  # once a file cannot be read, only reading problems are reported
            found, kinds = check(manifests)
            problems += found
            unknown.update(kinds)
        del manifests  # this folder's objects and nodes go before the next folder is read
    if unreadable:
        raise MlkubeError(unreadable, title="some files could not be read")
    return problems, sorted(unknown), count
