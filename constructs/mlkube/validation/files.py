"""``mlkube validate`` over files, streamed: one file's objects in memory at a time (issue 22).

Files are grouped by the cluster they go to (an environment folder of a config repo: the grouping of
``mlkube.kube.clusters``), and each file is read, checked and dropped: its objects and YAML nodes live
only while the file is checked. What the checks across objects need of the earlier files stays in a
``CrossObjectIndex`` per cluster (identities, pod labels, scale targets and the selectors of Services,
PDBs and HPAs), not the objects. Partner problems are known when a cluster's last file is read: only
the files they name are read again, for the line of the field. Findings and messages are those of
checking all objects at once (tests/all_at_once.py, tests/test_file_validation.py).

``--policy`` and ``--connectivity`` look across the objects of a cluster: for them a cluster's objects
are kept until the cluster is validated, then handed over and dropped (``use_cluster``).
"""

from __future__ import annotations

import gc
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Problem
from ..kube.clusters import cluster_of
from ..kube.loader import LoadedManifest, ReadLimits, listed_files, read_file
from .cross_object import PARTNER_KINDS, CrossObjectIndex
from .schemas import SchemaCatalog

__all__ = ["ClusterUse", "FileReport", "validate_files", "located_problem"]

#: Called with one cluster's objects once they are validated (``--policy`` and ``--connectivity`` look across them).
ClusterUse = Callable[[list[LoadedManifest], "FileReport"], None]

_MAX_MESSAGE = 300


@dataclass
class FileReport:
    """What validating files found: problems, files that could not be read, kinds without a schema,
    warnings (partner checks with ``cross_object="warn"``) and how many objects were checked."""

    problems: list[Problem] = field(default_factory=list)
    unreadable: list[Problem] = field(default_factory=list)
    unknown: set[str] = field(default_factory=set)
    warnings: list[Problem] = field(default_factory=list)
    objects: int = 0


def bounded(message: str) -> str:
    """Messages quote values (selectors, names); an alias-expanded one must never come back whole."""
    return message if len(message) <= _MAX_MESSAGE else message[:_MAX_MESSAGE] + "... (shortened)"


def located_problem(problem: Problem, manifest: LoadedManifest | None) -> Problem:
    """A cross-object problem at the file and line of its field (and the List item it is in)."""
    if manifest is None:
        return Problem(problem.where, problem.field, bounded(problem.message), problem.hint)
    message = f"{manifest.describe()}: {problem.message}" if manifest.parent else problem.message
    return Problem(f"{manifest.file}:{manifest.line_of(problem.field)}", problem.field, bounded(message), problem.hint)


def schema_problems(manifest: LoadedManifest, catalog: SchemaCatalog, unknown: set[str]) -> list[Problem]:
    """The object's problems against its strict schema; a kind without one is noted in ``unknown``."""
    api_version, kind = str(manifest.obj.get("apiVersion")), str(manifest.obj.get("kind"))
    if not catalog.settings.strict_unknown_kinds and not catalog.has_schema(api_version, kind):
        unknown.add(f"{manifest.obj.get('kind')} ({manifest.obj.get('apiVersion')})")
    return [Problem(f"{manifest.file}:{manifest.line_of(issue.field)}", issue.field, f"{manifest.describe()}: {issue.message}")
            for issue in catalog.validate(manifest.obj)]


def validate_files(paths: Sequence[Path], catalog: SchemaCatalog, cross_object: str = "error",
                   use_cluster: ClusterUse | None = None) -> FileReport:
    """Validate every object of every YAML file under ``paths``, cluster by cluster, file by file.

    With ``use_cluster``, a cluster's objects are kept until the cluster is validated, then handed to it and
    dropped: memory is bounded by the largest cluster (one environment of a config repo), not by all of them.
    """
    report = FileReport()
    files, report.unreadable = listed_files(paths)
    limits = streamed_limits()
    thresholds = gc.get_threshold()
    # Each file's nodes and dicts die by reference counting when the next file is read; the collector's
    # default passes (every 700 allocations) cost about 15% here, scanning the long-lived schemas.
    gc.set_threshold(max(thresholds[0], 20_000), *thresholds[1:])
    try:
        for cluster in file_clusters(files, paths):
            # Holding a cluster's objects, the command-wide bounds of reading apply to each cluster.
            _validate_cluster(cluster, catalog, cross_object, limits if use_cluster is None else ReadLimits(), report, use_cluster)
    finally:
        gc.set_threshold(*thresholds)
    return report


def streamed_limits() -> ReadLimits:
    """The bounds of a streamed command: each file's as always, but no command-wide bound on values and
    characters, which bounded the memory of holding every object; here one file is held at a time (at
    50,000 objects the 4,000,000 values of all files were refused). Documents stay bounded: the index
    keeps a little of each."""
    return ReadLimits(command_values=sys.maxsize, command_characters=sys.maxsize)


def file_clusters(files: list[Path], paths: Sequence[Path]) -> list[list[Path]]:
    """Files grouped by the cluster their objects go to (``mlkube.kube.clusters.cluster_of``), in a stable order."""
    roots = [path for path in paths if path.is_dir()]
    groups: dict[str, list[Path]] = defaultdict(list)
    cache: dict[Path, Path | None] = {}
    by_folder: dict[Path, str] = {}  # a file's cluster depends on its folder only
    for file in files:
        if file.parent not in by_folder:
            by_folder[file.parent] = cluster_of(str(file), roots, cache)
        groups[by_folder[file.parent]].append(file)
    return [groups[key] for key in sorted(groups)]


def _validate_cluster(files: list[Path], catalog: SchemaCatalog, cross_object: str, limits: ReadLimits,
                      report: FileReport, use_cluster: ClusterUse | None = None) -> None:
    index = CrossObjectIndex()
    file_of: dict[str, Path] = {}  # where -> file, of the objects that partner checks may name
    kept: list[LoadedManifest] = []
    for path in files:
        manifests, unreadable = read_file(path, limits)
        report.unreadable += unreadable
        report.objects += len(manifests)
        for manifest in manifests:
            report.problems += schema_problems(manifest, catalog, report.unknown)
            report.problems += [located_problem(problem, manifest) for problem in index.add(manifest)]
            if manifest.kind in PARTNER_KINDS:
                file_of[manifest.where] = path
        if use_cluster is not None:
            kept += manifests
    if cross_object != "off":
        into = report.warnings if cross_object == "warn" else report.problems
        into += _located_again(index.partner_problems(), file_of)
    if use_cluster is not None:
        use_cluster(kept, report)


def _located_again(problems: list[Problem], file_of: dict[str, Path]) -> list[Problem]:
    """Partner problems at their file and line: the files they name are read again (objects of earlier
    files are not kept), each once."""
    by_file: dict[Path, list[Problem]] = defaultdict(list)
    for problem in problems:
        by_file[file_of[problem.where]].append(problem)
    located: list[Problem] = []
    for path, found in by_file.items():
        manifests, _ = read_file(path, ReadLimits())
        where = {manifest.where: manifest for manifest in manifests}
        located += [located_problem(problem, where.get(problem.where)) for problem in found]
    return located
