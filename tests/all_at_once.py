"""The reference ``mlkube validate`` is tested against: every object in memory at once.

``mlkube validate`` streams (``mlkube.validation.files``: one file, or with --policy one cluster, at a
time); its findings must equal what checking all objects together finds.
"""

from __future__ import annotations

from pathlib import Path

from mlkube.errors import Problem
from mlkube.kube.loader import LoadedManifest
from mlkube.policy.cli import clusters
from mlkube.validation import SchemaCatalog, check_cross_object
from mlkube.validation.cross_object import partner_problems
from mlkube.validation.files import located_problem, schema_problems


def validate_manifests(manifests: list[LoadedManifest], catalog: SchemaCatalog, paths: tuple[Path, ...] = (),
                       cross_object: str = "error") -> tuple[list[Problem], list[str], list[Problem]]:
    """Problems of the objects, the kinds that have no schema (reported, not errors), and warnings
    (partner checks with ``cross_object="warn"``), with every object in memory."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    unknown: set[str] = set()
    for manifest in manifests:
        problems += schema_problems(manifest, catalog, unknown)
    # The files given are deployed together, one cluster per environment folder of a config repo
    # (dist/<env>/...): partners are looked for among them. A partial set relaxes that with --cross-object.
    for group in clusters(manifests, list(paths)):
        located = {m.where: m for m in group}
        found = [(problem, problems) for problem in check_cross_object(group, partners=False)]
        if cross_object != "off":
            found += [(problem, warnings if cross_object == "warn" else problems) for problem in partner_problems(group)]
        for problem, into in found:
            into.append(located_problem(problem, located.get(problem.where)))
    return problems, sorted(unknown), warnings
