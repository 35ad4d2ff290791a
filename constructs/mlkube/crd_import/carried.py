"""The CRD schemas mlkube carries, generated from upstream CRD files (never written by hand).

``bin/crd-schemas`` runs this module on the project's ``../shared/crds`` folder: every CRD file its
``SOURCES.md`` lists is converted exactly as ``mlkube schemas import --compact`` converts it (every
served version of every kind), and ``PROVENANCE.json`` records, for each schema, the upstream
repository, commit and path it came from and the SHA-256 of the CRD file. A test regenerates the
folder and compares it byte for byte wherever ``../shared`` is present.

Usage: ``python -m mlkube.crd_import.carried CRDS_DIR OUT_DIR``
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import MlkubeError
from ..validation.schemas import DEFAULT_KUBERNETES_VERSION
from . import import_crds

__all__ = ["UpstreamFile", "read_sources", "generate", "write", "PROVENANCE"]

PROVENANCE = "PROVENANCE.json"
_PROJECT = re.compile(r"^## (\S+)\s*$")
_REPOSITORY = re.compile(r"^- Upstream repository: (\S+)")
_COMMIT = re.compile(r"^- Commit: `([0-9a-f]{40})`")
_ROW = re.compile(r"^\| `([^`]+\.yaml)` \| `([^`]+)` \|")


@dataclass(frozen=True)
class UpstreamFile:
    """One CRD file of ``SOURCES.md``: where it is under the CRD folder and where it came from."""

    file: str
    project: str
    repository: str
    commit: str
    upstream_path: str


def read_sources(crds_dir: Path) -> list[UpstreamFile]:
    """Every CRD file listed in ``crds_dir/SOURCES.md`` with its project, repository and commit."""
    sources = crds_dir / "SOURCES.md"
    if not sources.is_file():
        raise MlkubeError.single(f"{sources} does not exist", hint="give the folder of upstream CRDs that has SOURCES.md")
    files: list[UpstreamFile] = []
    project = repository = commit = ""
    for line in sources.read_text().splitlines():
        if match := _PROJECT.match(line):
            project, repository, commit = match.group(1), "", ""
        elif match := _REPOSITORY.match(line):
            repository = match.group(1)
        elif match := _COMMIT.match(line):
            commit = match.group(1)
        elif (match := _ROW.match(line)) and project:
            if not (repository and commit):
                raise MlkubeError.single(f"{sources}: project {project} lists {match.group(1)} before its repository and commit")
            files.append(UpstreamFile(match.group(1), project, repository, commit, match.group(2)))
    if not files:
        raise MlkubeError.single(f"{sources} lists no CRD file", hint="rows look like | `project/file.yaml` | `upstream/path.yaml` | ...")
    return files


def generate(crds_dir: Path) -> dict[str, bytes]:
    """Relative path -> content of every carried schema, plus ``PROVENANCE.json``."""
    files: dict[str, bytes] = {}
    provenance: dict[str, dict[str, str]] = {}
    for source in read_sources(crds_dir):
        path = crds_dir / source.file
        schemas = import_crds([path], kubernetes_version=DEFAULT_KUBERNETES_VERSION, compact=True)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        for relative, data in schemas.items():
            if relative in files:
                raise MlkubeError.single(f"{relative} comes from two CRD files ({provenance[relative]['file']} and {source.file})")
            files[relative] = data
            provenance[relative] = {"project": source.project, "repository": source.repository, "commit": source.commit,
                                    "path": source.upstream_path, "file": source.file, "sha256": digest}
    record = {"generator": f"mlkube schemas import --compact --kubernetes-version {DEFAULT_KUBERNETES_VERSION}",
              "schemas": provenance}
    files[PROVENANCE] = (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()
    return files


def write(files: dict[str, bytes], out_dir: Path) -> None:
    """Write the generated files and remove schemas no longer generated (other files are kept)."""
    for stale in out_dir.glob("*/*.json"):
        if str(stale.relative_to(out_dir)) not in files:
            stale.unlink()
    for relative, data in sorted(files.items()):
        target = out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_bytes() != data:
            target.write_bytes(data)
    for folder in out_dir.iterdir():
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    crds_dir, out_dir = Path(argv[0]), Path(argv[1])
    try:
        files = generate(crds_dir)
    except MlkubeError as error:
        print(error, file=sys.stderr)
        return 2
    write(files, out_dir)
    print(f"{len(files) - 1} schemas and {PROVENANCE} written to {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
