"""``mlkube validate --policy``: run the rules over YAML files and print or write the report."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import click

from ..gitops.argocd import ARGOCD_FOLDER
from ..kube.loader import LoadedManifest
from ..output import replace_files
from .engine import PolicyReport, check_policy
from .model import PolicySettings
from .report import format_text, summary_line
from .sarif import sarif_json

__all__ = ["clusters", "run_policy_check"]


def _environment_folder(file: Path) -> Path | None:
    """The nearest folder above ``file`` that holds an ``_argocd`` folder: an environment of a config repo."""
    for folder in file.parents:
        if (folder / ARGOCD_FOLDER).is_dir():
            return folder
    return None


def _cluster_key(manifest: LoadedManifest, roots: Sequence[Path], cache: dict[Path, Path | None]) -> str:
    """The environment folder of a config repo (``dist/<environment>/<app>/x.yaml``, recognised by its
    ``_argocd`` folder at any depth, or by the layout under a folder given), else one cluster."""
    file = Path(manifest.file).absolute()
    if file.parent not in cache:
        cache[file.parent] = _environment_folder(file)
    if cache[file.parent] is not None:
        return str(cache[file.parent])
    for root in roots:
        try:
            parts = file.relative_to(root.absolute()).parts
        except ValueError:
            continue
        if len(parts) >= 3:
            return f"{root}/{parts[0]}"
    return ""


def clusters(manifests: Sequence[LoadedManifest], paths: Sequence[Path]) -> list[list[LoadedManifest]]:
    """Objects grouped by the cluster they go to, for rules that look across objects."""
    roots = [path for path in paths if path.is_dir()]
    groups: dict[str, list[LoadedManifest]] = defaultdict(list)
    cache: dict[Path, Path | None] = {}
    for manifest in manifests:
        groups[_cluster_key(manifest, roots, cache)].append(manifest)
    return [groups[key] for key in sorted(groups)]


def run_policy_check(manifests: Sequence[LoadedManifest], paths: Sequence[Path], *, output_format: str,
                     output: Path | None, settings: PolicySettings) -> PolicyReport:
    """Check every object, print (or write) the report, and return it."""
    report = PolicyReport()
    for group in clusters(manifests, paths):
        report.extend(check_policy(group, settings))
    text = sarif_json(report) if output_format == "sarif" else format_text(report)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        replace_files({output: text.encode()})
        click.echo(f"{summary_line(report)}; report written to {output}")
    else:
        click.echo(text, nl=False)
    return report
