"""``mlkube validate --policy``: run the rules over YAML files and print or write the report."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import click

from ..kube.clusters import cluster_of
from ..kube.loader import LoadedManifest
from ..output import replace_files
from .engine import PolicyReport
from .report import format_text, summary_line
from .sarif import sarif_json

__all__ = ["clusters", "write_policy_report"]


def _cluster_key(manifest: LoadedManifest, roots: Sequence[Path], cache: dict[Path, Path | None]) -> str:
    return cluster_of(manifest.file, roots, cache)


def clusters(manifests: Sequence[LoadedManifest], paths: Sequence[Path]) -> list[list[LoadedManifest]]:
    """Objects grouped by the cluster they go to, for rules that look across objects."""
    roots = [path for path in paths if path.is_dir()]
    groups: dict[str, list[LoadedManifest]] = defaultdict(list)
    cache: dict[Path, Path | None] = {}
    for manifest in manifests:
        groups[_cluster_key(manifest, roots, cache)].append(manifest)
    return [groups[key] for key in sorted(groups)]


def write_policy_report(report: PolicyReport, *, output_format: str, output: Path | None) -> None:
    """Print the report (text or SARIF), or write it to ``output``."""
    text = sarif_json(report) if output_format == "sarif" else format_text(report)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        replace_files({output: text.encode()})
        click.echo(f"{summary_line(report)}; report written to {output}")
    else:
        click.echo(text, nl=False)
