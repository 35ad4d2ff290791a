"""One side of a diff: the files of a config repo from a folder or a git revision, and their objects.

A git side is listed with ``git ls-tree`` and read with one ``git cat-file --batch``: nothing is
checked out, so a dirty work tree or another branch does not matter. Each file is known by its git
blob id (computed for a folder), so files that are the same on both sides need not be parsed at
all, and equal contents are parsed once (``ParseCache``).

Layout: ``<root>/<environment>/<app>/**/*.yaml``; the environment and app of an object come from
its folder. Top-level files (``images.json``, ``images.lock.json``) and the ``images/`` folder of
Dockerfiles are not manifests.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import MlkubeError, Problem
from ..kube.loader import FastLoader, construct
from ..kube.manifest import object_key

__all__ = ["Located", "Tree", "Side", "ParseCache", "read_tree", "load_objects", "read_side", "layout_parts",
           "LOCK_FILE", "NON_MANIFEST_FOLDERS", "MatchKey"]


LOCK_FILE = "images.lock.json"
#: The build matrix: what CI builds after merge (only the references the lock has no digest for yet).
IMAGES_MANIFEST = "images.json"
#: Top-level folders of a config repo that hold no manifests (image build contexts).
NON_MANIFEST_FOLDERS = frozenset({"images"})
_YAML_SUFFIXES = (".yaml", ".yml")

#: (environment, group, kind, namespace, name): how an object is matched across the two sides.
MatchKey = tuple[str, str, str, str, str]
#: Parsed documents by git blob id: (start line, document) per YAML document.
ParseCache = dict[str, list[tuple[int, Any]]]


@dataclass(frozen=True)
class Located:
    """An object and where it sits in the config repo (``file`` is relative to the side's root)."""

    obj: dict[str, Any]
    environment: str
    app: str
    file: str
    line: int

    @property
    def match_key(self) -> MatchKey:
        return (self.environment, *object_key(self.obj))


@dataclass
class Tree:
    """The manifest files of one side, not parsed yet.

    ``files`` maps a path relative to the root to its git blob id (computed for a folder's files),
    so equal ids mean equal bytes, on either kind of side. ``fetch`` returns the bytes of paths.
    """

    label: str
    files: dict[str, str]
    fetch: Callable[[list[str]], list[bytes]]
    #: environment -> image digest -> source revision, from ``images.lock.json`` (empty when absent).
    revisions: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: ``name: reference (environment)`` of every image in images.json that the lock has no digest for.
    builds: list[str] = field(default_factory=list)


@dataclass
class Side:
    """The objects read so far from one side, by match key, with the lock's source revisions."""

    label: str
    objects: dict[MatchKey, Located] = field(default_factory=dict)
    revisions: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    builds: list[str] = field(default_factory=list)

    def revision_of(self, environment: str, digest: str) -> str | None:
        """The source revision the lock records for ``digest``, preferring the object's environment."""
        if digest in self.revisions.get(environment, {}):
            return self.revisions[environment][digest]
        for name in sorted(self.revisions):
            if digest in self.revisions[name]:
                return self.revisions[name][digest]
        return None


def read_tree(spec: str, repo: Path, *, role: str = "side") -> Tree:
    """List ``spec``: an existing folder, else a git revision ``REV`` or ``REV:PATH`` of ``repo``."""
    path = Path(spec)
    if path.is_dir():
        tree = _folder_tree(spec, path)
    elif path.exists():
        raise MlkubeError.single(f"{role} {spec!r} is a file, not a folder of the config repo",
                                 hint="give the config repo's folder (e.g. dist) or a git revision (e.g. main:dist)")
    else:
        revision, _, inside = spec.partition(":")
        tree = _git_tree(repo, revision, inside.strip("/"), spec, role)
    return tree


def read_side(spec: str, repo: Path, cache: ParseCache | None = None, *, role: str = "side") -> Side:
    """Every object of ``spec`` (see ``read_tree``)."""
    tree = read_tree(spec, repo, role=role)
    side = Side(tree.label, revisions=tree.revisions, notes=list(tree.notes), builds=list(tree.builds))
    load_objects(tree, sorted(tree.files), side, {} if cache is None else cache)
    return side


def layout_parts(relative: str) -> tuple[str, str] | None:
    """(environment, app) of a file under the root, or None when it is not a manifest location."""
    parts = relative.split("/")
    if len(parts) < 2 or parts[0] in NON_MANIFEST_FOLDERS or any(part.startswith(".") for part in parts):
        return None
    if not parts[-1].endswith(_YAML_SUFFIXES):
        return None
    # A file directly in an environment folder belongs to no app ("").
    return parts[0], parts[1] if len(parts) > 2 else ""


# -- folders ----------------------------------------------------------------------------------------

def _walk(directory: str, relative: str, found: dict[str, bytes]) -> None:
    with os.scandir(directory) as entries:
        for entry in sorted(entries, key=lambda item: item.name):
            if entry.name.startswith("."):
                continue
            path = f"{relative}/{entry.name}" if relative else entry.name
            if entry.is_dir(follow_symlinks=False):
                if relative or entry.name not in NON_MANIFEST_FOLDERS:
                    _walk(entry.path, path, found)
            elif (path in (LOCK_FILE, IMAGES_MANIFEST) or layout_parts(path) is not None) and entry.is_file():
                try:
                    with open(entry.path, "rb") as handle:
                        found[path] = handle.read()
                except OSError as error:
                    raise MlkubeError.single(f"cannot read {entry.path}: {error.strerror or error}") from None


def blob_id(data: bytes) -> str:
    """The git blob id of ``data``: a folder's files compare equal to a revision's without parsing."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _folder_tree(label: str, root: Path) -> Tree:
    found: dict[str, bytes] = {}
    _walk(str(root), "", found)
    tree = Tree(label, {path: blob_id(data) for path, data in found.items()}, lambda paths: [found[path] for path in paths])
    _take_lock(tree)
    return tree


# -- git revisions ----------------------------------------------------------------------------------

def _git(repo: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(repo), *args], input=stdin, capture_output=True, check=False)


def _git_tree(repo: Path, revision: str, inside: str, spec: str, role: str) -> Tree:
    hint = "give an existing folder, or a revision of the git repository (--repo) such as main, HEAD~1 or main:dist"
    if not revision or _git(repo, "rev-parse", "--git-dir").returncode != 0:
        raise MlkubeError.single(f"{role} {spec!r} is not a folder, and {repo} is not a git repository to read it as a revision",
                                 hint=hint)
    resolved = _git(repo, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    if resolved.returncode != 0:
        raise MlkubeError.single(f"{role} {spec!r} is neither a folder nor a revision of the git repository {repo}", hint=hint)
    commit = resolved.stdout.decode().strip()
    if inside and _git(repo, "cat-file", "-t", f"{commit}:{inside}").stdout.strip() != b"tree":
        raise MlkubeError.single(f"{role} {spec!r}: revision {revision} has no folder {inside!r}",
                                 hint="the PATH after the colon is relative to the repository root, as in git show REV:PATH")
    listing = _git(repo, "ls-tree", "-r", "-z", "--full-tree", commit, "--", *([inside] if inside else []))
    if listing.returncode != 0:
        raise MlkubeError.single(f"git ls-tree {commit} failed: {listing.stderr.decode().strip()}")
    prefix = f"{inside}/" if inside else ""
    files: dict[str, str] = {}
    for entry in listing.stdout.split(b"\0"):
        meta, _, name = entry.decode().partition("\t")
        if not name:
            continue
        _mode, kind, oid = meta.split()
        relative = name[len(prefix):]
        if kind == "blob" and (relative in (LOCK_FILE, IMAGES_MANIFEST) or layout_parts(relative) is not None):
            files[relative] = oid
    tree = Tree(f"{spec} ({commit[:12]})", files, lambda paths: _cat_files(repo, [files[path] for path in paths]))
    _take_lock(tree)
    return tree


def _cat_files(repo: Path, oids: list[str]) -> list[bytes]:
    """The contents of blobs, with one ``git cat-file --batch`` (``<oid> <type> <size>\\n<bytes>\\n`` each)."""
    if not oids:
        return []
    batch = _git(repo, "cat-file", "--batch", stdin="".join(f"{oid}\n" for oid in oids).encode())
    if batch.returncode != 0:
        raise MlkubeError.single(f"git cat-file failed: {batch.stderr.decode().strip()}")
    output, position, contents = batch.stdout, 0, []
    while position < len(output):
        header_end = output.index(b"\n", position)
        size = int(output[position:header_end].split()[2])
        contents.append(output[header_end + 1: header_end + 1 + size])
        position = header_end + 1 + size + 1
    return contents


# -- lock file --------------------------------------------------------------------------------------

def _take_lock(tree: Tree) -> None:
    """Move the lock file (into ``tree.revisions``) and images.json (into ``tree.builds``) out of the manifest files."""
    lock: Any = {}
    if LOCK_FILE in tree.files:
        (data,) = tree.fetch([LOCK_FILE])
        del tree.files[LOCK_FILE]
        tree.revisions = _lock_revisions(data, tree.label, tree.notes)
        try:
            lock = json.loads(data)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python's JSON decoder goes
            lock = {}
    if IMAGES_MANIFEST in tree.files:
        (data,) = tree.fetch([IMAGES_MANIFEST])
        del tree.files[IMAGES_MANIFEST]
        tree.builds = _builds(data, lock)


def _builds(data: bytes, lock: Any) -> list[str]:
    """Images of the build matrix whose reference the lock does not pin yet: what CI builds after merge."""
    try:
        images = json.loads(data).get("images") or []
        locked = {(env, entry.get("repository"), entry.get("tag")) for env, content in (lock.get("environments") or {}).items()
                  for entry in ((content or {}).get("images") or {}).values()}
        found = []
        for image in images:
            for env, reference in sorted((image.get("references") or {}).items()):
                repository, _, tag = str(reference).rpartition(":")
                if (env, repository, tag) not in locked:
                    found.append(f"{image.get('name')}: {reference} ({env})")
        return found
    except (ValueError, AttributeError, TypeError, RecursionError):
        return []


def _lock_revisions(data: bytes, label: str, notes: list[str]) -> dict[str, dict[str, str]]:
    """environment -> digest -> source revision; a malformed lock is noted and ignored, never fatal."""
    try:
        lock = json.loads(data)
        index: dict[str, dict[str, str]] = {}
        for environment, content in (lock.get("environments") or {}).items():
            for entry in ((content or {}).get("images") or {}).values():
                digest, revision = entry.get("digest"), (entry.get("source") or {}).get("revision")
                if isinstance(digest, str) and isinstance(revision, str) and revision:
                    index.setdefault(str(environment), {})[digest] = revision
        return index
    except (ValueError, AttributeError, TypeError, RecursionError):
        notes.append(f"{label}: {LOCK_FILE} is not in the expected shape; source revisions are not shown")
        return {}


# -- parsing ----------------------------------------------------------------------------------------

def _documents(data: bytes) -> list[tuple[int, Any]]:
    loader = FastLoader(data)
    try:
        documents = []
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # check_node() said a document follows
                break
            documents.append((node.start_mark.line + 1, construct(node, loader)))
        return documents
    finally:
        loader.dispose()


def _is_object(document: Any) -> bool:
    return (isinstance(document, dict) and bool(document.get("kind")) and bool(document.get("apiVersion"))
            and isinstance(document.get("metadata"), dict) and bool(document["metadata"].get("name")))


def load_objects(tree: Tree, paths: Iterable[str], side: Side, cache: ParseCache) -> None:
    """Parse the files at ``paths`` into ``side.objects``; raises MlkubeError (exit 2) listing every bad file."""
    paths = list(paths)
    missing = [path for path in paths if tree.files[path] not in cache]
    contents = dict(zip(missing, tree.fetch(missing), strict=True))
    problems: list[Problem] = []
    for relative in paths:
        blob = tree.files[relative]
        if blob not in cache:
            try:
                cache[blob] = _documents(contents[relative])
            except yaml.YAMLError as error:
                mark = getattr(error, "problem_mark", None)
                where = f"{relative}:{mark.line + 1}:{mark.column + 1}" if mark else relative
                problems.append(Problem(where, "", f"not valid YAML: {getattr(error, 'problem', None) or error}"))
                continue
        environment, app = layout_parts(relative) or ("", "")
        for line, document in cache[blob]:
            if document is None:
                continue
            if not _is_object(document):
                side.notes.append(f"{tree.label}: {relative}:{line} is not a Kubernetes object "
                                  "(no apiVersion, kind or metadata.name); ignored")
                continue
            located = Located(document, environment, app, relative, line)
            first = side.objects.setdefault(located.match_key, located)
            if first is not located:
                problems.append(Problem(f"{relative}:{line}", "metadata.name",
                                        f"{document['kind']} {document['metadata']['name']!r} is also defined at {first.file}:{first.line}",
                                        "an object may appear once per environment; remove one of them"))
    if problems:
        raise MlkubeError(problems, title=f"{tree.label}: the config repo cannot be read")
