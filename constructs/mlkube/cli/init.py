"""``mlkube init DIR``: write a complete, working config repo (blueprint, tests, snapshots, dist/, CI)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import MlkubeError
from ..output import replace_files
from . import handle_errors
from .starter import starter_files

__all__ = ["command", "init_repo"]

#: Entries that do not make a folder "non-empty": a fresh `git init` is the usual start.
_IGNORED_ENTRIES = {".git"}


def _in_the_way(folder: Path, files: dict[str, bytes]) -> list[str]:
    """Paths where a starter file goes but a folder exists, or a starter folder goes but a file exists."""
    blocked: set[str] = set()
    for relative in files:
        if (folder / relative).is_dir():
            blocked.add(relative)
        for parent in Path(relative).parents[:-1]:
            if (folder / parent).exists() and not (folder / parent).is_dir():
                blocked.add(parent.as_posix())
    return sorted(blocked)


def _check_target(folder: Path, files: dict[str, bytes], allow_non_empty: bool, force: bool) -> None:
    """Refuse (exit 2, nothing written) a file in the way, a non-empty folder, or files to overwrite."""
    if folder.exists() and not folder.is_dir():
        raise MlkubeError.single(f"{folder} exists and is not a folder", where=str(folder), hint="give the path of a new or empty folder")
    if not folder.exists():
        return
    present = sorted(entry.name for entry in folder.iterdir() if entry.name not in _IGNORED_ENTRIES)
    if present and not allow_non_empty:
        shown = ", ".join(present[:8]) + (", ..." if len(present) > 8 else "")
        raise MlkubeError.single(
            f"{folder} is not empty ({len(present)} entr{'ies' if len(present) != 1 else 'y'}: {shown}); nothing was written",
            where=str(folder), hint="choose a new or empty folder, or pass --allow-non-empty to add the starter files beside them")
    blocked = _in_the_way(folder, files)
    if blocked:
        raise MlkubeError.single(f"in the way of the starter files (a folder where a file goes, or a file where a folder goes): "
                                 f"{', '.join(blocked)}; nothing was written", where=str(folder), hint="move them away first")
    existing = [path for path in files if (folder / path).exists()]
    if existing and not force:
        raise MlkubeError.single(
            f"{len(existing)} file{'s' if len(existing) != 1 else ''} would be overwritten: {', '.join(existing)}; nothing was written",
            where=str(folder), hint="pass --force to overwrite them, or move them away first")


def _write_all(folder: Path, files: dict[str, bytes]) -> None:
    """All files or none: the missing folders are created first and removed again if writing fails."""
    created: list[Path] = []
    for parent in sorted({(folder / path).parent for path in files}, key=lambda p: len(p.parts)):
        for directory in reversed([parent, *parent.parents]):
            if not directory.exists():
                directory.mkdir()
                created.append(directory)
    try:
        replace_files({folder / path: data for path, data in files.items()})
    except MlkubeError:
        for directory in reversed(created):
            directory.rmdir()
        raise


def init_repo(folder: Path, *, allow_non_empty: bool = False, force: bool = False) -> list[str]:
    """Write a new config repo into ``folder``; returns the relative paths written."""
    files = starter_files(folder)
    _check_target(folder, files, allow_non_empty, force)
    _write_all(folder, files)
    return list(files)


@click.command("init")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--allow-non-empty", is_flag=True, help="Write into a folder that already holds files (keeps them unless --force).")
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@handle_errors
def command(folder: Path, allow_non_empty: bool, force: bool) -> None:
    """Write a config repo into FOLDER: blueprint, tests with snapshots, dist/, CI, README.

    The example in apps/main.py is compiled into dist/ and snapshotted, so `mlkube synth` leaves it
    unchanged and `pytest` passes at once. FOLDER must be new or empty (a .git folder is fine).
    """
    written = init_repo(folder, allow_non_empty=allow_non_empty, force=force)
    click.echo(f"mlkube: wrote {len(written)} files into {folder}/")
    for path in written:
        if not path.startswith(("dist/", "tests/__snapshots__/")):
            click.echo(f"  {path}")
    click.echo("  dist/ and tests/__snapshots__/ (the example, compiled and snapshotted)")
    click.echo(f"\nNext: cd {folder} && python3 -m venv .venv && .venv/bin/pip install -e '.[dev]'\n"
               "      then `mlkube synth` and `pytest` (see its README.md)")
