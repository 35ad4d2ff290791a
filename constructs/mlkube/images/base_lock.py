"""Base images locked by digest in the lock's ``"bases"``: ``mlkube images pin-bases``.

A Dockerfile that starts ``FROM python:3.11-slim-bookworm`` builds from whatever that tag names on
the day of the build, so one content tag could stand for two images. Locking the base's digest
makes the Dockerfile (and so the content tag) name the base's bytes; moving to a newer base is a
reviewed change of the lock, after which synth writes new Dockerfiles with new content tags.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..core.image_reference import parse_reference
from ..errors import MlkubeError, Problem
from ..output import replace_files, writes_output
from ..pinning.digests import read_digest_files
from ..pinning.lock import LOCK_FILE, load_lock, lock_path
from ..pinning.registry import RegistryClient, RegistryError
from .build_plan import read_build_matrix

__all__ = ["lock_bases"]


def _bases(dist: Path) -> list[str]:
    """The base reference (tag, no digest) of every built image in images.json."""
    names = set()
    for image in read_build_matrix(dist):
        base = image.get("base") or {}
        if isinstance(base, dict) and isinstance(base.get("reference"), str):
            names.add(base["reference"])
    if not names:
        raise MlkubeError.single(f"{dist}/images.json lists no base images", hint="run mlkube synth first")
    return sorted(names)


def _resolve(bases: list[str], client: RegistryClient) -> dict[str, str]:
    problems: list[Problem] = []
    pairs = {}
    for base in bases:
        parsed = parse_reference(base)
        if parsed is None or not parsed.tag:
            problems.append(Problem("images.json", base, "a base image must be named by tag to be locked"))
        else:
            pairs[base] = (parsed.repository, parsed.tag)
    answers = client.resolve_all(pairs.values())
    found: dict[str, str] = {}
    for base, pair in pairs.items():
        answer = answers[pair]
        if isinstance(answer, RegistryError):
            problems.append(Problem("images.json", base, answer.message, answer.hint))
        else:
            found[base] = answer
    if problems:
        raise MlkubeError(problems, title="cannot lock the base images; the lock is unchanged")
    return found


@writes_output("dist")  # under the output lock, after recovering a killed pin or promote
def lock_bases(dist: Path, client: RegistryClient | None, digest_files: Iterable[Path] = ()) -> str:
    """Write the digest of every base into the lock (all or nothing); a one-line summary."""
    bases = _bases(dist)
    if client is not None:
        found = _resolve(bases, client)
    else:
        given = read_digest_files(digest_files)
        missing = [base for base in bases if base not in given]
        if missing:
            raise MlkubeError([Problem("--digests", base, "no digest given for this base") for base in missing],
                              title="cannot lock the base images; the lock is unchanged")
        found = {base: given[base] for base in bases}
    lock = load_lock(dist)
    changed = {base: digest for base, digest in found.items() if lock.bases.get(base) != digest}
    if not changed:
        return "every base image is locked at its current digest: nothing changed"
    lock.bases.update(changed)
    target = lock_path(dist) if lock_path(dist).parent == dist else dist / LOCK_FILE
    replace_files({target: lock.to_bytes()}, root=target.parent)
    return (f"locked {len(changed)} base image(s) in {target}: {', '.join(sorted(changed))}; "
            "run mlkube synth to write their digests into the Dockerfiles (content tags change)")
