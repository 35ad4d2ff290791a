"""Content-addressed tags: a hash of what goes into the build, so an unchanged image keeps its tag.

The hash covers every file of the build context that the .dockerignore lets through (path,
executable bit, content), the Dockerfile (which names the base and its digest), the
.dockerignore itself and the target platforms. CI can skip building a tag that the registry
already has.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from .dockerignore import IgnoreMatcher

__all__ = ["context_files", "content_tag", "TAG_LENGTH"]

#: Hex digits of the tag: 64 bits, enough that two contents of one image never collide in practice.
TAG_LENGTH = 16


def context_files(context: Path, matcher: IgnoreMatcher) -> Iterator[tuple[str, Path]]:
    """(relative posix path, path) of every file that goes into the build, in a stable order."""
    for folder, folders, files in os.walk(context):
        relative_folder = Path(folder).relative_to(context).as_posix()
        prefix = "" if relative_folder == "." else relative_folder + "/"
        if not matcher.has_exceptions:
            # Nothing can re-include a file below an ignored folder: do not even walk it.
            folders[:] = [name for name in folders if not matcher.ignored(prefix + name)]
        folders.sort()
        # A symbolic link to a folder is copied as a link: hash it like a file, do not follow it.
        links = [name for name in folders if (Path(folder) / name).is_symlink()]
        folders[:] = [name for name in folders if name not in links]
        for name in sorted(files + links):
            relative = prefix + name
            if not matcher.ignored(relative):
                yield relative, Path(folder) / name


def _file_digest(path: Path) -> str:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return "link:" + hashlib.sha256(os.readlink(path).encode()).hexdigest()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return ("x:" if info.st_mode & 0o111 else "f:") + digest.hexdigest()


def content_tag(context: Path, dockerfile: str, dockerignore: str, platforms: Sequence[str]) -> str:
    """The tag of the image built from these inputs (hex, TAG_LENGTH characters)."""
    total = hashlib.sha256()
    for part in ("dockerfile", dockerfile, "dockerignore", dockerignore, "platforms", ",".join(sorted(platforms))):
        total.update(part.encode() + b"\0")
    for relative, path in context_files(context, IgnoreMatcher(dockerignore)):
        total.update(f"{relative}\0{_file_digest(path)}\n".encode())
    return total.hexdigest()[:TAG_LENGTH]
